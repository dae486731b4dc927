package walletsync_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// encryptedReplica is a replica whose walletd runs -encrypted on a wallet
// file walletd-init wrote encrypted, kept unlocked by an Unlocker.
type encryptedReplica struct {
	*replica
	unlocker *walletd.Unlocker
	unlogs   *syncBuffer
}

func newEncryptedReplica(t *testing.T, key *keystore.SealKey, pod string, pass walletd.Secret, createKeystore bool) *encryptedReplica {
	t.Helper()
	path := walletPath(t, pod)
	if _, err := walletsync.InitWalletEncrypted(context.Background(), newStore(t, key), path, createKeystore, pass); err != nil {
		t.Fatalf("walletd-init %s: %v", pod, err)
	}
	w := startWalletd(t, path, "-encrypted")
	if _, err := w.client.WalletBackup(context.Background()); !isLocked(err) {
		t.Fatalf("%s: an encrypted walletd answered wallet-backup before it was unlocked: %v", pod, err)
	}
	logs := &syncBuffer{}
	u := walletd.NewUnlocker(w.client, pass, walletd.UnlockOptions{Check: 100 * time.Millisecond, For: time.Minute}, zerolog.New(logs).With().Str("pod", pod).Logger())
	if res := u.Ready(); res.OK || res.Reason != walletd.ReasonLocked {
		t.Fatalf("%s: unlocker ready before it unlocked: %+v", pod, res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitUnlocked(t, u)
	return &encryptedReplica{replica: newReplica(t, pod, key, w), unlocker: u, unlogs: logs}
}

func isLocked(err error) bool {
	var e *walletd.Error
	return errors.As(err, &e) && e.Code == walletd.CodeLocked
}

func waitUnlocked(t *testing.T, u *walletd.Unlocker) {
	t.Helper()
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		res := u.Ready()
		return res.OK, fmt.Errorf("still %s: %v", res.Reason, res.Fields)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestEncryptedReplicas runs three walletd -encrypted replicas: walletd-init
// writes each encrypted wallet file, the Unlocker unlocks walletd (and
// again after a restart, which locks it), the keystore replicates, a
// failover promotes a follower, and no address is handed out twice. A
// wrong passphrase leaves walletd locked and the verdict not ready with
// reason walletd_locked. The passphrase appears in no log, Event, error or
// walletd output.
func TestEncryptedReplicas(t *testing.T) {
	key := freshKeystore(t)
	ctx := context.Background()
	const pass = walletd.Secret("a passphrase only walletd and the sidecar know")
	seen := &secrets{}
	seen.add(pass.Reveal())
	seen.AddKey(testKeyBytes[key])

	leader := newEncryptedReplica(t, key, testPods[0], pass, true)
	if err := leader.r.Promote(ctx, 1); err != nil {
		t.Fatalf("promote: %v", err)
	}
	reps := []*encryptedReplica{leader, newEncryptedReplica(t, key, testPods[1], pass, false), newEncryptedReplica(t, key, testPods[2], pass, false)}
	for _, f := range reps[1:] {
		f.follow(t)
	}
	b, err := leader.w.client.WalletBackup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen.addBackup(b)

	handed := map[string]bool{}
	generate := func(rep *encryptedReplica, term int64, n int) {
		t.Helper()
		for range n {
			for _, m := range []string{walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateECAddress} {
				res, err := write(t, rep.replica, term, m, nil)
				if err != nil {
					t.Fatalf("%s under term %d: %v", m, term, err)
				}
				k := generated(t, res)
				seen.addKeys(k)
				if handed[k.Public] {
					t.Fatalf("%s handed out twice", k.Public)
				}
				handed[k.Public] = true
			}
		}
	}
	generate(leader, 1, 3)
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, inSync(reps[1].replica, reps[2].replica)); err != nil {
		t.Fatal(err)
	}

	// A restarted walletd starts locked: the unlocker notices and unlocks
	// it, and the follower catches up with what it missed.
	f := reps[2]
	f.w.proc.Stop(5 * time.Second)
	generate(leader, 1, 1)
	f.w.start(t)
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		return strings.Contains(f.unlogs.String(), `"event":"walletd_locked"`), errors.New("the unlocker did not see the restarted walletd locked")
	}); err != nil {
		t.Fatal(err)
	}
	waitUnlocked(t, f.unlocker)
	waitApplied(t, f.replica, leader.r.AppliedGeneration())

	// Failover: the old leader follows, follower 1 leads under term 2.
	leader.r.Demote()
	leader.follow(t)
	next := reps[1]
	if err := next.r.Promote(ctx, 2); err != nil {
		t.Fatalf("promote the follower: %v", err)
	}
	generate(next, 2, 3)
	for _, rep := range []*encryptedReplica{leader, reps[2]} {
		waitApplied(t, rep.replica, next.r.AppliedGeneration())
		_, keys := keySet(t, rep.w)
		held := map[string]bool{}
		for _, p := range publics(keys) {
			held[p] = true
		}
		for p := range handed {
			if !held[p] {
				t.Errorf("%s lacks %s", rep.name, p)
			}
		}
	}

	// A wrong passphrase: walletd stays locked, the verdict says so.
	path := walletPath(t, "wrong-passphrase")
	if _, err := walletsync.InitWalletEncrypted(ctx, newStore(t, key), path, false, pass); err != nil {
		t.Fatal(err)
	}
	w := startWalletd(t, path, "-encrypted")
	wrongLogs := &syncBuffer{}
	wrong := walletd.NewUnlocker(w.client, "not the passphrase", walletd.UnlockOptions{}, zerolog.New(wrongLogs))
	wrong.Step(ctx)
	res := wrong.Ready()
	if res.OK || res.Reason != walletd.ReasonLocked || !strings.Contains(fmt.Sprint(res.Fields["walletdUnlockError"]), "Incorrect passphrase") {
		t.Errorf("a wrong passphrase: %+v", res)
	}
	if _, err := w.client.WalletBackup(ctx); !isLocked(err) {
		t.Errorf("walletd unlocked by a wrong passphrase: %v", err)
	}
	seen.add("not the passphrase")
	seen.check(t, "wrong-passphrase unlocker logs", wrongLogs.String())
	seen.check(t, "wrong-passphrase walletd output", w.proc.Logs())
	for _, rep := range reps {
		seen.check(t, rep.name+" logs", rep.logs.String())
		seen.check(t, rep.name+" unlocker logs", rep.unlogs.String())
		seen.check(t, rep.name+" walletd output", rep.w.proc.Logs())
		for _, e := range eventsFor(t, rep.name, "") {
			seen.check(t, rep.name+" events", e)
		}
		if t.Failed() {
			t.Logf("--- %s logs:\n%s\n%s", rep.name, rep.logs.String(), rep.unlogs.String())
		}
	}
}

// A keystore write that walletd refuses because its wallet is locked
// changed nothing: the client gets walletd's -32001, the leader stays in
// sync and takes nothing back.
func TestAWriteToALockedWalletdNeedsNoRollback(t *testing.T) {
	key := freshKeystore(t)
	ctx := context.Background()
	const pass = walletd.Secret("locked-write passphrase")
	path := walletPath(t, testPods[0])
	if _, err := walletsync.InitWalletEncrypted(ctx, newStore(t, key), path, true, pass); err != nil {
		t.Fatal(err)
	}
	w := startWalletd(t, path, "-encrypted")
	until, err := w.client.UnlockWallet(ctx, pass, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	leader := newReplica(t, testPods[0], key, w)
	if err := leader.r.Promote(ctx, 1); err != nil {
		t.Fatalf("promote: %v", err)
	}
	gen := leader.r.AppliedGeneration()
	if err := testenv.Eventually(time.Until(until)+10*time.Second, 100*time.Millisecond, func() (bool, error) {
		locked, err := w.client.Locked(ctx)
		return locked, err
	}); err != nil {
		t.Fatalf("walletd did not lock again: %v", err)
	}
	p := serveProxy(t, leader, w.addr, proxy.Options{})
	ans := rpcCall(t, p.url, walletd.MethodGenerateECAddress, nil)
	if ans.Error == nil || ans.Error.Code != walletd.CodeLocked {
		t.Fatalf("a write to a locked walletd: %+v", ans)
	}
	if !leader.r.InSync() || leader.r.AppliedGeneration() != gen || strings.Contains(leader.logs.String(), "keystore_rolled_back") {
		t.Fatalf("the leader treated a refused write as a change: in sync %v, generation %d (was %d)\n%s",
			leader.r.InSync(), leader.r.AppliedGeneration(), gen, leader.logs.String())
	}
}
