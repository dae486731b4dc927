package operator_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/operator"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// status decodes `status -o json` and returns it with the exit code.
func status(t *testing.T) (*operator.Report, result) {
	t.Helper()
	r := run(t, "status", "-o", "json")
	var rep operator.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("status -o json: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return &rep, r
}

// waitStatus polls status until cond holds.
func waitStatus(t *testing.T, timeout time.Duration, what string, cond func(*operator.Report, result) error) (*operator.Report, result) {
	t.Helper()
	var rep *operator.Report
	var res result
	err := testenv.Eventually(timeout, 300*time.Millisecond, func() (bool, error) {
		rep, res = status(t)
		if err := cond(rep, res); err != nil {
			return false, err
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%s: %v\nlast status: %s\n%s", what, err, res.stdout, res.stderr)
	}
	return rep, res
}

func healthy(rep *operator.Report, res result) error {
	if res.code != 0 || !rep.Healthy {
		return fmt.Errorf("exit %d, problems %v", res.code, rep.Problems)
	}
	return nil
}

func walletRow(rep *operator.Report, pod string) operator.WalletRow {
	for _, w := range rep.Wallet {
		if w.Pod == pod {
			return w
		}
	}
	return operator.WalletRow{}
}

func statusOnAHealthySystem(t *testing.T) {
	rep, _ := waitStatus(t, 3*time.Minute, "healthy", healthy)
	leader, err := env.cluster.Leader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Wallet) != 3 || len(rep.Bridge) != 2 {
		t.Fatalf("%d wallet and %d bridge rows, want 3 and 2", len(rep.Wallet), len(rep.Bridge))
	}
	if rep.Lease.Holder != leader.Name {
		t.Errorf("lease holder %q, want the writable leader %s", rep.Lease.Holder, leader.Name)
	}
	for _, w := range rep.Wallet {
		wantRole := "follower"
		if w.Pod == leader.Name {
			wantRole = "leader"
		}
		if w.Role != wantRole || w.Writable != (w.Pod == leader.Name) || !w.InSync || !w.WalletdOK || w.AppliedGeneration != rep.Keystore.Generation {
			t.Errorf("row %+v: want role %s, in sync at generation %d, walletd ok", w, wantRole, rep.Keystore.Generation)
		}
	}
	for _, b := range rep.Bridge {
		if !b.Ready || b.LocalHeight == nil || b.NetworkHeight == nil || b.EntryHeight == nil || b.Lag == nil {
			t.Errorf("bridge row %+v: want ready with heights", b)
		}
	}

	table := run(t, "status")
	if table.code != 0 {
		t.Fatalf("status exit %d: %s", table.code, table.stderr)
	}
	for _, want := range []string{"POD", "ROLE", "TERM", "WRITABLE", "IN SYNC", "APPLIED GEN", "WALLETD", "LAST TRANSITION",
		"READY", "REASON", "LOCAL", "NETWORK", "ENTRY", "LAG", leader.Name, "factom-bridge-1", "failover enabled"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, table.stdout)
		}
	}
	if strings.Contains(table.stdout, "NODE") {
		t.Errorf("plain table shows the wide columns:\n%s", table.stdout)
	}
	wide := run(t, "status", "-o", "wide")
	if !strings.Contains(wide.stdout, "NODE") || !strings.Contains(wide.stdout, "IP") {
		t.Errorf("-o wide lacks the IP and NODE columns:\n%s", wide.stdout)
	}
	yaml := run(t, "status", "-o", "yaml")
	if !strings.Contains(yaml.stdout, "kind: Status") || !strings.Contains(yaml.stdout, "holder: "+leader.Name) {
		t.Errorf("-o yaml:\n%s", yaml.stdout)
	}
}

func statusShowsAFollowerWhoseWalletdStopped(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	_, follower, restart := stopFollowerWalletd(t)
	defer restart()
	rep, res := waitStatus(t, time.Minute, "walletd stopped shows", func(rep *operator.Report, res result) error {
		if w := walletRow(rep, follower.Name); w.WalletdOK {
			return fmt.Errorf("%s walletd still ok: %+v", follower.Name, w)
		}
		return nil
	})
	if res.code == 0 || rep.Healthy {
		t.Errorf("exit %d, healthy %v with %s's walletd stopped", res.code, rep.Healthy, follower.Name)
	}
	if !strings.Contains(res.stderr, follower.Name) || !strings.Contains(res.stderr, "unhealthy") {
		t.Errorf("stderr does not name the problem: %s", res.stderr)
	}
	table := run(t, "status")
	if table.code == 0 {
		t.Errorf("table status exits 0 with a walletd stopped")
	}
	t.Logf("status with %s's walletd stopped:\n%s%s", follower.Name, table.stdout, table.stderr)

	restart()
	waitStatus(t, 2*time.Minute, "healthy after walletd restarted", healthy)
}

// stopFollowerWalletd stops a follower's walletd; restart starts it again
// (once; later calls do nothing).
func stopFollowerWalletd(t *testing.T) (leader, follower *testenv.WalletPod, restart func()) {
	t.Helper()
	leader, err := env.cluster.Leader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range env.cluster.Pods {
		if p != leader {
			follower = p
			break
		}
	}
	follower.Walletd.Stop(5 * time.Second)
	var once sync.Once
	return leader, follower, func() {
		once.Do(func() {
			if err := follower.Walletd.Restart(); err != nil {
				t.Errorf("restart %s walletd: %v", follower.Name, err)
			}
		})
	}
}

func statusShowsAStoppedBridgeNode(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	if err := env.node2.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = env.node2.Signal(syscall.SIGCONT)
		}
	}()
	rep, res := waitStatus(t, time.Minute, "bridge unready shows", func(rep *operator.Report, res result) error {
		for _, b := range rep.Bridge {
			if b.Pod == "factom-bridge-1" && !b.Ready {
				return nil
			}
		}
		return fmt.Errorf("factom-bridge-1 still ready: %+v", rep.Bridge)
	})
	if res.code == 0 || rep.Healthy {
		t.Errorf("exit %d with factom-bridge-1 not ready", res.code)
	}
	for _, b := range rep.Bridge {
		if b.Pod == "factom-bridge-1" && (b.Reason == "" || b.Reason == "ok") {
			t.Errorf("unready bridge row without a reason: %+v", b)
		}
	}
	table := run(t, "status")
	t.Logf("status with factom-bridge-1's factomd stopped:\n%s%s", table.stdout, table.stderr)
	if err := env.node2.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitStatus(t, 3*time.Minute, "healthy after SIGCONT", healthy)
}

// statusShowsALaggingBridgeNode cuts node 2 off its peer: a real factomd
// that runs and answers but stays at its height while the network's
// grows. The table shows it lagging, with the heights, and exits 1; once
// the link is back it catches up and status is healthy again.
func statusShowsALaggingBridgeNode(t *testing.T) {
	waitStatus(t, 3*time.Minute, "healthy before", healthy)
	env.peerLink.Cut()
	restored := false
	defer func() {
		if !restored {
			env.peerLink.Restore()
		}
	}()
	rep, res := waitStatus(t, 2*time.Minute, "lagging bridge shows", func(rep *operator.Report, res result) error {
		for _, b := range rep.Bridge {
			if b.Pod == "factom-bridge-1" && !b.Ready && b.Reason == "lagging" {
				return nil
			}
		}
		return fmt.Errorf("factom-bridge-1 not shown lagging: %+v", rep.Bridge)
	})
	if res.code == 0 || rep.Healthy {
		t.Errorf("exit %d with factom-bridge-1 lagging", res.code)
	}
	for _, b := range rep.Bridge {
		if b.Pod != "factom-bridge-1" {
			continue
		}
		if b.Lag == nil || *b.Lag <= 2 || b.LocalHeight == nil || b.NetworkHeight == nil || *b.NetworkHeight-*b.LocalHeight != *b.Lag {
			t.Errorf("lagging bridge row without consistent heights (max lag 2): %+v", b)
		}
	}
	table := run(t, "status")
	if !strings.Contains(table.stdout, "lagging") {
		t.Errorf("status table does not say lagging:\n%s", table.stdout)
	}
	t.Logf("status with factom-bridge-1 cut off its peer:\n%s%s", table.stdout, table.stderr)
	env.peerLink.Restore()
	restored = true
	waitStatus(t, 3*time.Minute, "healthy after the link is back", healthy)
}
