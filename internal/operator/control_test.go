package operator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/operator"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func leaseDuration() time.Duration { return env.cluster.Opts.LeaseDuration }

func pausedMetric(p *testenv.WalletPod) (string, error) {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + p.Listen + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "factom_sidecar_failover_paused "); ok {
			return v, nil
		}
	}
	return "", errors.New("no factom_sidecar_failover_paused in /metrics")
}

func pauseHoldsFailoverAndResumeHandsItOver(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	leader, err := env.cluster.Leader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r := run(t, "pause"); r.code != 0 {
		t.Fatalf("pause: exit %d: %s", r.code, r.stderr)
	}
	resumed := false
	defer func() {
		if !resumed {
			run(t, "resume")
		}
	}()
	rep, _ := status(t)
	if !rep.Lease.Paused {
		t.Errorf("status -o json after pause: lease.paused false")
	}
	table := run(t, "status")
	if !strings.Contains(table.stdout, "failover PAUSED") || !strings.Contains(table.stdout, "leader (paused)") {
		t.Errorf("table does not show the pause:\n%s", table.stdout)
	}
	for _, p := range env.cluster.Pods {
		err := testenv.Eventually(10*time.Second, 100*time.Millisecond, func() (bool, error) {
			v, err := pausedMetric(p)
			return v == "1", fmt.Errorf("%s: factom_sidecar_failover_paused %q: %v", p.Name, v, err)
		})
		if err != nil {
			t.Error(err)
		}
	}

	leader.Kill()
	// Three lease durations without a takeover: the crashed leader's Lease
	// expired long before the end, and nobody took it.
	until := time.Now().Add(3 * leaseDuration())
	for time.Now().Before(until) {
		for _, p := range env.cluster.Pods {
			if p != leader && p.IsWritableLeader() {
				t.Fatalf("%s became the writable leader while failover was paused", p.Name)
			}
		}
		l, err := env.admin.CoordinationV1().Leases(env.cluster.Namespace).Get(t.Context(), "factom-walletd-leader", metaGet)
		if err != nil {
			t.Fatal(err)
		}
		if h := *l.Spec.HolderIdentity; h != leader.Name {
			t.Fatalf("lease taken by %q while failover was paused", h)
		}
		time.Sleep(100 * time.Millisecond) // the pace of the check, not a wait for a condition
	}
	if r := run(t, "status"); r.code == 0 {
		t.Errorf("status exits 0 with the paused leader dead:\n%s", r.stdout)
	}

	if r := run(t, "resume"); r.code != 0 {
		t.Fatalf("resume: exit %d: %s", r.code, r.stderr)
	}
	resumed = true
	start := time.Now()
	next, err := env.cluster.Leader(leaseDuration() + 10*time.Second)
	if err != nil {
		t.Fatalf("no takeover after resume: %v", err)
	}
	t.Logf("%s writable %s after resume (lease duration %s)", next.Name, time.Since(start).Round(time.Millisecond), leaseDuration())
	for _, p := range env.cluster.Pods {
		if p == leader {
			continue
		}
		if v, err := pausedMetric(p); v != "0" {
			t.Errorf("%s: factom_sidecar_failover_paused %q after resume: %v", p.Name, v, err)
		}
	}
	if err := leader.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 3*time.Minute, "healthy after the old leader restarted", healthy)
}

// writeLoop generates EC addresses on whichever pod is the writable
// leader until stopped, and records what was acknowledged and what failed.
type writeLoop struct {
	mu     sync.Mutex
	acked  []string
	failed []error
	stop   chan struct{}
	done   chan struct{}
}

func startWrites() *writeLoop {
	w := &writeLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			var target *testenv.WalletPod
			for _, p := range env.cluster.Pods {
				if p.IsWritableLeader() {
					target = p
				}
			}
			if target == nil {
				continue
			}
			var key struct {
				Public string `json:"public"`
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := jsonrpc.New(target.ProxyURL(), jsonrpc.Options{Timeout: 10 * time.Second}).Call(ctx, "generate-ec-address", nil, &key)
			cancel()
			w.mu.Lock()
			if err != nil {
				w.failed = append(w.failed, err)
			} else {
				w.acked = append(w.acked, key.Public)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *writeLoop) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *writeLoop) end() {
	close(w.stop)
	<-w.done
}

func switchoverToANamedPodDuringWrites(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	leader, err := env.cluster.Leader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	target := env.cluster.Pods[2]
	if target == leader {
		target = env.cluster.Pods[1]
	}
	w := startWrites()
	defer func() {
		select {
		case <-w.done:
		default:
			w.end()
		}
	}()
	if err := testenv.Eventually(time.Minute, 50*time.Millisecond, func() (bool, error) { return w.count() >= 5, nil }); err != nil {
		t.Fatal("the write loop acknowledged nothing")
	}
	r := run(t, "switchover", "--to", target.Name)
	if r.code != 0 {
		t.Fatalf("switchover --to %s: exit %d\n%s%s", target.Name, r.code, r.stdout, r.stderr)
	}
	t.Log(strings.TrimSpace(r.stdout))
	if !target.IsWritableLeader() {
		t.Fatalf("switchover returned but %s is not the writable leader", target.Name)
	}
	before := w.count()
	if err := testenv.Eventually(time.Minute, 50*time.Millisecond, func() (bool, error) { return w.count() >= before+5, nil }); err != nil {
		t.Fatal("no writes acknowledged after the switchover")
	}
	w.end()
	for _, p := range env.cluster.Pods {
		if p != target && p.IsWritableLeader() {
			t.Errorf("%s is writable too", p.Name)
		}
	}
	// Every acknowledged address is in the new leader's walletd.
	var all struct {
		Addresses []struct {
			Public string `json:"public"`
		} `json:"addresses"`
	}
	if err := jsonrpc.New(target.Walletd.URL(), jsonrpc.Options{Timeout: 30 * time.Second}).Call(t.Context(), "all-addresses", nil, &all); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, a := range all.Addresses {
		have[a.Public] = true
	}
	lost := 0
	for _, a := range w.acked {
		if !have[a] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged addresses missing on %s", lost, len(w.acked), target.Name)
	}
	// A write that failed got a JSON-RPC error that says why.
	for _, err := range w.failed {
		var rpcErr *jsonrpc.RPCError
		if !errors.As(err, &rpcErr) || rpcErr.Message == "" {
			t.Errorf("a failed write got %v, want a JSON-RPC error with a message", err)
		}
	}
	t.Logf("%d writes acknowledged, none lost; %d failed during the switchover: %v", len(w.acked), len(w.failed), w.failed)
}

func switchoverToAnOutOfSyncReplicaIsRefused(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	leader, follower, restart := stopFollowerWalletd(t)
	defer restart()
	// A write the stopped follower cannot apply puts it behind.
	var key struct {
		Public string `json:"public"`
	}
	if err := jsonrpc.New(leader.ProxyURL(), jsonrpc.Options{Timeout: 10 * time.Second}).Call(t.Context(), "generate-ec-address", nil, &key); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, time.Minute, "follower behind", func(rep *operator.Report, _ result) error {
		if w := walletRow(rep, follower.Name); w.InSync && w.AppliedGeneration >= rep.Keystore.Generation {
			return fmt.Errorf("%s still in sync: %+v", follower.Name, w)
		}
		return nil
	})
	r := run(t, "switchover", "--to", follower.Name)
	if r.code == 0 {
		t.Fatalf("switchover to out-of-sync %s succeeded:\n%s", follower.Name, r.stdout)
	}
	if !strings.Contains(r.stderr, "switchover refused") || !strings.Contains(r.stderr, follower.Name) ||
		!strings.Contains(r.stderr, "not in sync") {
		t.Errorf("refusal does not give the reason: %s", r.stderr)
	}
	t.Log(strings.TrimSpace(r.stderr))
	if !leader.IsWritableLeader() {
		t.Errorf("%s lost the leadership to a refused switchover", leader.Name)
	}
	restart()
	waitStatus(t, 2*time.Minute, "healthy after walletd restarted", healthy)
}

// Last: every sidecar restarts (the leader last), then the history still
// lists every transition of the tests, in order, with its reason.
func historyOutlivesSidecarRestarts(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	leader, err := env.cluster.Leader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pods := append([]*testenv.WalletPod{}, env.cluster.Pods...)
	for i, p := range pods {
		if p == leader {
			pods[i], pods[len(pods)-1] = pods[len(pods)-1], pods[i]
		}
	}
	for _, p := range pods {
		p.Sidecar.Stop(10 * time.Second)
		if err := p.StartSidecar(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus(t, 3*time.Minute, "healthy after the restarts", healthy)

	r := run(t, "history", "-o", "json")
	if r.code != 0 {
		t.Fatalf("history: exit %d: %s", r.code, r.stderr)
	}
	var h operator.History
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("history -o json: %v\n%s", err, r.stdout)
	}
	var reasons []string
	for i, e := range h.Transitions {
		reasons = append(reasons, e.Reason)
		if e.To == "" || e.Reason == "" || e.Time.IsZero() || e.TookMs < 0 {
			t.Errorf("entry %d incomplete: %+v", i, e)
		}
		if i > 0 && (e.Term <= h.Transitions[i-1].Term || e.Time.Before(h.Transitions[i-1].Time)) {
			t.Errorf("entry %d (term %d, %s) does not follow term %d (%s)", i, e.Term, e.Time, h.Transitions[i-1].Term, h.Transitions[i-1].Time)
		}
	}
	// The tests caused, in this order: the first election, the takeover
	// after resume, the switchover and the leader's restart.
	for _, want := range []string{"no lease yet", "lease expired (after an operator hold)", "switchover", "lease released"} {
		if !slices.Contains(reasons, want) {
			t.Errorf("no transition with reason %q in the history: %q", want, reasons)
		}
	}
	if len(h.Transitions) > control.HistoryLimit {
		t.Errorf("%d entries, more than %d", len(h.Transitions), control.HistoryLimit)
	}
	table := run(t, "history")
	t.Logf("history:\n%s", table.stdout)
	for _, col := range []string{"TERM", "FROM", "TO", "REASON", "TIME", "TIME TO WRITABLE"} {
		if !strings.Contains(table.stdout, col) {
			t.Errorf("history table lacks %s", col)
		}
	}
}

// The pods here are processes posing as pods, owned by no StatefulSet:
// the rollout must refuse them, with the reason, and delete nothing. The
// real rollout runs on the real node (test/node).
func rolloutRefusesPodsNoStatefulSetOwns(t *testing.T) {
	before, err := env.admin.CoreV1().Pods(env.cluster.Namespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, "rollout", "update")
	if r.code == 0 || !strings.Contains(r.stderr, "rollout refused") || !strings.Contains(r.stderr, "not owned by a StatefulSet") {
		t.Fatalf("rollout update: exit %d, stderr %q; want a refusal naming the unowned pod", r.code, r.stderr)
	}
	after, err := env.admin.CoreV1().Pods(env.cluster.Namespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(before.Items) {
		t.Fatalf("%d pods before the refused rollout, %d after", len(before.Items), len(after.Items))
	}
}
