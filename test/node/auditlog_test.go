package node

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// auditLog writes an audit log through the Services while the walletd
// leader pod is deleted, the leader's sidecar is killed, a factomd pod is
// frozen until it leaves its Service, and a factomd node restarts and
// resyncs; then every entry factomd accepted must be acknowledged by the
// network (the writer sends again what a killed node lost, as an audit-log
// client does) and on the chain, none twice.
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
	var faults []fault
	mark := func(what string) { faults = append(faults, fault{what, time.Now()}) }
	mark("writing")
	waitProgress(t, w, time.Now(), time.Minute)

	// (a) the walletd leader pod deleted.
	leader := d.waitWalletConverged(t, time.Minute)
	mark("walletd leader pod deleted")
	t0 := time.Now()
	if err := d.node.Client.CoreV1().Pods(d.ns).Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProgress(t, w, t0, 2*time.Minute)
	d.waitWalletConverged(t, 4*time.Minute)

	// (b) the leader's sidecar killed inside its container.
	leader = d.waitWalletConverged(t, time.Minute)
	mark("walletd leader's sidecar killed")
	t0, err = d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	waitProgress(t, w, t0, 2*time.Minute)
	d.waitWalletConverged(t, 4*time.Minute)

	// (c) a factomd frozen until it is NotReady, then let go.
	pod := "factom-bridge-1"
	mark(pod + " frozen")
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
	mark(pod + " NotReady")
	waitProgress(t, w, time.Now(), time.Minute)
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	mark(pod + " thawed")
	d.waitBridgeReady(t, 3*time.Minute)
	mark(pod + " Ready")

	// (d) a factomd node restarts (its process killed; the kubelet starts
	// it again) and resyncs.
	mark(pod + " killed")
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	waitProgress(t, w, t0, 2*time.Minute)
	d.waitBridgeReady(t, 5*time.Minute)
	mark("bridge Ready again")

	accepted, failed := w.Finish()
	acked, unacked, resent := w.Acknowledged()
	t.Logf("%d entries accepted by factomd, %d attempts failed and were retried; %d acknowledged by the network, %d of them after their commit and reveal were sent again%s",
		len(accepted), failed, len(acked), len(resent), spans(w, resent, faults))
	if len(unacked) > 0 {
		t.Errorf("%d accepted entries were never acknowledged, though sent again for %s%s", len(unacked), ackWindow, spans(w, unacked, faults))
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
	t.Logf("all %d acknowledged entries are on chain %s, none twice", len(acked), chain)
}

// fault is a step of the audit-log test and when it began.
type fault struct {
	what string
	at   time.Time
}

// spans says, per step, how many of the given entries were accepted
// during it and when the first and last were, so an operator reading a
// failure sees which fault the loss follows.
func spans(w *AuditWriter, hashes []string, faults []fault) string {
	var b strings.Builder
	for i, f := range faults {
		end := time.Now()
		if i+1 < len(faults) {
			end = faults[i+1].at
		}
		var n int
		var first, last time.Time
		for _, h := range hashes {
			at := w.AcceptedAt(h)
			if at.Before(f.at) || !at.Before(end) {
				continue
			}
			n++
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		if n > 0 {
			fmt.Fprintf(&b, "\n  %d accepted after %q (+%s): from +%s to +%s", n, f.what, f.at.Sub(faults[0].at).Round(time.Second), first.Sub(f.at).Round(100*time.Millisecond), last.Sub(f.at).Round(100*time.Millisecond))
		}
	}
	return b.String()
}

// waitProgress waits until an entry is accepted after t0.
func waitProgress(t *testing.T, w *AuditWriter, t0 time.Time, timeout time.Duration) {
	t.Helper()
	if err := w.WaitAcceptedAfter(t0, timeout); err != nil {
		t.Fatal(err)
	}
}
