package walletsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

const otherSeed = walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow")

// freshKeystore skips under -short, deletes the keystore Secret and
// returns a new sealing key: each integration test starts from nothing.
func freshKeystore(t testing.TB) *keystore.SealKey {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the API server and walletd")
	}
	deleteSecret(t)
	return newSealKey(t)
}

// foreign is key i of kind from a seed no replica uses: a key to import.
func foreign(t testing.TB, kind keystore.Kind, i uint32) walletd.Key {
	t.Helper()
	d, err := keystore.NewDeriver(otherSeed)
	if err != nil {
		t.Fatal(err)
	}
	k, err := d.Key(kind, i)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func importParams(keys ...walletd.Key) map[string]any {
	var list []map[string]string
	for _, k := range keys {
		list = append(list, map[string]string{"secret": k.Secret.Reveal()})
	}
	return map[string]any{"addresses": list}
}

// touchSecret changes the Secret behind the leader's back (a label), so its
// next conditional update conflicts.
func touchSecret(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	sec, err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Get(ctx, testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	sec.Labels["touched"] = time.Now().Format("150405.000000")
	if _, err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func loadSecret(t testing.TB, key *keystore.SealKey) *store.Snapshot {
	t.Helper()
	snap, err := newStore(t, key).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func imported(st *keystore.State, public string) bool {
	return slices.ContainsFunc(st.Imported, func(i keystore.Imported) bool { return i.Public == public })
}

// viaProxy points rep's walletd client at addr (a TCP proxy in front of
// its walletd).
func viaProxy(w *walletProc, addr string) *walletProc {
	rpc := jsonrpc.New("http://"+addr+"/v2", jsonrpc.Options{Timeout: 30 * time.Second})
	return &walletProc{proc: w.proc, path: w.path, addr: addr, rpc: rpc, client: walletd.New(rpc)}
}

// Defect 1: re-importing a key the keystore holds changes nothing, yet its
// acknowledgement must still be fenced by the store. A leader paused across
// a failover (term 2 removed the key meanwhile) must not acknowledge it
// under term 1.
func TestReimportOnADeposedLeaderIsFenced(t *testing.T) {
	key := freshKeystore(t)
	ctx := context.Background()
	old := newLeader(t, key, testPods[0], 1)
	k := foreign(t, keystore.FCT, 1)
	if _, err := write(t, old, 1, walletd.MethodImportAddresses, importParams(k)); err != nil {
		t.Fatal(err)
	}
	f := newFollower(t, key, testPods[1])
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, inSync(f)); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Promote(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := write(t, f, 2, walletd.MethodRemoveAddress, map[string]string{"address": k.Public}); err != nil {
		t.Fatal(err)
	}

	// The old leader still believes it leads term 1; its walletd still
	// holds the key, so the import changes nothing in its view.
	_, err := write(t, old, 1, walletd.MethodImportAddresses, importParams(k))
	if !errors.Is(err, walletsync.ErrFenced) {
		t.Fatalf("re-import under the deposed term 1: %v, want ErrFenced", err)
	}
	if snap := loadSecret(t, key); imported(snap.State, k.Public) || !snap.State.IsRemoved(k.Public) || snap.Term != 2 {
		t.Fatalf("the keystore (term %d) lost term 2's removal", snap.Term)
	}
}

// Defect 3: remove-address {} succeeds in walletd but does not decode in
// the sidecar. It must be refused and taken back, not answered by a
// rebuild from wallet-backup, which committed every leftover on the
// leader's walletd and dropped imported keys it lacked.
func TestAnUndecodableRemovalIsRefusedNotRebuilt(t *testing.T) {
	key := freshKeystore(t)
	ctx := context.Background()
	leader := newLeader(t, key, testPods[0], 1)
	acked := foreign(t, keystore.FCT, 2)
	if _, err := write(t, leader, 1, walletd.MethodImportAddresses, importParams(acked)); err != nil {
		t.Fatal(err)
	}
	// walletd lost the acknowledged key and holds one nobody was given.
	if err := leader.w.client.RemoveAddress(ctx, acked.Public); err != nil {
		t.Fatal(err)
	}
	stray := foreign(t, keystore.EC, 2)
	if _, err := leader.w.client.ImportAddresses(ctx, stray.Secret); err != nil {
		t.Fatal(err)
	}

	if _, err := write(t, leader, 1, walletd.MethodRemoveAddress, map[string]any{}); err == nil {
		t.Fatal("remove-address {} was acknowledged")
	}
	snap := loadSecret(t, key)
	if !imported(snap.State, acked.Public) {
		t.Error("the keystore dropped an acknowledged import")
	}
	if imported(snap.State, stray.Public) {
		t.Error("the keystore committed a key nobody was acknowledged")
	}
	pubs := publics(keysOf(t, leader.w))
	if !slices.Contains(pubs, acked.Public) || slices.Contains(pubs, stray.Public) {
		t.Errorf("the leader's walletd was not brought back to the keystore: %v", pubs)
	}
	if !leader.r.InSync() {
		t.Errorf("leader not in sync: %s", leader.r.ReadyCheck()().Reason)
	}
}

func keysOf(t testing.TB, w *walletProc) []string {
	t.Helper()
	_, keys := keySet(t, w)
	return keys
}

// Defect 5: a generate whose commit failed is rolled back on the leader;
// the next generate skips its index. The skipped key must be recorded as
// removed, or followers replaying the counter keep a key the leader lacks.
func TestASkippedIndexIsRemovedOnEveryReplica(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	if _, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil); err != nil {
		t.Fatal(err)
	}
	f := newFollower(t, key, testPods[1])
	touchSecret(t)
	res, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil)
	if err == nil {
		t.Fatal("generate committed despite the conflict")
	}
	rolledBack := generated(t, res)
	if _, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil); err != nil {
		t.Fatal(err)
	}
	gen := leader.r.AppliedGeneration()
	err = testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		return f.r.AppliedGeneration() == gen && f.r.InSync(), errors.New(f.r.ReadyCheck()().Reason)
	})
	if err != nil {
		t.Fatal(err)
	}
	lk, fk := keysOf(t, leader.w), keysOf(t, f.w)
	if slices.Contains(publics(fk), rolledBack.Public) {
		t.Errorf("the follower holds %s, generated by a write that was never acknowledged", rolledBack.Public)
	}
	if !slices.Equal(lk, fk) {
		t.Errorf("replicas differ:\nleader   %v\nfollower %v", publics(lk), publics(fk))
	}
}

// Defect 6: a demotion that arrives while Promote runs must win: the
// replica may not end up "leader" and in sync (serving stale reads) for a
// term the election already ended.
func TestADemotionDuringPromotionWins(t *testing.T) {
	key := freshKeystore(t)
	newLeader(t, key, testPods[0], 1)
	path := walletPath(t, testPods[1])
	if res, err := walletsync.InitWallet(context.Background(), newStore(t, key), path, false); err != nil || res.Outcome != walletsync.InitCreated {
		t.Fatalf("walletd-init: %+v %v", res, err)
	}
	w := startWalletd(t, path)
	tp, err := testenv.StartTCPProxy(w.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.Close)
	rep := newReplica(t, testPods[1], key, viaProxy(w, tp.Addr()))

	tp.Hold() // the promotion's wallet-backup is answered only on Release
	promoted := make(chan error, 1)
	go func() { promoted <- rep.r.Promote(context.Background(), 2) }()
	if err := testenv.Eventually(10*time.Second, 10*time.Millisecond, func() (bool, error) {
		return rep.r.Role() == "promoting", fmt.Errorf("role %s", rep.r.Role())
	}); err != nil {
		t.Fatal(err)
	}
	rep.r.OnDemote(2)
	tp.Release()
	if err := <-promoted; err == nil {
		t.Error("Promote succeeded for a term that was demoted meanwhile")
	}
	if rep.r.Role() != "follower" || rep.r.InSync() {
		t.Fatalf("after a demotion during promotion: role %s, in sync %v", rep.r.Role(), rep.r.InSync())
	}
	if _, err := write(t, rep, 2, walletd.MethodGenerateECAddress, nil); !errors.Is(err, walletsync.ErrNotPromoted) {
		t.Fatalf("commit after the demotion: %v, want ErrNotPromoted", err)
	}
}

// Defect 7: a promotion's BumpTerm that conflicts with the old leader's
// late commit (under the lower term) must be a conflict to catch up with,
// not ErrFenced.
func TestABumpOverALateCommitIsAConflict(t *testing.T) {
	s := newStore(t, freshKeystore(t))
	ctx := context.Background()
	loaded, err := s.Create(ctx, 1, &keystore.State{Seed: otherSeed})
	if err != nil {
		t.Fatal(err)
	}
	next := loaded.State.Clone()
	next.Next.EC = 1
	if _, err := s.Commit(ctx, loaded, 1, next); err != nil { // the old leader's late commit
		t.Fatal(err)
	}
	_, err = s.BumpTerm(ctx, loaded, 2, loaded.State)
	if !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrFenced) {
		t.Fatalf("bump over a late commit of term 1: %v, want ErrConflict (not ErrFenced)", err)
	}
	// And a write under a term older than the stored one is fenced.
	cur, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpTerm(ctx, cur, 3, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, cur, 1, next); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("commit under term 1 over term 3: %v, want ErrFenced", err)
	}
}

// Defect 8: walletd prints the params of a successful
// import-identity-keys. A follower's replay and restore of identity keys
// must not put their secrets into walletd's output.
func TestReplayKeepsIdentitySecretsOutOfWalletdOutput(t *testing.T) {
	key := freshKeystore(t)
	ctx := context.Background()
	leader := newLeader(t, key, testPods[0], 1)
	f := newFollower(t, key, testPods[1])
	imp := foreign(t, keystore.ID, 3)
	if _, err := write(t, leader, 1, walletd.MethodImportIdentityKeys, map[string]any{"keys": []map[string]string{{"secret": imp.Secret.Reveal()}}}); err != nil {
		t.Fatal(err)
	}
	res, err := write(t, leader, 1, walletd.MethodGenerateIdentityKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	derived := generated(t, res)
	waitApplied(t, f, leader.r.AppliedGeneration())
	// The follower's walletd loses the derived key: the spot check sees it
	// and the replay restores it by import.
	if err := f.w.client.RemoveIdentityKey(ctx, derived.Public); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		return strings.Contains(f.logs.String(), `"event":"keystore_restore"`) && f.r.InSync(), errors.New("no restore yet")
	}); err != nil {
		t.Fatal(err)
	}
	pubs := publics(keysOf(t, f.w))
	if !slices.Contains(pubs, imp.Public) || !slices.Contains(pubs, derived.Public) {
		t.Fatalf("the follower lacks the identity keys: %v", pubs)
	}
	out, err := os.ReadFile(f.w.path + ".log")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []walletd.Key{imp, derived} {
		if strings.Contains(string(out), k.Secret.Reveal()) {
			t.Errorf("the follower's walletd printed the secret of %s", k.Public)
		}
	}
	if !strings.Contains(string(out), "API V2 method") {
		t.Fatal("walletd's output holds no method lines: the check would see nothing")
	}
}

func waitApplied(t testing.TB, rep *replica, gen int64) {
	t.Helper()
	err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		return rep.r.AppliedGeneration() == gen && rep.r.InSync(), errors.New(rep.r.ReadyCheck()().Reason)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Defect 9: a leader's InSync must say what its walletd holds. A walletd
// restarted on another wallet file turns the leader out of sync (not
// ready, no reads) instead of staying in sync for good.
func TestALeaderWhoseWalletdLostTheKeystoreIsNotInSync(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	leader.follow(t) // the loop that spot-checks walletd
	for _, m := range []string{walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateECAddress} {
		if _, err := write(t, leader, 1, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !leader.r.InSync() {
		t.Fatalf("leader not in sync before the fault: %s", leader.r.ReadyCheck()().Reason)
	}
	// Another wallet file: a new random seed, none of the keystore's keys.
	leader.w.proc.Stop(5 * time.Second)
	if err := os.Remove(leader.w.path); err != nil {
		t.Fatal(err)
	}
	leader.w.start(t)
	err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		return !leader.r.InSync(), errors.New("the leader still reports in sync")
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil); err == nil {
		t.Error("a write on a walletd with another seed was acknowledged")
	}
}

// A Lease deleted and created again starts its transition count over: a
// term already used must not be led again (two writers under one fencing
// token), and a replica that saw it asks the election for a higher one.
func TestATermIsNotLedTwiceAfterTheLeaseIsDeleted(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	if _, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil); err != nil {
		t.Fatal(err)
	}
	f := newFollower(t, key, testPods[1])
	waitApplied(t, f, leader.r.AppliedGeneration())
	if floor := f.r.TermFloor(); floor != 2 {
		t.Errorf("term floor %d after term 1 wrote, want 2", floor)
	}
	if err := f.r.Promote(context.Background(), 1); !errors.Is(err, walletsync.ErrFenced) {
		t.Fatalf("promotion under the used term 1: %v, want ErrFenced", err)
	}
}

// A leader's sidecar killed during a long import is restarted and leads
// again while walletd still runs that import, which goes on adding keys
// after the promotion reconciled. No client was acknowledged them: the
// leader's periodic check must find and take back every key the Secret
// does not account for, not only notice missing ones.
func TestALeaderTakesBackKeysWalletdAddedBehindItsBack(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	leader.follow(t) // the loop that checks walletd between writes
	acked := foreign(t, keystore.FCT, 1)
	if _, err := write(t, leader, 1, walletd.MethodImportAddresses, importParams(acked)); err != nil {
		t.Fatal(err)
	}
	// The late import: walletd executes it, no sidecar commits it.
	late := []walletd.Key{foreign(t, keystore.FCT, 2), foreign(t, keystore.EC, 3)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := leader.w.rpc.CallRaw(ctx, walletd.MethodImportAddresses, mustJSON(t, importParams(late...))); err != nil {
		t.Fatal(err)
	}
	err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		_, held := keySet(t, leader.w)
		for _, line := range held {
			for _, k := range late {
				if strings.HasPrefix(line, k.Public+"=") {
					return false, fmt.Errorf("walletd still holds the unacknowledged key %s", k.Public)
				}
			}
		}
		return leader.r.InSync(), errors.New("the leader is not back in sync: " + leader.r.ReadyCheck()().Reason)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, held := keySet(t, leader.w)
	if !slices.ContainsFunc(held, func(l string) bool { return strings.HasPrefix(l, acked.Public+"=") }) {
		t.Errorf("the acknowledged import %s was taken back too", acked.Public)
	}
	if !strings.Contains(leader.logs.String(), `"event":"keystore_walletd_unaccounted"`) {
		t.Error("no keystore_walletd_unaccounted event explains the take-back")
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
