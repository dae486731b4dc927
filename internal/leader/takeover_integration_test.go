package leader_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// takeoverCluster is three walletd pods whose walletd sits behind a
// TCPProxy (to hold a write in flight) and, with advertiseProxies, whose
// advertised addresses are TCPProxies of the test (to close them while the
// sidecar lives).
type takeoverCluster struct {
	*cluster
	mu        sync.Mutex
	walletd   map[string]*testenv.TCPProxy
	advertise map[string][]*testenv.TCPProxy
}

func newTakeoverCluster(t *testing.T, advertiseProxies bool) *takeoverCluster {
	t.Helper()
	tc := &takeoverCluster{walletd: map[string]*testenv.TCPProxy{}, advertise: map[string][]*testenv.TCPProxy{}}
	opts := testenv.ClusterOptions{
		Dir: t.TempDir(), Sidecar: env.sidecarBin,
		LeaseDuration: testLease, RenewDeadline: testRenew, RetryPeriod: testRetry,
		Walletd: func(pod int, addr string) string {
			p, err := testenv.StartTCPProxy(addr)
			if err != nil {
				t.Fatal(err)
			}
			tc.mu.Lock()
			tc.walletd[testenv.PodName(pod)] = p
			tc.mu.Unlock()
			return p.Addr()
		},
	}
	if advertiseProxies {
		opts.SidecarArgs = func(p *testenv.WalletPod) []string {
			probe, err := testenv.StartTCPProxyAvoiding(p.Listen, p.Listen, p.ProxyAddr)
			if err != nil {
				t.Fatal(err)
			}
			prox, err := testenv.StartTCPProxyAvoiding(p.ProxyAddr, p.Listen, p.ProxyAddr)
			if err != nil {
				t.Fatal(err)
			}
			tc.mu.Lock()
			tc.advertise[p.Name] = []*testenv.TCPProxy{probe, prox}
			tc.mu.Unlock()
			return []string{"--advertise-address", probe.Addr(), "--advertise-proxy-address", prox.Addr()}
		}
	}
	tc.cluster = startCluster(t, opts, func() {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		for _, p := range tc.walletd {
			p.Close()
		}
		for _, ps := range tc.advertise {
			for _, p := range ps {
				p.Close()
			}
		}
	})
	return tc
}

// holdWrite sends a write to r and holds it at r's walletd: a write in
// flight. The channel gets the client's outcome.
func (tc *takeoverCluster) holdWrite(t *testing.T, r *replica) (*testenv.TCPProxy, chan error) {
	t.Helper()
	tc.mu.Lock()
	held := tc.walletd[r.name]
	tc.mu.Unlock()
	held.HoldRequests()
	inflight := make(chan error, 1)
	go func() {
		_, err := generate(r)
		inflight <- err
	}()
	if err := testenv.Eventually(10*time.Second, 10*time.Millisecond, func() (bool, error) {
		return held.RequestsWaiting() > 0, fmt.Errorf("the write did not reach walletd")
	}); err != nil {
		t.Fatal(err)
	}
	return held, inflight
}

func generate(r *replica) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var res struct {
		Public string `json:"public"`
	}
	err := jsonrpc.New(r.pod.ProxyURL(), jsonrpc.Options{Timeout: 20 * time.Second}).Call(ctx, "generate-ec-address", nil, &res)
	return res.Public, err
}

// walletdKeys is every public address a replica's walletd holds.
func walletdKeys(t *testing.T, r *replica) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res struct {
		Addresses []struct {
			Public string `json:"public"`
		} `json:"addresses"`
	}
	if err := jsonrpc.New(r.pod.Walletd.URL(), jsonrpc.Options{Timeout: 10 * time.Second}).Call(ctx, "all-addresses", nil, &res); err != nil {
		t.Fatalf("%s all-addresses: %v", r.name, err)
	}
	keys := map[string]bool{}
	for _, a := range res.Addresses {
		keys[a.Public] = true
	}
	return keys
}

// expectAckedEverywhere waits until every replica is ready (in sync) and
// checks that each walletd holds every acknowledged key.
func (tc *takeoverCluster) expectAckedEverywhere(t *testing.T, acked []string) {
	t.Helper()
	for _, r := range tc.replicas {
		if err := testenv.Eventually(time.Minute, 100*time.Millisecond, func() (bool, error) {
			code := r.probe("/readyz")
			return code == http.StatusOK, fmt.Errorf("%s /readyz %d", r.name, code)
		}); err != nil {
			t.Fatal(err)
		}
		// Ready means in sync with the newest version seen; the newest
		// commit may still be on its way to a follower.
		if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
			keys := walletdKeys(t, r)
			for i, k := range acked {
				if !keys[k] {
					return false, fmt.Errorf("acknowledged address #%d of %d (%s) missing on %s", i+1, len(acked), k, r.name)
				}
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// logLine is the first JSON line of p with event and term.
func logLine(p *testenv.Process, event string, term int64) map[string]any {
	for _, line := range strings.Split(p.Logs(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == event && m["term"] == float64(term) {
			return m
		}
	}
	return nil
}

func leaseExpiry(l *coordinationv1.Lease) time.Time {
	return l.Spec.RenewTime.Time.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
}

func TestEarlyTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server and sidecars")
	}
	tc := newTakeoverCluster(t, false)
	lead, term := tc.writableLeader(-1, time.Minute)
	var acked []string

	t.Run("SIGKILL of the leader's sidecar, walletd alive: another replica writable before the lease would expire; the in-flight write is not acknowledged", func(t *testing.T) {
		for range 3 {
			k, err := generate(lead)
			if err != nil {
				t.Fatal(err)
			}
			acked = append(acked, k)
		}
		old := lead
		held, inflight := tc.holdWrite(t, old)
		// The old lease's expiry by its holder's own record, read before
		// the kill: any later renewal only moves it further out.
		before := getLease(t)
		expiry := leaseExpiry(before)
		if err := old.sidecar.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-old.sidecar.Done()
		lead, term = tc.writableLeader(term, time.Minute)
		after := getLease(t)
		if *after.Spec.HolderIdentity != lead.name || !after.Spec.AcquireTime.Time.Before(expiry) {
			t.Fatalf("lease held by %s acquired at %s; want %s before the old lease's expiry %s", *after.Spec.HolderIdentity, after.Spec.AcquireTime.Time, lead.name, expiry)
		}
		if err := <-inflight; err == nil {
			t.Fatal("the write in flight on the killed sidecar was acknowledged")
		}
		held.ReleaseRequests() // walletd does it now, for nobody
		line := logLine(lead.sidecar, "leader_takeover_early", term)
		if line == nil || line["evidence"] != leader.EvidenceRefused || line["from"] != old.name {
			t.Fatalf("leader_takeover_early line of %s: %v", lead.name, line)
		}
		expectEvent(t, lead.name, "LeaderTakeoverEarly", "connections refused at "+old.listen)
		k, err := generate(lead)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acked {
			if a == k {
				t.Fatalf("new leader handed out %s again", k)
			}
		}
		acked = append(acked, k)

		// The kubelet restarts the container: a new process of the pod,
		// a follower, never under its previous process's term.
		prevProcess := before.Annotations[leader.AnnotationProcess]
		old.restart()
		if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
			s, err := old.status()
			if err != nil {
				return false, err
			}
			if s.Role != leader.RoleFollower || s.Holder != lead.name || s.Process == prevProcess || s.Process == "" {
				return false, fmt.Errorf("restarted %s status %+v (previous process %s)", old.name, s, prevProcess)
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		tc.expectRoles(lead)
		tc.expectAckedEverywhere(t, acked)
	})

	t.Run("SIGSTOP of the leader: timeouts are no evidence; the takeover waits for the lease", func(t *testing.T) {
		old, oldTerm := lead, term
		before := getLease(t)
		if err := old.sidecar.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped := true
		defer func() {
			if stopped {
				_ = old.sidecar.Signal(syscall.SIGCONT)
			}
		}()
		lead, term = tc.writableLeader(oldTerm, time.Minute)
		after := getLease(t)
		if after.Spec.AcquireTime.Time.Before(leaseExpiry(before)) {
			t.Fatalf("lease taken at %s, before the paused holder's lease expired (%s)", after.Spec.AcquireTime.Time, leaseExpiry(before))
		}
		for _, r := range tc.replicas {
			if logLine(r.sidecar, "leader_takeover_early", term) != nil {
				t.Fatalf("%s took over early from a paused leader", r.name)
			}
		}
		if line := logLine(lead.sidecar, "leader_elected", term); line == nil || line["reason"] != "lease expired" {
			t.Fatalf("leader_elected of %s: %v", lead.name, line)
		}
		if err := old.sidecar.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		stopped = false
		tc.expectRoles(lead)
		tc.expectAckedEverywhere(t, acked)
	})
}

func TestEarlyTakeoverFalsePositive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server and sidecars")
	}
	tc := newTakeoverCluster(t, true)
	old, oldTerm := tc.writableLeader(-1, time.Minute)
	var acked []string
	for range 3 {
		k, err := generate(old)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, k)
	}
	// A write admitted under the old term waits at walletd while the
	// leader is deposed.
	held, inflight := tc.holdWrite(t, old)
	before := getLease(t)
	// Refusals while the leader lives: its advertised ports close, its own
	// listeners and its API connection stay up.
	tc.mu.Lock()
	for _, p := range tc.advertise[old.name] {
		p.Close()
	}
	tc.mu.Unlock()
	var after *coordinationv1.Lease
	if err := testenv.Eventually(time.Minute, 20*time.Millisecond, func() (bool, error) {
		after = getLease(t)
		return *after.Spec.HolderIdentity != old.name, fmt.Errorf("lease still held by %s", old.name)
	}); err != nil {
		t.Fatal(err)
	}
	held.ReleaseRequests()
	if !after.Spec.AcquireTime.Time.Before(leaseExpiry(before)) {
		t.Fatalf("lease taken at %s, not before the live holder's lease would have expired (%s)", after.Spec.AcquireTime.Time, leaseExpiry(before))
	}
	lead, term := tc.writableLeader(oldTerm, time.Minute)
	if lead == old || lead.name != *after.Spec.HolderIdentity {
		t.Fatalf("writable leader %s, lease holder %s", lead.name, *after.Spec.HolderIdentity)
	}
	if err := <-inflight; err == nil {
		t.Fatal("the old leader acknowledged a write after it was deposed")
	}
	// It learned from its Lease watch, not from a failed renewal, and its
	// commit failed on the keystore's term.
	expectLog(t, old.sidecar, "keystore_fenced", oldTerm)
	if line := logLine(old.sidecar, "leader_lost", oldTerm); line == nil || !strings.HasPrefix(fmt.Sprint(line["reason"]), "lease taken by ") {
		t.Fatalf("leader_lost of the deposed leader: %v", line)
	}
	if a, err := old.leader(); err != nil || a.code != http.StatusServiceUnavailable {
		t.Fatalf("deposed leader /leader: %+v, %v", a, err)
	}
	expectLog(t, lead.sidecar, "leader_takeover_early", term)
	k, err := generate(lead)
	if err != nil {
		t.Fatal(err)
	}
	acked = append(acked, k)
	tc.expectRoles(lead)
	tc.expectAckedEverywhere(t, acked)
}
