package node

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// prometheus: a real Prometheus scrapes every sidecar through the shipped
// metrics Services, selected as the ServiceMonitor selects them, and
// evaluates the shipped alert rules. While the leader's sidecar is frozen
// (no scrape answers, the lease runs out) the no-writable-leader alert is
// pending; it clears once another replica leads.
func (d *deployment) prometheus(t *testing.T) {
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := d.node.Kubectl(ctx, "apply", "-n", d.ns, "-f", filepath.Join(root, "manifests/components/monitoring/metrics-services.yaml")); err != nil {
		t.Fatalf("apply the metrics Services: %v\n%s", err, out)
	}
	p, err := d.node.StartPrometheus(d.ns, filepath.Join(root, "manifests/helm/factom-sidecar/files/prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("prometheus:\n%s", lastLines(p.Logs(), 40))
		}
		p.Stop()
	}()
	const sidecars = 5 // two bridge pods, three wallet pods
	err = testenv.Eventually(2*time.Minute, 500*time.Millisecond, func() (bool, error) {
		up, err := p.Scalar(ctx, `count(up{job="factom-sidecar"} == 1)`)
		if err != nil {
			return false, err
		}
		leaders, err := p.Scalar(ctx, fmt.Sprintf(`sum(factom_sidecar_is_leader{namespace=%q})`, d.ns))
		if err != nil {
			return false, err
		}
		return up == sidecars && leaders == 1, fmt.Errorf("%v of %d sidecars scraped, %v leaders", up, sidecars, leaders)
	})
	if err != nil {
		t.Fatal(err)
	}

	leader := d.waitWalletConverged(t, time.Minute)
	if _, err := d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The kubelet may restart the frozen container meanwhile (its probes
	// time out); SIGCONT then reaches the new process, which is harmless.
	defer func() { _, _ = d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGCONT) }()
	noLeader := fmt.Sprintf(`ALERTS{alertname="FactomWalletNoWritableLeader",namespace=%q}`, d.ns)
	err = testenv.Eventually(time.Minute, 250*time.Millisecond, func() (bool, error) {
		s, err := p.Query(ctx, noLeader)
		if err != nil {
			return false, err
		}
		return len(s) == 1 && s[0].Labels["alertstate"] == "pending", fmt.Errorf("%s: %v", noLeader, s)
	})
	if err != nil {
		t.Fatalf("no pending alert while the leader %s is frozen: %v", leader, err)
	}
	err = testenv.Eventually(2*time.Minute, 250*time.Millisecond, func() (bool, error) {
		s, err := p.Query(ctx, noLeader)
		if err != nil {
			return false, err
		}
		leaders, err := p.Scalar(ctx, fmt.Sprintf(`sum(factom_sidecar_is_leader{namespace=%q})`, d.ns))
		if err != nil {
			return false, err
		}
		return len(s) == 0 && leaders == 1, fmt.Errorf("%d alert series, %v leaders", len(s), leaders)
	})
	if err != nil {
		t.Fatalf("the alert did not clear once another replica led: %v", err)
	}
	if _, err := d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGCONT); err != nil {
		t.Logf("SIGCONT %s: %v", leader, err)
	}
	d.waitWalletConverged(t, 4*time.Minute)
}
