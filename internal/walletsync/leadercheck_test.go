package walletsync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

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
	late := importBehindItsBack(t, leader)
	expectLateImportTakenBack(t, leader, acked, late)
}

// The same late import on a pod whose sidecar died leading and came back
// as a follower (another replica took over early): it lands after the
// restarted sidecar reconciled, and the follower's periodic check must take
// it back, or the replicas never agree (fault suite, seed 93).
func TestAFollowerTakesBackKeysWalletdAddedBehindItsBack(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	acked := foreign(t, keystore.FCT, 1)
	if _, err := write(t, leader, 1, walletd.MethodImportAddresses, importParams(acked)); err != nil {
		t.Fatal(err)
	}
	f := newFollower(t, key, testPods[1])
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, inSync(f)); err != nil {
		t.Fatal(err)
	}
	late := importBehindItsBack(t, f)
	expectLateImportTakenBack(t, f, acked, late)
}

// importBehindItsBack imports two keys straight into rep's walletd, as a
// write that walletd finishes after its sidecar stopped waiting.
func importBehindItsBack(t *testing.T, rep *replica) []walletd.Key {
	t.Helper()
	late := []walletd.Key{foreign(t, keystore.FCT, 2), foreign(t, keystore.EC, 3)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rep.w.rpc.CallRaw(ctx, walletd.MethodImportAddresses, mustJSON(t, importParams(late...))); err != nil {
		t.Fatal(err)
	}
	return late
}

// expectLateImportTakenBack waits until rep's walletd no longer holds the late keys
// and rep is in sync again, and checks that the replicated key acked stayed
// and that the take-back was logged.
func expectLateImportTakenBack(t *testing.T, rep *replica, acked walletd.Key, late []walletd.Key) {
	t.Helper()
	err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		_, held := keySet(t, rep.w)
		for _, line := range held {
			for _, k := range late {
				if strings.HasPrefix(line, k.Public+"=") {
					return false, fmt.Errorf("%s's walletd still holds the unacknowledged key %s", rep.name, k.Public)
				}
			}
		}
		return rep.r.InSync(), errors.New(rep.name + " is not back in sync: " + rep.r.ReadyCheck()().Reason)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, held := keySet(t, rep.w)
	if !slices.ContainsFunc(held, func(l string) bool { return strings.HasPrefix(l, acked.Public+"=") }) {
		t.Errorf("the replicated key %s was taken back too", acked.Public)
	}
	if !strings.Contains(rep.logs.String(), `"event":"keystore_walletd_unaccounted"`) {
		t.Error("no keystore_walletd_unaccounted event explains the take-back")
	}
}
