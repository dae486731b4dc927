package walletsync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// newLeader starts a fresh walletd, builds a replica for pod over it and
// promotes it to term (creating the keystore Secret).
func newLeader(t *testing.T, key keystore.Keys, pod string, term int64) *replica {
	t.Helper()
	w := startWalletd(t, walletPath(t, pod))
	rep := newReplica(t, pod, key, w)
	if err := rep.r.Promote(context.Background(), term); err != nil {
		t.Fatalf("promote %s: %v", pod, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s logs:\n%s", rep.name, rep.logs.String())
		}
	})
	return rep
}

// newFollower writes a wallet file from the keystore (walletd-init), starts
// walletd on it and follows.
func newFollower(t *testing.T, key keystore.Keys, pod string) *replica {
	t.Helper()
	path := walletPath(t, pod)
	if res, err := walletsync.InitWallet(context.Background(), newStore(t, key), path, false); err != nil || res.Outcome != walletsync.InitCreated {
		t.Fatalf("walletd-init %s: %+v %v", pod, res, err)
	}
	rep := newReplica(t, pod, key, startWalletd(t, path))
	rep.follow(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s logs:\n%s", rep.name, rep.logs.String())
		}
	})
	return rep
}

func publics(keys []string) []string {
	var out []string
	for _, k := range keys {
		for i := range k {
			if k[i] == '=' {
				out = append(out, k[:i])
				break
			}
		}
	}
	return out
}

// Finding 1's guard: a leader whose walletd hands out a key the keystore
// already holds (its counter is behind: here its wallet was recreated from
// the seed alone) must refuse the write, whatever path the commit takes.
func TestCommitRefusesReissuedKey(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the API server and walletd")
	}
	deleteSecret(t)
	key := newSealKey(t)
	leader := newLeader(t, key, testPods[0], 1)
	var issued []walletd.Key
	for _, m := range []string{walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateIdentityKey} {
		res, err := write(t, leader, 1, m, nil)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		issued = append(issued, generated(t, res))
	}
	gen := leader.r.AppliedGeneration()

	// The same seed, counters back at 0.
	seed, _ := keySet(t, leader.w)
	leader.w.restartSeedOnly(t, seed)

	res, err := write(t, leader, 1, walletd.MethodGenerateIdentityKey, nil)
	k := generated(t, res)
	if k.Public != issued[2].Public {
		t.Fatalf("walletd handed out %s, not the issued identity key: the test does not cover a reissue", k.Public)
	}
	if !errors.Is(err, keystore.ErrAlreadyIssued) {
		t.Fatalf("identity key %s acknowledged twice; commit: %v (want ErrAlreadyIssued)", k.Public, err)
	}
	if g := leader.r.AppliedGeneration(); g != gen {
		t.Fatalf("generation moved from %d to %d", gen, g)
	}
	// The refused write's rollback brought walletd's counters up to the
	// keystore's: the next generate of every kind is a fresh key.
	for _, m := range []string{walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateIdentityKey} {
		res, err := write(t, leader, 1, m, nil)
		if err != nil {
			t.Fatalf("%s after the rollback: %v", m, err)
		}
		k := generated(t, res)
		if slices.ContainsFunc(issued, func(i walletd.Key) bool { return i.Public == k.Public }) {
			t.Fatalf("%s acknowledged twice", k.Public)
		}
	}
}

// Findings 2 and 3: writes a leader's walletd applied but the Secret never
// got (a removal of an acknowledged key, an import, a generate) are taken
// back when the replica follows again: the acknowledged key is restored,
// the others removed, no key is generated that the keystore does not know,
// and the replica holds exactly what the other replicas hold.
func TestDemotedLeaderUndoesUncommittedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the API server and walletd")
	}
	deleteSecret(t)
	ctx := context.Background()
	key := newSealKey(t)
	old := newLeader(t, key, testPods[0], 1)
	res, err := write(t, old, 1, walletd.MethodGenerateFactoidAddress, nil)
	if err != nil {
		t.Fatal(err)
	}
	acked := generated(t, res)
	if _, err := write(t, old, 1, walletd.MethodGenerateECAddress, nil); err != nil {
		t.Fatal(err)
	}
	f := newFollower(t, key, testPods[1])
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, inSync(f)); err != nil {
		t.Fatal(err)
	}

	// Writes walletd applied whose commits failed (the replica was
	// deposed): walletd calls without a commit.
	if err := old.w.client.RemoveAddress(ctx, acked.Public); err != nil {
		t.Fatal(err)
	}
	other, err := keystore.NewDeriver(walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Key(keystore.EC, 3)
	if _, err := old.w.client.ImportAddresses(ctx, foreign.Secret); err != nil {
		t.Fatal(err)
	}
	extraEC, err := old.w.client.GenerateECAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	extraID, err := old.w.client.GenerateIdentityKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Deposed: the follower takes over, the old leader follows.
	old.r.Demote()
	old.follow(t)
	if err := f.r.Promote(ctx, 2); err != nil {
		t.Fatal(err)
	}
	res, err = write(t, f, 2, walletd.MethodGenerateFactoidAddress, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := generated(t, res)
	gen := f.r.AppliedGeneration()
	err = testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if old.r.AppliedGeneration() != gen || !old.r.InSync() {
			return false, errors.New(old.r.ReadyCheck()().Reason)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, keysOld := keySet(t, old.w)
	_, keysNew := keySet(t, f.w)
	pubs := publics(keysOld)
	for _, want := range []string{acked.Public, next.Public} {
		if !slices.Contains(pubs, want) {
			t.Errorf("the old leader lacks the acknowledged %s", want)
		}
	}
	for _, extra := range []string{foreign.Public, extraEC.Public, extraID.Public} {
		if slices.Contains(pubs, extra) {
			t.Errorf("the old leader still holds the uncommitted %s", extra)
		}
	}
	if !slices.Equal(keysOld, keysNew) {
		t.Errorf("replicas differ:\nold leader %v\nnew leader %v", publics(keysOld), publics(keysNew))
	}
}

// Finding 3 on a leader that stays leader: a write whose commit fails is
// taken back from its walletd before the next write, so the leader does not
// keep (or serve reads of) a key the keystore does not hold.
func TestLeaderRollsBackFailedCommit(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	res, err := write(t, leader, 1, walletd.MethodGenerateFactoidAddress, nil)
	if err != nil {
		t.Fatal(err)
	}
	acked := generated(t, res)

	// Another writer touches the Secret (touchSecret): the leader's next
	// conditional update conflicts.
	touch := func() { touchSecret(t) }
	other, err := keystore.NewDeriver(walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Key(keystore.FCT, 2)
	touch()
	if _, err := write(t, leader, 1, walletd.MethodImportAddresses, map[string]any{"addresses": []map[string]string{{"secret": foreign.Secret.Reveal()}}}); err == nil {
		t.Fatal("import committed despite the conflict")
	}
	if _, keys := keySet(t, leader.w); slices.Contains(publics(keys), foreign.Public) {
		t.Fatal("the leader's walletd keeps the uncommitted import")
	}
	touch()
	if _, err := write(t, leader, 1, walletd.MethodRemoveAddress, map[string]string{"address": acked.Public}); err == nil {
		t.Fatal("removal committed despite the conflict")
	}
	_, keys := keySet(t, leader.w)
	pubs := publics(keys)
	if slices.Contains(pubs, foreign.Public) {
		t.Error("the leader's walletd keeps the uncommitted import")
	}
	if !slices.Contains(pubs, acked.Public) {
		t.Error("the leader's walletd lost the acknowledged key to an uncommitted removal")
	}
	if !leader.r.InSync() {
		t.Error("leader not in sync")
	}
	if _, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil); err != nil {
		t.Fatalf("next write: %v", err)
	}
}
