package walletsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
	"github.com/prometheus/common/expfmt"
)

// Parts of TestReplication (replication_test.go), each run on the
// replicas that test builds up.

// checkNothingLeaked looks for every seed and private key the test saw
// in each replica's logs, probe body, metrics and Events.
func checkNothingLeaked(t *testing.T, seen *secrets, all []*replica) {
	for _, rep := range all {
		seen.check(t, rep.name+" logs", rep.logs.String())
		body, _ := json.Marshal(rep.r.ReadyCheck()())
		seen.check(t, rep.name+" probe body", string(body))
		mfs, err := rep.reg.Gather()
		if err != nil {
			t.Error(err)
		}
		var sb strings.Builder
		for _, mf := range mfs {
			_, _ = expfmt.MetricFamilyToText(&sb, mf)
		}
		seen.check(t, rep.name+" metrics", sb.String())
		for _, e := range eventsFor(t, rep.name, "") {
			seen.check(t, rep.name+" events", e)
		}
	}
	if t.Failed() {
		for _, rep := range all {
			t.Logf("--- %s logs:\n%s", rep.name, rep.logs.String())
		}
	}
}

// walletdInitWritesEveryKey: a wallet file written by walletd-init from
// the keystore opens in walletd with the leader's seed and keys, and its
// counters continue where the keystore's stop.
func walletdInitWritesEveryKey(t *testing.T, key *keystore.SealKey, w0 *walletProc, seen *secrets, acked map[string]bool) {
	ctx := context.Background()
	path := walletPath(t, "init-check")
	res, err := walletsync.InitWallet(ctx, newStore(t, key), path, false)
	if err != nil {
		t.Fatal(err)
	}
	w := startWalletd(t, path)
	seed, keys := keySet(t, w)
	seed0, keys0 := keySet(t, w0)
	if seed != seed0 || !slices.Equal(keys, keys0) {
		t.Fatalf("wallet from walletd-init (%d keys written): %d keys, leader %d", res.Keys, len(keys), len(keys0))
	}
	// Its counters continue where the keystore's stop.
	k, err := w.client.GenerateFactoidAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen.addKeys(k)
	if acked[k.Public] {
		t.Fatal("a wallet from walletd-init handed out an already issued address")
	}
	w.proc.Stop(5 * time.Second)
	// An existing wallet with the same seed is left alone.
	if res, err := walletsync.InitWallet(ctx, newStore(t, key), path, false); err != nil || res.Outcome != walletsync.InitExistsSameSeed {
		t.Fatalf("second walletd-init: %+v %v", res, err)
	}
}

// followersRecoverWhenTheAPIServerRestarts: the term-3 leader writes
// through an API server restart and the followers catch up.
func followersRecoverWhenTheAPIServerRestarts(t *testing.T, seen *secrets, acked map[string]bool, leader *replica, followers []*replica) {
	cur := followers[0] // leader of term 3
	if err := kube.Restart(); err != nil {
		t.Fatal(err)
	}
	var res json.RawMessage
	err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		r, err := write(t, cur, 3, walletd.MethodGenerateECAddress, nil)
		if r != nil {
			seen.addKeys(generated(t, r))
		}
		if err != nil {
			return false, err
		}
		res = r
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	acked[generated(t, res).Public] = true
	gen := cur.r.AppliedGeneration()
	err = testenv.Eventually(60*time.Second, 20*time.Millisecond, appliedInSync(gen, leader, followers[1]))
	if err != nil {
		t.Fatal(err)
	}
	// The lag histogram saw every applied generation.
	mfs, _ := followers[1].reg.Gather()
	var count uint64
	for _, mf := range mfs {
		if mf.GetName() == "factom_sidecar_replication_lag_seconds" {
			count = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	if count < 5 {
		t.Errorf("replication lag observed %d times", count)
	}
}

// anEmptiedFollowerIsReplayed: a follower whose walletd restarts on a
// seed-only wallet gets every key back.
func anEmptiedFollowerIsReplayed(t *testing.T, followers []*replica) {
	f := followers[1]
	gen := followers[0].r.AppliedGeneration()
	seed, _ := keySet(t, f.w)
	f.w.restartSeedOnly(t, seed)
	_, want := keySet(t, followers[0].w)
	err := testenv.Eventually(60*time.Second, 50*time.Millisecond, func() (bool, error) {
		if !f.r.InSync() || f.r.AppliedGeneration() != gen {
			return false, errors.New(f.r.ReadyCheck()().Reason)
		}
		_, got := keySet(t, f.w)
		if !slices.Equal(got, want) {
			return false, fmt.Errorf("%d keys, want %d", len(got), len(want))
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.logs.String(), `"event":"keystore_walletd_changed"`) {
		t.Error("no keystore_walletd_changed line")
	}
}
