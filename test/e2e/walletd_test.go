package e2e

import (
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func TestWritesThroughTheLeaderReachEveryReplica(t *testing.T) {
	c := newCluster(t, testenv.ClusterOptions{})
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var seen secrets
	api := viaProxy(leader)
	ctx := ctxT(t, 2*time.Minute)
	var keys []walletd.Key
	for _, gen := range []func() (walletd.Key, error){
		func() (walletd.Key, error) { return api.GenerateECAddress(ctx) },
		func() (walletd.Key, error) { return api.GenerateFactoidAddress(ctx) },
		func() (walletd.Key, error) { return api.GenerateIdentityKey(ctx) },
		func() (walletd.Key, error) { return api.GenerateECAddress(ctx) },
	} {
		k, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	seen.addKeys(keys...)
	// Remove one key through the leader: it disappears everywhere.
	if err := api.RemoveAddress(ctx, keys[3].Public); err != nil {
		t.Fatal(err)
	}

	want := waitReplicated(t, c, leader)
	for _, k := range keys[:3] {
		if !contains(want, k.Public) {
			t.Fatalf("the leader does not hold %s", k.Public)
		}
	}
	if contains(want, keys[3].Public) {
		t.Fatal("the removed address is still on the leader")
	}

	// Followers refuse writes and name the leader.
	for _, p := range c.Pods {
		if p == leader {
			continue
		}
		// A raw client: the typed walletd client withholds error messages.
		err := jsonrpc.New(p.ProxyURL(), jsonrpc.Options{Timeout: 10 * time.Second}).Call(ctx, "generate-ec-address", nil, nil)
		if err == nil {
			t.Fatalf("%s (a follower) accepted a write", p.Name)
		}
		if !strings.Contains(err.Error(), leader.Name) {
			t.Errorf("%s's refusal does not name the leader: %v", p.Name, err)
		}
	}

	// Every replica holds the same seed.
	var seed string
	for _, p := range c.Pods {
		b, err := direct(p).WalletBackup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen.add(b.Seed)
		if seed == "" {
			seed = b.Seed.Reveal()
		} else if b.Seed.Reveal() != seed {
			t.Fatalf("%s holds another seed", p.Name)
		}
	}
	seen.addBackup(t, direct(leader))
	seen.checkNoLeaks(t, c)
}

func TestParallelWritesGetDistinctAddresses(t *testing.T) {
	c := newCluster(t, testenv.ClusterOptions{})
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	api := viaProxy(leader)
	ctx := ctxT(t, 5*time.Minute)
	const n = 50
	var (
		mu   sync.Mutex
		got  = map[string]bool{}
		errs []error
		wg   sync.WaitGroup
		seen secrets
	)
	for range n {
		wg.Go(func() {
			k, err := api.GenerateECAddress(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			got[k.Public] = true
			seen.addKeys(k)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d writes failed, first: %v", len(errs), n, errs[0])
	}
	if len(got) != n {
		t.Fatalf("%d parallel generate-ec-address calls returned %d distinct addresses", n, len(got))
	}
	all := waitReplicated(t, c, leader)
	for k := range got {
		if !contains(all, k) {
			t.Fatalf("address %s is not replicated", k)
		}
	}
	seen.checkNoLeaks(t, c)
}

func TestCrashedLeaderLosesNoAcknowledgedKey(t *testing.T) {
	c := newCluster(t, testenv.ClusterOptions{})
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	api := viaProxy(leader)
	ctx := ctxT(t, 5*time.Minute)
	var acked []string
	var seen secrets
	for i := range 12 {
		var k walletd.Key
		var err error
		switch i % 3 {
		case 0:
			k, err = api.GenerateECAddress(ctx)
		case 1:
			k, err = api.GenerateFactoidAddress(ctx)
		default:
			k, err = api.GenerateIdentityKey(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, k.Public)
		seen.addKeys(k)
	}
	// Every key any replica ever held before the crash.
	issued := map[string]bool{}
	for _, p := range c.Pods {
		for _, k := range publicKeys(t, direct(p)) {
			issued[k] = true
		}
	}

	next, _ := crashLeader(t, c, leader, acked)
	api = viaProxy(next)
	for name, gen := range map[string]func() (walletd.Key, error){
		"generate-ec-address":      func() (walletd.Key, error) { return api.GenerateECAddress(ctx) },
		"generate-factoid-address": func() (walletd.Key, error) { return api.GenerateFactoidAddress(ctx) },
		"generate-identity-key":    func() (walletd.Key, error) { return api.GenerateIdentityKey(ctx) },
	} {
		k, err := gen()
		if err != nil {
			t.Fatalf("%s on the new leader: %v", name, err)
		}
		seen.addKeys(k)
		if issued[k.Public] {
			t.Fatalf("%s on the new leader returned %s, which a replica had issued before", name, k.Public)
		}
	}
	seen.checkNoLeaks(t, c)
}

func TestDeposedLeaderGetsNoWriteAcknowledged(t *testing.T) {
	c := newCluster(t, testenv.ClusterOptions{})
	old, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)
	if _, err := viaProxy(old).GenerateECAddress(ctx); err != nil {
		t.Fatal(err)
	}
	// Pause the leader's sidecar past its lease: another replica takes over.
	if err := old.Sidecar.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var next *testenv.WalletPod
	err = testenv.Eventually(60*time.Second, 100*time.Millisecond, func() (bool, error) {
		for _, p := range c.Pods {
			if p != old && p.IsWritableLeader() {
				next = p
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		_ = old.Sidecar.Signal(syscall.SIGCONT)
		t.Fatal(err)
	}
	newKey, err := viaProxy(next).GenerateECAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Sidecar.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The woken leader answers writes with an error, never a result.
	for range 5 {
		if k, err := viaProxy(old).GenerateECAddress(ctx); err == nil {
			t.Fatalf("the deposed leader acknowledged a write (%s)", k.Public)
		}
	}
	if old.IsWritableLeader() {
		t.Fatal("the deposed leader still reports itself writable")
	}
	// It ends consistent with the replicated keystore.
	want := waitReplicated(t, c, next)
	if !contains(want, newKey.Public) {
		t.Fatal("the new leader lost its own write")
	}
}

func TestAPIServerOutage(t *testing.T) {
	c := newCluster(t, testenv.ClusterOptions{})
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)
	k, err := viaProxy(leader).GenerateECAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, c, leader)

	kube.StopAPIServer()
	restarted := false
	defer func() {
		if !restarted {
			_ = kube.StartAPIServer()
		}
	}()
	// Writes are refused (never acknowledged) once the leader cannot renew.
	err = testenv.Eventually(60*time.Second, 200*time.Millisecond, func() (bool, error) {
		_, err := viaProxy(leader).GenerateECAddress(ctx)
		return err != nil, nil
	})
	if err != nil {
		t.Fatal("writes were still acknowledged with the API server down:", err)
	}
	// Reads are still served by the replicas that hold the keystore.
	for _, p := range c.Pods {
		addrs, err := viaProxy(p).AllAddresses(ctx)
		if err != nil {
			t.Fatalf("%s refused a read with the API server down: %v", p.Name, err)
		}
		found := false
		for _, a := range addrs {
			found = found || a.Public == k.Public
		}
		if !found {
			t.Fatalf("%s's read misses an acknowledged address", p.Name)
		}
	}

	if err := kube.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	next, err := c.Leader(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = testenv.Eventually(60*time.Second, 200*time.Millisecond, func() (bool, error) {
		_, err := viaProxy(next).GenerateECAddress(ctx)
		return err == nil, err
	})
	if err != nil {
		t.Fatal("writes did not resume after the API server came back:", err)
	}
}
