package walletsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func generated(t testing.TB, raw json.RawMessage) walletd.Key {
	t.Helper()
	var k walletd.Key
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

func inSync(reps ...*replica) func() (bool, error) {
	return func() (bool, error) {
		for _, rep := range reps {
			if !rep.r.InSync() {
				return false, errors.New(rep.name + " not in sync: " + rep.r.ReadyCheck()().Reason)
			}
		}
		return true, nil
	}
}

// appliedInSync holds once every replica has applied generation gen and
// is in sync.
func appliedInSync(gen int64, reps ...*replica) func() (bool, error) {
	return func() (bool, error) {
		for _, f := range reps {
			if f.r.AppliedGeneration() != gen || !f.r.InSync() {
				return false, errors.New(f.name + ": " + f.r.ReadyCheck()().Reason)
			}
		}
		return true, nil
	}
}

// TestReplication drives three real walletd processes and the real API
// server through the keystore's life: creation by the first leader,
// walletd-init, replay, tampering, a foreign seed, fencing of a deposed
// leader and promotion.
func TestReplication(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the API server and walletd")
	}
	deleteSecret(t)
	ctx := context.Background()
	key := newSealKey(t)
	seen := &secrets{}
	top := t                   // replicas that follow beyond one subtest live as long as the test
	acked := map[string]bool{} // public keys whose commit succeeded
	var all []*replica
	defer func() { checkNothingLeaked(t, seen, all) }()

	// The first leader: a fresh walletd with its own random seed and a key
	// generated before the sidecar ever ran.
	w0 := startWalletd(t, walletPath(t, "w0"))
	pre, err := w0.client.GenerateECAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen.addKeys(pre)
	b0, _ := w0.client.WalletBackup(ctx)
	seen.addBackup(b0)
	leader := newReplica(t, testPods[0], key, w0)
	all = append(all, leader)
	if err := leader.r.Promote(ctx, 1); err != nil {
		t.Fatalf("first promotion: %v", err)
	}
	if !leader.r.InSync() || leader.r.AppliedGeneration() != 1 {
		t.Fatalf("leader after creating the keystore: inSync=%v gen=%d", leader.r.InSync(), leader.r.AppliedGeneration())
	}

	// Followers: wallet files written by walletd-init from the keystore.
	var followers []*replica
	for i, pod := range testPods[1:] {
		path := walletPath(t, pod)
		res, err := walletsync.InitWallet(ctx, newStore(t, key), path, false)
		if err != nil || res.Outcome != walletsync.InitCreated {
			t.Fatalf("walletd-init %s: %+v %v", pod, res, err)
		}
		w := startWalletd(t, path)
		rep := newReplica(t, pod, key, w)
		rep.follow(t)
		followers = append(followers, rep)
		all = append(all, rep)
		_ = i
	}
	if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, inSync(followers...)); err != nil {
		t.Fatal(err)
	}

	other, err := keystore.NewDeriver(walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow"))
	if err != nil {
		t.Fatal(err)
	}
	foreignFCT, _ := other.Key(keystore.FCT, 0)
	foreignEC, _ := other.Key(keystore.EC, 0)
	foreignID, _ := other.Key(keystore.ID, 0)
	seen.addKeys(foreignFCT, foreignEC, foreignID)

	var genFCT, genID []walletd.Key
	t.Run("writes committed by the leader reach every follower's walletd", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			for _, m := range []string{walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateECAddress, walletd.MethodGenerateIdentityKey} {
				res, err := write(t, leader, 1, m, nil)
				if err != nil {
					t.Fatalf("commit %s: %v", m, err)
				}
				k := generated(t, res)
				seen.addKeys(k)
				acked[k.Public] = true
				switch m {
				case walletd.MethodGenerateFactoidAddress:
					genFCT = append(genFCT, k)
				case walletd.MethodGenerateIdentityKey:
					genID = append(genID, k)
				}
			}
		}
		if _, err := write(t, leader, 1, walletd.MethodImportAddresses, map[string]any{"addresses": []map[string]string{{"secret": foreignFCT.Secret.Reveal()}, {"secret": foreignEC.Secret.Reveal()}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := write(t, leader, 1, walletd.MethodImportIdentityKeys, map[string]any{"keys": []map[string]string{{"secret": foreignID.Secret.Reveal()}}}); err != nil {
			t.Fatal(err)
		}
		acked[foreignFCT.Public], acked[foreignEC.Public], acked[foreignID.Public] = true, true, true
		// Removals.
		if _, err := write(t, leader, 1, walletd.MethodRemoveAddress, map[string]string{"address": genFCT[1].Public}); err != nil {
			t.Fatal(err)
		}
		if _, err := write(t, leader, 1, walletd.MethodRemoveIdentityKey, map[string]string{"public": genID[0].Public}); err != nil {
			t.Fatal(err)
		}
		gen := leader.r.AppliedGeneration()
		err := testenv.Eventually(30*time.Second, 20*time.Millisecond, appliedInSync(gen, followers...))
		if err != nil {
			t.Fatal(err)
		}
		seed0, keys0 := keySet(t, w0)
		for _, f := range followers {
			seed, keys := keySet(t, f.w)
			if seed != seed0 {
				t.Errorf("%s: another seed", f.name)
			}
			if !slices.Equal(keys, keys0) {
				t.Errorf("%s: %d keys, leader %d", f.name, len(keys), len(keys0))
			}
		}
		if strings.Contains(strings.Join(keys0, "\n"), genFCT[1].Public) || strings.Contains(strings.Join(keys0, "\n"), genID[0].Public) {
			t.Error("removed keys still on the leader")
		}
	})

	t.Run("walletd-init writes a wallet file walletd opens with every key", func(t *testing.T) {
		walletdInitWritesEveryKey(t, key, w0, seen, acked)
	})

	t.Run("a tampered keystore is refused, reported, and nothing is deleted", func(t *testing.T) {
		admin := adminClient(t)
		secs := admin.CoreV1().Secrets(testenv.KubeTestNamespace)
		orig, err := secs.Get(ctx, testSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, before := keySet(t, followers[0].w)
		bad := orig.DeepCopy()
		blob := bad.Data[store.DataKey]
		blob[len(blob)/2] ^= 0x40
		if _, err := secs.Update(ctx, bad, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		err = testenv.Eventually(20*time.Second, 20*time.Millisecond, func() (bool, error) {
			for _, f := range followers {
				if f.r.InSync() {
					return false, errors.New(f.name + " still in sync")
				}
				if len(eventsFor(t, f.name, "KeystoreRejected")) == 0 {
					return false, errors.New(f.name + ": no KeystoreRejected event")
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range followers {
			if !strings.Contains(f.r.ReadyCheck()().Reason, "rejected") {
				t.Errorf("%s reason: %s", f.name, f.r.ReadyCheck()().Reason)
			}
			if !strings.Contains(f.logs.String(), `"event":"keystore_rejected"`) {
				t.Errorf("%s: no keystore_rejected log line", f.name)
			}
		}
		if _, after := keySet(t, followers[0].w); !slices.Equal(before, after) {
			t.Fatalf("follower walletd changed: %d keys before, %d after", len(before), len(after))
		}
		// The leader refuses to commit on top of it.
		res, err := write(t, leader, 1, walletd.MethodGenerateECAddress, nil)
		seen.addKeys(generated(t, res))
		if err == nil {
			t.Fatal("leader committed over a tampered keystore")
		}
		// Term annotation edited: refused as well.
		cur, _ := secs.Get(ctx, testSecret, metav1.GetOptions{})
		fixed := orig.DeepCopy()
		fixed.ResourceVersion = cur.ResourceVersion
		fixed.Annotations[store.AnnotationTerm] = "7"
		if _, err := secs.Update(ctx, fixed, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := newStore(t, key).Load(ctx); !errors.Is(err, keystore.ErrTampered) {
			t.Fatalf("edited term: %v", err)
		}
		// Restored by the operator: everyone recovers, and the leader's
		// next write commits (skipping the key walletd made above, which
		// no client received).
		cur, _ = secs.Get(ctx, testSecret, metav1.GetOptions{})
		fixed = orig.DeepCopy()
		fixed.ResourceVersion = cur.ResourceVersion
		if _, err := secs.Update(ctx, fixed, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := testenv.Eventually(20*time.Second, 20*time.Millisecond, inSync(followers...)); err != nil {
			t.Fatal(err)
		}
		res, err = write(t, leader, 1, walletd.MethodGenerateECAddress, nil)
		if err != nil {
			t.Fatalf("commit after restore: %v", err)
		}
		k := generated(t, res)
		seen.addKeys(k)
		acked[k.Public] = true
	})

	t.Run("a follower whose walletd has another seed is refused and keeps its wallet", func(t *testing.T) {
		path := walletPath(t, "foreign")
		w := startWalletd(t, path)
		own, err := w.client.GenerateFactoidAddress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen.addKeys(own)
		bf, _ := w.client.WalletBackup(ctx)
		seen.addBackup(bf)
		rep := newReplica(t, testPods[2], key, w)
		all = append(all, rep)
		rep.follow(t)
		err = testenv.Eventually(20*time.Second, 20*time.Millisecond, func() (bool, error) {
			reason := rep.r.ReadyCheck()().Reason
			return !rep.r.InSync() && strings.Contains(reason, "seed mismatch") && len(eventsFor(t, rep.name, "KeystoreSeedMismatch")) > 0, errors.New(reason)
		})
		if err != nil {
			t.Fatal(err)
		}
		seed, keys := keySet(t, w)
		if seed != bf.Seed || len(keys) != 1 || !strings.HasPrefix(keys[0], own.Public+"=") {
			t.Fatalf("foreign walletd changed: %d keys", len(keys))
		}
		rep.stop()
		<-rep.done
		w.proc.Stop(5 * time.Second)
		// walletd-init refuses the file, and leaves it as it was.
		_, err = walletsync.InitWallet(ctx, newStore(t, key), path, false)
		if !errors.Is(err, walletsync.ErrWalletSeedMismatch) {
			t.Fatalf("walletd-init on a foreign wallet: %v", err)
		}
		seen.check(t, "walletd-init error", err.Error())
		if s, _, err := walletfile.ReadSeed(path); err != nil || s != bf.Seed {
			t.Fatalf("foreign wallet file changed: %v", err)
		}
	})

	t.Run("a promoted follower fences the deposed leader and hands out only new keys", func(t *testing.T) {
		next := followers[0]
		// The follower is promoted (term 2) while the old leader still
		// believes it leads.
		if err := next.r.Promote(ctx, 2); err != nil {
			t.Fatalf("promote: %v", err)
		}
		res, err := write(t, leader, 1, walletd.MethodGenerateFactoidAddress, nil)
		late := generated(t, res)
		seen.addKeys(late)
		if !errors.Is(err, walletsync.ErrFenced) {
			t.Fatalf("deposed leader's late commit: %v, want ErrFenced", err)
		}
		seen.check(t, "fenced error", err.Error())
		if err := leader.r.Promote(ctx, 1); !errors.Is(err, walletsync.ErrFenced) {
			t.Fatalf("promotion with an older term: %v", err)
		}
		leader.r.Demote()
		leader.follow(top)

		for _, m := range []string{walletd.MethodGenerateECAddress, walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateIdentityKey} {
			res, err := write(t, next, 2, m, nil)
			if err != nil {
				t.Fatalf("new leader %s: %v", m, err)
			}
			k := generated(t, res)
			seen.addKeys(k)
			if acked[k.Public] {
				t.Fatalf("%s handed out %s again", m, k.Public)
			}
			acked[k.Public] = true
		}
		// The old leader follows now; everyone converges.
		gen := next.r.AppliedGeneration()
		err = testenv.Eventually(30*time.Second, 20*time.Millisecond, appliedInSync(gen, leader, followers[1]))
		if err != nil {
			t.Fatal(err)
		}
		_, keysNew := keySet(t, next.w)
		for _, f := range []*replica{leader, followers[1]} {
			if _, keys := keySet(t, f.w); !slices.Equal(keys, keysNew) {
				t.Errorf("%s: %d keys, leader %d", f.name, len(keys), len(keysNew))
			}
		}
		if !strings.Contains(strings.Join(keysNew, "\n"), late.Public) {
			// The deposed leader's unacknowledged key is the new leader's
			// next index: it was generated again (same seed, same index),
			// so every replica holds it.
			t.Logf("unacknowledged key of the deposed leader not reissued (fine)")
		}
	})

	t.Run("a walletd ahead of the keystore has its counters adopted at promotion", func(t *testing.T) {
		cur := followers[0] // leader of term 2
		// A generate whose commit never happened (the client got an error).
		k, err := cur.w.client.GenerateFactoidAddress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen.addKeys(k)
		cur.r.OnDemote(2)
		cur.follow(top)
		if err := cur.r.Promote(ctx, 3); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(cur.logs.String(), `"event":"keystore_counters_adopted"`) {
			t.Fatal("no keystore_counters_adopted line")
		}
		res, err := write(t, cur, 3, walletd.MethodGenerateFactoidAddress, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := generated(t, res)
		seen.addKeys(n)
		if acked[n.Public] || n.Public == k.Public {
			t.Fatal("an issued key was handed out again")
		}
		if strings.Contains(cur.logs.String(), `"event":"keystore_counter_skipped"`) {
			t.Fatal("the adopted counter did not match walletd's")
		}
		// Every replica ends up holding the adopted key too.
		gen := cur.r.AppliedGeneration()
		err = testenv.Eventually(30*time.Second, 20*time.Millisecond, appliedInSync(gen, leader, followers[1]))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []*replica{leader, followers[1]} {
			if _, keys := keySet(t, f.w); !strings.Contains(strings.Join(keys, "\n"), k.Public) {
				t.Errorf("%s lacks the adopted key", f.name)
			}
		}
	})

	t.Run("followers recover when the API server restarts", func(t *testing.T) {
		followersRecoverWhenTheAPIServerRestarts(t, seen, acked, leader, followers)
	})
	t.Run("a follower whose walletd restarts on an emptied wallet is replayed", func(t *testing.T) {
		anEmptiedFollowerIsReplayed(t, followers)
	})
}
