package leader

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// The transition tests run whole Electors (campaign, client-go's renew
// loop, gate, hooks) against a memLease on a fake clock. The clock drives
// every rule that reads time (expiry, the renew deadline, the gate's
// window); client-go's renew loop keeps its own real retry period, so the
// tests wait for its renewals by polling, never by sleeping.
const (
	testNamespace     = "ns"
	testLeaseName     = "l"
	testLeaseDuration = 2 * time.Second
	testRenewDeadline = time.Second
	testRetryPeriod   = 100 * time.Millisecond
)

// testClock is a fake clock whose AfterFunc runs its callback on a
// goroutine of its own, as time.AfterFunc does (FakeClock calls it while
// holding its lock, and the gate's callback reads the clock).
type testClock struct{ *clocktesting.FakeClock }

func (c testClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.FakeClock.AfterFunc(d, func() { go f() })
}

// election is one Lease, one clock and the pods of one StatefulSet.
type election struct {
	t     *testing.T
	lease *memLease
	clock testClock
	kube  *fake.Clientset // pods (labels, early takeover's status) and Events
}

func newElection(t *testing.T, pods ...*corev1.Pod) *election {
	objs := []*corev1.Pod{}
	for _, name := range []string{"factom-wallet-0", "factom-wallet-1", "factom-wallet-2"} {
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace}})
	}
	for _, p := range pods {
		objs = slices.DeleteFunc(objs, func(o *corev1.Pod) bool { return o.Name == p.Name })
		objs = append(objs, p)
	}
	cs := fake.NewClientset()
	for _, p := range objs {
		if err := cs.Tracker().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return &election{t: t, lease: newMemLease(t, testLeaseName), clock: testClock{clocktesting.NewFakeClock(time.Now())}, kube: cs}
}

// member is one replica's Elector, running.
type member struct {
	t    *testing.T
	el   *election
	e    *Elector
	logs *logLines

	mu       sync.Mutex
	promoted []int64
	demoted  []int64

	cancel context.CancelFunc
	done   chan struct{}
}

// join starts pod's Elector; opts may change its options first.
func (el *election) join(pod string, opts ...func(*Options)) *member {
	m := &member{t: el.t, el: el, logs: &logLines{}, done: make(chan struct{})}
	o := Options{
		Config: Config{PodFlags: podFlags(testNamespace, pod), LeaseName: testLeaseName,
			LeaseDuration: testLeaseDuration, RenewDeadline: testRenewDeadline, RetryPeriod: testRetryPeriod},
		Log: zerolog.New(m.logs),
		Hooks: Hooks{
			OnPromote: func(_ context.Context, term int64) error { m.record(&m.promoted, term); return nil },
			OnDemote:  func(term int64) { m.record(&m.demoted, term) },
		},
	}
	// The transitions' Events go to the fake API, as the sidecar's one
	// sink writes them; the sink outlives the elector, which flushes it.
	events := kubeevents.New(el.kube, testNamespace, pod, kubeevents.Options{Timeout: time.Second, Log: zerolog.Nop()})
	o.Events = events
	for _, f := range opts {
		f(&o)
	}
	m.e = newElector(o, newMetrics(nil), parts{lease: el.lease, watch: el.lease, pods: el.kube.CoreV1().Pods(testNamespace), work: el.kube, clock: el.clock})
	evCtx, evCancel := context.WithCancel(context.Background())
	go events.Run(evCtx)
	el.t.Cleanup(evCancel)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		_ = m.e.Run(ctx)
	}()
	el.t.Cleanup(m.stop)
	return m
}

// stop ends Run as SIGTERM does and waits for it to return.
func (m *member) stop() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		m.t.Errorf("%s: Run did not return", m.e.cfg.PodName)
	}
}

func (m *member) record(to *[]int64, term int64) {
	m.mu.Lock()
	*to = append(*to, term)
	m.mu.Unlock()
}

// terms returns the terms OnPromote and OnDemote were called with.
func (m *member) terms() (promoted, demoted []int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.promoted), slices.Clone(m.demoted)
}

// writable reports whether the gate is open under term.
func (m *member) writable(term int64) bool {
	got, ok := m.e.Gate().Writable()
	return ok && got == term
}

// renewing reports whether client-go's renew loop holds this member's term.
func (m *member) renewing() bool {
	m.e.mu.Lock()
	defer m.e.mu.Unlock()
	return m.e.cur != nil && m.e.cur.renewing
}

// announced reports whether the LeaderElected Event for term was written:
// the promotion has run to its end.
func (m *member) announced(term int64) bool {
	evs, err := m.el.kube.CoreV1().Events(testNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, ev := range evs.Items {
		if ev.InvolvedObject.Name == m.e.cfg.PodName && ev.Reason == "LeaderElected" && strings.Contains(ev.Message, fmt.Sprintf("term %d ", term)) {
			return true
		}
	}
	return false
}

// sees reports whether this member's watch shows holder in the Lease.
func (m *member) sees(holder string) bool {
	v := m.e.obs.snapshot()
	return v.known && v.holder() == holder
}

// leads waits until this member holds term with writes open and client-go
// renewing it.
func (m *member) leads(term int64) {
	m.t.Helper()
	if !poll(func() bool { return m.writable(term) && m.renewing() && m.announced(term) }) {
		m.t.Fatalf("timed out waiting for %s to be writable and renewing term %d; status %+v, log:\n%s", m.e.cfg.PodName, term, m.e.Status(), m.logs)
	}
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for: %s", what)
	}
}

// poll reports whether cond came to hold before a deadline far beyond any
// wait the rules ask for.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// logLines collects an Elector's log lines (zerolog writes each line with
// one Write, from many goroutines).
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (l *logLines) Write(p []byte) (int, error) {
	var line map[string]any
	if err := json.Unmarshal(p, &line); err != nil {
		return 0, fmt.Errorf("log line %q: %w", p, err)
	}
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, line := range l.lines {
		fmt.Fprintf(&b, "%v\n", line)
	}
	return b.String()
}

// events returns the log lines whose event field is event.
func (l *logLines) events(event string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range l.lines {
		if line["event"] == event {
			out = append(out, line)
		}
	}
	return out
}
