package walletsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

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
	fenced := make(chan int64, 1)
	old.r.OnFenced(func(term int64) { fenced <- term })
	_, err := write(t, old, 1, walletd.MethodImportAddresses, importParams(k))
	if !errors.Is(err, walletsync.ErrFenced) {
		t.Fatalf("re-import under the deposed term 1: %v, want ErrFenced", err)
	}
	// The election is told, so a leader whose Lease nobody contests gives
	// it up, and the next acquisition's floor is above the stored term.
	select {
	case term := <-fenced:
		if term != 1 {
			t.Fatalf("OnFenced called with term %d, want 1", term)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fenced write did not call OnFenced")
	}
	if floor := old.r.TermFloor(); floor < 3 {
		t.Fatalf("term floor after a fence by term 2 is %d, want at least 3", floor)
	}
	if snap := loadSecret(t, key); imported(snap.State, k.Public) || !snap.State.IsRemoved(k.Public) || snap.Term != 2 {
		t.Fatalf("the keystore (term %d) lost term 2's removal", snap.Term)
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
