package node

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/testenv"
)

// auditWriter appends entries to one chain through the Services, as an
// audit-log application does: compose-entry through factom-wallet, commit
// and reveal through factom-bridge. It records every entry whose reveal
// factomd accepted, and retries after any error.
type auditWriter struct {
	wallet, factomd, ec, chain string
	stop, done                 chan struct{}

	mu       sync.Mutex
	accepted []string
	failed   int
	lastAt   time.Time
}

func startAuditWriter(wallet, factomd, ec, chain string) *auditWriter {
	w := &auditWriter{wallet: wallet, factomd: factomd, ec: ec, chain: chain, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			hash, err := testenv.WriteEntry(ctx, w.wallet, w.factomd, w.ec, w.chain, []byte("audit record "+strconv.Itoa(i)), []byte("factom-sidecar"), []byte(strconv.Itoa(i)))
			cancel()
			w.mu.Lock()
			if err != nil {
				w.failed++
			} else {
				w.accepted = append(w.accepted, hash)
				w.lastAt = time.Now()
			}
			w.mu.Unlock()
			if err != nil {
				time.Sleep(200 * time.Millisecond) // a client's retry pause
			}
		}
	}()
	return w
}

// waitProgress waits until an entry is accepted after t0.
func (w *auditWriter) waitProgress(t *testing.T, t0 time.Time, timeout time.Duration) {
	t.Helper()
	err := testenv.Eventually(timeout, 100*time.Millisecond, func() (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.lastAt.After(t0), fmt.Errorf("no entry accepted since %s (%d failed so far)", t0.Format(time.TimeOnly), w.failed)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *auditWriter) finish() ([]string, int) {
	close(w.stop)
	<-w.done
	return w.accepted, w.failed
}

// auditLog writes an audit log through the Services while the walletd
// leader pod is deleted, the leader's sidecar is killed, a factomd pod is
// frozen until it leaves its Service, and a factomd node restarts and
// resyncs; then every entry whose reveal factomd accepted must be on the
// chain, none twice.
func (d *deployment) auditLog(t *testing.T) {
	ctx := context.Background()
	d.waitWalletConverged(t, time.Minute)
	d.waitBridgeReady(t, 3*time.Minute)
	wallet := d.serviceURL(t, "factom-wallet")
	factomd := d.serviceURL(t, "factom-bridge")
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
	w := startAuditWriter(wallet, factomd, ec, chain)
	w.waitProgress(t, time.Now(), time.Minute)

	// (a) the walletd leader pod deleted.
	leader := d.waitWalletConverged(t, time.Minute)
	t0 := time.Now()
	if err := d.node.Client.CoreV1().Pods(d.ns).Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitProgress(t, t0, 2*time.Minute)
	d.waitWalletConverged(t, 4*time.Minute)

	// (b) the leader's sidecar killed inside its container.
	leader = d.waitWalletConverged(t, time.Minute)
	t0, err = d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	w.waitProgress(t, t0, 2*time.Minute)
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
	w.waitProgress(t, time.Now(), time.Minute)
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
	w.waitProgress(t, t0, 2*time.Minute)
	d.waitBridgeReady(t, 5*time.Minute)

	accepted, failed := w.finish()
	t.Logf("%d entries accepted by factomd, %d attempts failed and were retried", len(accepted), failed)
	check, cancel2 := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel2()
	entries, err := testenv.WaitOnChain(check, factomd, chain, accepted)
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
	t.Logf("all %d accepted entries are on chain %s, none twice", len(accepted), chain)
}
