package node

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// auditLog writes an audit log through the Services while the walletd
// leader pod is deleted, the leader's sidecar is killed, a factomd pod is
// frozen until it leaves its Service, and a factomd node restarts and
// resyncs; then every entry the network acknowledged must be on the
// chain, none twice.
func (d *deployment) auditLog(t *testing.T) {
	ctx := context.Background()
	d.waitWalletConverged(t, time.Minute)
	d.waitBridgeReady(t, 3*time.Minute)
	wallet := d.serviceURL(t, "factom-wallet")
	factomd := d.serviceURL(t, "factom-bridge")
	// An endpoint in the EndpointSlice is not yet a rule in kube-proxy's
	// iptables: the first connection to a ClusterIP right after the slice
	// changed can be refused. Wait until both Services answer.
	d.waitAnswers(t, wallet, "properties")
	d.waitAnswers(t, factomd, "properties")
	setup, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	ec, err := testenv.NewFundedECAddress(setup, wallet, factomd, 20000)
	if err != nil {
		t.Fatalf("buy entry credits through the Services: %v", err)
	}
	chain, err := testenv.CreateChain(setup, wallet, factomd, ec, []byte("factom-sidecar audit log"), []byte("factom-sidecar"), []byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
	if err != nil {
		t.Fatalf("create the chain: %v", err)
	}
	w := StartAuditWriter(wallet, factomd, ec, chain, nil)
	waitProgress(t, w, time.Now(), time.Minute)

	// (a) the walletd leader pod deleted.
	leader := d.waitWalletConverged(t, time.Minute)
	t0 := time.Now()
	if err := d.node.Client.CoreV1().Pods(d.ns).Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProgress(t, w, t0, 2*time.Minute)
	d.waitWalletConverged(t, 4*time.Minute)

	// (b) the leader's sidecar killed inside its container.
	leader = d.waitWalletConverged(t, time.Minute)
	t0, err = d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	waitProgress(t, w, t0, 2*time.Minute)
	d.waitWalletConverged(t, 4*time.Minute)

	// (c) a factomd frozen until it is NotReady, then let go.
	pod := "factom-bridge-1"
	t0, err = d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGSTOP)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.Eventually(2*time.Minute, 200*time.Millisecond, func() (bool, error) {
		p, err := d.node.Client.CoreV1().Pods(d.ns).Get(ctx, pod, metav1.GetOptions{})
		return err == nil && !PodReady(p), fmt.Errorf("%s still Ready", pod)
	}); err != nil {
		_, _ = d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGCONT)
		t.Fatal(err)
	}
	waitProgress(t, w, time.Now(), time.Minute)
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	d.waitBridgeReady(t, 3*time.Minute)

	// (d) a factomd node restarts (its process killed; the kubelet starts
	// it again) and resyncs.
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	waitProgress(t, w, t0, 2*time.Minute)
	d.waitBridgeReady(t, 5*time.Minute)

	accepted, failed := w.Finish()
	acked, unacked := w.Acknowledged()
	t.Logf("%d entries accepted by factomd, %d of them acknowledged by the network; %d attempts failed and were retried", len(accepted), len(acked), failed)
	// The writer has one write in flight, so each factomd fault (the
	// freeze, the kill) can strand at most the one reveal a node took and
	// had not passed on; the walletd faults strand none.
	if len(unacked) > 2 {
		t.Errorf("%d accepted entries were never acknowledged, want at most one per factomd fault (2): %v", len(unacked), unacked)
	}
	check, cancel2 := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel2()
	entries, err := testenv.WaitOnChain(check, factomd, chain, acked)
	if err != nil {
		t.Fatalf("acknowledged entries lost: %v", err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.Hash]++
	}
	for h, n := range seen {
		if n > 1 {
			t.Errorf("entry %s is on the chain %d times", h, n)
		}
	}
	onChain := 0
	for _, h := range unacked {
		if seen[h] > 0 {
			onChain++
		}
	}
	t.Logf("all %d acknowledged entries are on chain %s, none twice; %d of the %d never acknowledged are on it too", len(acked), chain, onChain, len(unacked))
}

// waitProgress waits until an entry is accepted after t0.
func waitProgress(t *testing.T, w *AuditWriter, t0 time.Time, timeout time.Duration) {
	t.Helper()
	if err := w.WaitAcceptedAfter(t0, timeout); err != nil {
		t.Fatal(err)
	}
}
