package leader

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/kubewatch"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// target is the process holding the Lease, as its annotations name it.
type target struct {
	holder, process           string
	address, proxy, container string
	term                      int64
	acquired, renewed         time.Time
	rv                        string
}

func (t target) same(o target) bool {
	return t.holder == o.holder && t.process == o.process && t.term == o.term
}

// targetOf is the process a follower watches: the Lease's holder unless
// that is this very process (or nobody).
func targetOf(v leaseView, me, myProcess string) (target, bool) {
	if !v.exists || v.lease == nil || v.holder() == "" {
		return target{}, false
	}
	a := v.lease.Annotations
	t := target{holder: v.holder(), process: a[AnnotationProcess], address: a[AnnotationAddress], proxy: a[AnnotationProxyAddress],
		container: a[AnnotationContainer], term: v.transitions(), rv: v.lease.ResourceVersion}
	if v.lease.Spec.AcquireTime != nil {
		t.acquired = v.lease.Spec.AcquireTime.Time
	}
	if v.lease.Spec.RenewTime != nil {
		t.renewed = v.lease.Spec.RenewTime.Time
	}
	if t.holder == me && t.process == myProcess {
		return target{}, false
	}
	return t, true
}

// published is evidence ready for the campaign, valid only while the Lease
// shows the holder, term and renewal it was gathered against (a change of
// its metadata alone, such as an annotation, does not void it).
type published struct {
	tgt target
	ev  evidence
}

// takeover gathers evidence about the holder's process while this replica
// is a follower: it probes the advertised addresses every probe period and
// watches the holder's Pod. Every renewal the watch shows starts over: a
// process that renews is alive.
type takeover struct {
	cfg     TakeoverConfig
	me      string
	process string
	retry   time.Duration
	pods    corev1client.PodInterface
	inSync  func() bool
	now     func() time.Time
	log     zerolog.Logger
	wake    func()
	http    *http.Client
	dialer  net.Dialer
	taken   *prometheus.CounterVec

	changed chan struct{}

	mu           sync.Mutex
	tgt          target
	has          bool
	cnt          counter
	pod          podVerdict
	podGoneAt    time.Time
	conclusiveAt time.Time
	pub          *published
}

func newTakeover(cfg TakeoverConfig, me, process string, retry time.Duration, pods corev1client.PodInterface, inSync func() bool,
	now func() time.Time, log zerolog.Logger, reg prometheus.Registerer, wake func()) *takeover {
	t := &takeover{cfg: cfg, me: me, process: process, retry: retry, pods: pods, inSync: inSync, now: now, log: log, wake: wake,
		changed: make(chan struct{}, 1)}
	t.dialer = net.Dialer{Timeout: t.roundTimeout()}
	// A fresh connection per probe: a refusal is only seen by a dial.
	t.http = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: t.dialer.DialContext}}
	t.taken = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "factom_sidecar_leader_early_takeovers_total",
		Help: "Leases this replica took before they expired, by the evidence that the holder's process was gone.",
	}, []string{"evidence"})
	if reg != nil {
		reg.MustRegister(t.taken)
	}
	return t
}

// roundTimeout bounds one probe round: a probe that does not answer in it
// is a timeout, which is no evidence.
func (t *takeover) roundTimeout() time.Duration {
	return min(max(t.cfg.ProbePeriod, 100*time.Millisecond), time.Second)
}

// leaseChanged follows the Lease: a new holder process starts a new target,
// a renewal by the same one clears what was gathered.
func (t *takeover) leaseChanged(v leaseView) {
	tgt, ok := targetOf(v, t.me, t.process)
	t.mu.Lock()
	newTarget := ok != t.has || !tgt.same(t.tgt)
	t.tgt, t.has = tgt, ok
	t.cnt = counter{}
	t.conclusiveAt, t.pub = time.Time{}, nil
	t.pod.gone, t.podGoneAt = false, time.Time{}
	if newTarget {
		t.pod = podVerdict{}
	}
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// ready returns the evidence to take the Lease v with, if any.
func (t *takeover) ready(v leaseView) (evidence, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, ok := targetOf(v, t.me, t.process)
	if t.pub == nil || !ok || !cur.same(t.pub.tgt) || !cur.renewed.Equal(t.pub.tgt.renewed) {
		return evidence{}, false
	}
	return t.pub.ev, true
}

// record adds a probe round about tgt.
func (t *takeover) record(tgt target, r probeRound) {
	t.mu.Lock()
	if !t.has || !t.tgt.same(tgt) || t.tgt.rv != tgt.rv {
		t.mu.Unlock()
		return // the Lease moved while the round ran
	}
	t.cnt.add(r.verdict(tgt.process), t.now())
	wake := t.evaluateLocked()
	t.mu.Unlock()
	if wake {
		t.wake()
	}
}

// evaluateLocked decides whether the evidence is conclusive and, once this
// replica's rank has passed, publishes it; it reports whether it did.
func (t *takeover) evaluateLocked() bool {
	var ev *evidence
	needed := t.cfg.Refusals
	if t.pod.deleting {
		needed = 1
	}
	switch {
	case t.pod.gone:
		ev = &evidence{kind: EvidenceContainer, detail: t.pod.detail, first: t.podGoneAt}
	case t.cnt.run >= needed:
		ev = &evidence{kind: t.cnt.last, detail: t.describeRounds(), first: t.cnt.first, rounds: t.cnt.run}
		if t.cnt.run < t.cfg.Refusals {
			ev.kind = EvidenceDeleting
		}
	}
	if ev == nil {
		t.conclusiveAt, t.pub = time.Time{}, nil
		return false
	}
	now := t.now()
	if t.conclusiveAt.IsZero() {
		t.conclusiveAt = now
	}
	inSync := t.inSync == nil || t.inSync()
	if now.Before(t.conclusiveAt.Add(time.Duration(rank(t.me, t.tgt.holder, inSync)) * t.retry)) {
		return false
	}
	first := t.pub == nil
	t.pub = &published{tgt: t.tgt, ev: *ev}
	return first
}

func (t *takeover) describeRounds() string {
	d := ""
	switch t.cnt.last {
	case EvidenceReplaced:
		d = "another process answers at " + t.tgt.address
	default:
		d = "connections refused at " + t.tgt.address
		if t.tgt.proxy != "" {
			d += " and " + t.tgt.proxy
		}
	}
	if t.pod.deleting {
		d += "; " + t.pod.detail
	}
	return d
}

func (t *takeover) snapshot() (target, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tgt, t.has
}

func (t *takeover) run(ctx context.Context) {
	go t.runPods(ctx)
	tick := time.NewTicker(t.cfg.ProbePeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tgt, ok := t.snapshot()
		if !ok {
			continue
		}
		var r probeRound
		if tgt.address != "" {
			r = t.probe(ctx, tgt)
		}
		t.record(tgt, r)
	}
}

// probe connects to the proxy address and asks /leader at the probe
// address, each on a fresh connection, in parallel.
func (t *takeover) probe(ctx context.Context, tgt target) probeRound {
	ctx, cancel := context.WithTimeout(ctx, t.roundTimeout())
	defer cancel()
	var r probeRound
	var wg sync.WaitGroup
	if tgt.proxy != "" {
		wg.Go(func() {
			c, err := t.dialer.DialContext(ctx, "tcp", tgt.proxy)
			r.proxy = outcome(err)
			if err == nil {
				c.Close()
			}
		})
	}
	r.addr, r.process = t.askLeader(ctx, tgt.address)
	wg.Wait()
	return r
}

func (t *takeover) askLeader(ctx context.Context, addr string) (string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/leader", nil)
	if err != nil {
		return "error", ""
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return outcome(err), ""
	}
	defer resp.Body.Close()
	var body struct {
		Process string `json:"process"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&body); err != nil {
		return "answered", ""
	}
	return "answered", body.Process
}

// outcome names a dial result: only ECONNREFUSED is a refusal.
func outcome(err error) string {
	switch {
	case err == nil:
		return "answered"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	return "error"
}

// runPods watches the holder's Pod (one field-selected watch, within the
// Role's resourceNames) while there is a holder to watch.
func (t *takeover) runPods(ctx context.Context) {
	for ctx.Err() == nil {
		tgt, ok := t.snapshot()
		if !ok {
			select {
			case <-ctx.Done():
			case <-t.changed:
			}
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); t.watchPod(wctx, tgt.holder) }()
		for cur, ok := t.snapshot(); ok && cur.holder == tgt.holder && ctx.Err() == nil; cur, ok = t.snapshot() {
			select {
			case <-ctx.Done():
			case <-t.changed:
			}
		}
		cancel()
		<-done
	}
}

func (t *takeover) watchPod(ctx context.Context, pod string) {
	var lastErr string
	for ctx.Err() == nil {
		timeout := int64(240 + t.now().UnixNano()%120)
		err := kubewatch.Once(ctx, kubewatch.Source[*corev1.Pod]{
			Name: pod,
			Get: func(ctx context.Context) (*corev1.Pod, bool, error) {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				p, err := t.pods.Get(ctx, pod, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return nil, false, nil
				}
				return p, err == nil, err
			},
			Watch: t.pods.Watch,
		}, timeout, func(p *corev1.Pod) { t.podSeen(pod, p) })
		if ctx.Err() != nil {
			return
		}
		wait := t.retry
		if err != nil {
			if err.Error() != lastErr {
				t.log.Warn().Str("event", logging.EventTakeoverPodWatchFailed).Str("pod", pod).Err(err).Msg("cannot watch the leader's pod; early takeover relies on probes alone")
			}
			lastErr = err.Error()
			if apierrors.IsForbidden(err) {
				wait = 30 * time.Second
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func (t *takeover) podSeen(holder string, p *corev1.Pod) {
	if p != nil && p.Name == "" {
		p = nil // the watch's zero value: the pod does not exist
	}
	t.mu.Lock()
	if !t.has || t.tgt.holder != holder {
		t.mu.Unlock()
		return
	}
	t.pod = podEvidence(p, t.tgt.container, t.tgt.acquired)
	if t.pod.gone && t.podGoneAt.IsZero() {
		t.podGoneAt = t.now()
	}
	wake := t.evaluateLocked()
	t.mu.Unlock()
	if wake {
		t.wake()
	}
}
