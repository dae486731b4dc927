package leader

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/kube"
	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// Hooks connect the work guarded by the lease (keystore replication) to
// the election. Every term gets one OnPromote call and exactly one
// OnDemote call; OnDemote may come while OnPromote is still running (its
// ctx is cancelled first, and writes never open for that term).
type Hooks struct {
	// OnPromote runs after this replica acquired the Lease and before
	// writes open. term is the fencing token (the Lease's leaseTransitions
	// at acquisition). ctx ends when the term ends. An error gives the
	// Lease up (another replica may take it) and is reported as
	// PromotionFailed.
	OnPromote func(ctx context.Context, term int64) error
	// OnDemote runs after writes have closed and the writes admitted in
	// the term have finished (or the renew deadline passed), when the term
	// ends for any reason (lease lost, renewals failing, another holder
	// seen, shutdown, failed promotion); on shutdown, before the Lease is
	// released. The next term does not start before it has run. It should
	// return quickly.
	OnDemote func(term int64)
	// TermFloor, if set, is the lowest term this replica may take the
	// Lease with (above every term the guarded work has seen used): a
	// Lease deleted and created again starts its transition count over,
	// and a term must never be handed out twice.
	TermFloor func() int64
}

// Options build an Elector.
type Options struct {
	Config   Config
	Log      zerolog.Logger
	Registry prometheus.Registerer
	Hooks    Hooks
	// RESTConfig overrides Config.RESTConfig() (tests, benchmarks).
	RESTConfig *rest.Config
	// Now replaces time.Now.
	Now func() time.Time
	// InSync, if set, reports whether the guarded work is in sync: a
	// replica that is not waits one retry period more before an early
	// takeover.
	InSync func() bool
	// Events get the transitions as Kubernetes Events (the caller runs
	// it; Run flushes it on the way out). Nil: no Events.
	Events kubeevents.Recorder
}

// Elector runs the election for this replica.
type Elector struct {
	cfg   Config
	log   zerolog.Logger
	hooks Hooks
	now   func() time.Time

	election kubernetes.Interface // lease writes: own rate limit, short timeouts
	gate     *Gate
	obs      *observer
	healthz  *leaderelection.HealthzAdaptor
	m        *metrics
	labels   *labeler
	events   *eventSink
	process  string    // this process's id in the Lease: a term belongs to one process
	take     *takeover // nil when early takeover is off
	ctl      *operatorControl

	mu            sync.Mutex
	own           *coordinationv1.Lease // the Lease as this process last wrote or read it while leading
	cur           *termState            // nil unless this replica holds a term
	cancelRun     context.CancelFunc
	lastRenewSent time.Time
	cooldownUntil time.Time
}

// termState is one term of leadership of this replica.
type termState struct {
	term     int64
	from     string
	trigger  time.Time
	reason   string
	ctx      context.Context
	cancel   context.CancelFunc
	writable bool
	ended    bool
	demoted  chan struct{} // closed once OnDemote has run for this term
	promoted chan struct{} // closed once the promotion has ended, either way
}

// acquisition is how this replica took the Lease.
type acquisition struct {
	term    int64
	from    string
	trigger time.Time // when the Lease became free: release seen, expiry, start
	reason  string
	early   *evidence // set when taken before expiry on evidence
}

// New builds an Elector; it does not contact the API server.
func New(opts Options) (*Elector, error) {
	cfg := opts.Config
	base := opts.RESTConfig
	if base == nil {
		var err error
		if base, err = cfg.RESTConfig(); err != nil {
			return nil, err
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	e := &Elector{cfg: cfg, log: opts.Log, hooks: opts.Hooks, now: now, m: newMetrics(opts.Registry), process: newProcessID()}
	reqTimeout := cfg.RequestTimeout()

	// A separate client for the election, as client-go recommends: work
	// traffic that is throttled must not cost the lease.
	election, err := e.client(base, "election", reqTimeout, 5, 10)
	if err != nil {
		return nil, err
	}
	// Watches are long requests: no client timeout (they end on their
	// own, TimeoutSeconds).
	watcher, err := e.client(base, "watch", 0, 5, 10)
	if err != nil {
		return nil, err
	}
	work, err := e.client(base, "work", reqTimeout, 5, 10)
	if err != nil {
		return nil, err
	}
	e.election = election
	e.gate = NewGate(now, e.onGateExpired)
	e.obs = newObserver(watcher.CoordinationV1().Leases(cfg.Namespace), cfg.LeaseName, now, cfg.RetryPeriod, reqTimeout, opts.Log)
	e.obs.onChange = e.onLeaseChange
	e.ctl = newOperatorControl(opts.Registry)
	e.obs.onMeta = e.onLeaseMeta
	e.healthz = leaderelection.NewLeaderHealthzAdaptor(cfg.LeaseDuration)
	e.labels = &labeler{cs: work, ns: cfg.Namespace, pod: cfg.PodName, retry: cfg.RetryPeriod, timeout: reqTimeout, log: opts.Log, kick: make(chan struct{}, 1)}
	e.events = &eventSink{rec: opts.Events}
	if cfg.Takeover.Enabled {
		e.take = newTakeover(cfg.Takeover, cfg.PodName, e.process, cfg.RetryPeriod, watcher.CoreV1().Pods(cfg.Namespace), opts.InSync, now, opts.Log, opts.Registry, e.kickCampaign)
	}
	return e, nil
}

func (e *Elector) client(base *rest.Config, name string, timeout time.Duration, qps float32, burst int) (kubernetes.Interface, error) {
	count := func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, client: name, m: e.m}
	}
	cs, err := kube.NewClient(base, kube.ClientOptions{UserAgent: fmt.Sprintf("%s (%s)", e.cfg.UserAgent(), name), Timeout: timeout, QPS: qps, Burst: burst, Wrap: count})
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", name, err)
	}
	return cs, nil
}

// Gate is the write gate the proxy and the keystore replication consult.
func (e *Elector) Gate() *Gate { return e.gate }

// Run takes part in the election until ctx ends. On the way out it closes
// writes, waits for writes in flight (up to the renew deadline), releases
// the Lease if held, labels the pod follower and flushes Events.
func (e *Elector) Run(ctx context.Context) error {
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	go e.obs.run(bg)
	go e.labels.run(bg)
	if e.take != nil {
		go e.take.run(bg)
	}
	e.labels.set(RoleFollower)
	e.log.Info().Str("event", logging.EventElectionStarted).Str("lease", e.cfg.LeaseName).Str("identity", e.cfg.PodName).
		Dur("leaseDuration", e.cfg.LeaseDuration).Dur("renewDeadline", e.cfg.RenewDeadline).Dur("retryPeriod", e.cfg.RetryPeriod).
		Str("process", e.process).Bool("earlyTakeover", e.take != nil).Str("advertiseAddress", e.cfg.Takeover.AdvertiseAddress).
		Msg("taking part in the walletd leader election")

	start := e.now()
	for {
		acq, ok := e.campaign(ctx, start)
		if !ok {
			break
		}
		e.lead(ctx, acq)
		if ctx.Err() != nil {
			break
		}
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), e.cfg.RenewDeadline)
	defer cancel()
	e.labels.flush(flushCtx)
	e.events.flush(flushCtx)
	return nil
}

// campaign waits, as a follower, until the Lease is free (released, expired
// by the local clock, missing, or held by this identity's previous process)
// and takes it. It returns false when ctx ends.
func (e *Elector) campaign(ctx context.Context, start time.Time) (acquisition, bool) {
	var backoff time.Time
	var lastErr string
	var wasHeld bool
	var holdEnded time.Time
	for {
		if ctx.Err() != nil {
			return acquisition{}, false
		}
		v := e.obs.snapshot()
		now := e.now()
		e.mu.Lock()
		cooldown := e.cooldownUntil
		e.mu.Unlock()
		wait := time.Duration(-1)
		try := false
		var trigger time.Time
		var reason string
		var early *evidence
		held, heldWait := e.held(v, now)
		if wasHeld && !held {
			holdEnded = now
		}
		wasHeld = held
		switch {
		case now.Before(backoff):
			wait = backoff.Sub(now)
		case now.Before(cooldown):
			wait = cooldown.Sub(now)
		case !v.known:
		case held:
			wait = heldWait
		case !v.exists:
			try, trigger, reason = true, start, "no lease yet"
		case v.holder() == "":
			try, trigger, reason = true, v.observedAt, e.releaseReason(v)
		case v.holder() == e.cfg.PodName && e.ownProcess(v):
			try, trigger, reason = true, v.observedAt, "lease held by this process's previous term"
		case v.holder() == e.cfg.PodName && e.take == nil:
			try, trigger, reason = true, v.observedAt, "lease held by this pod's previous process"
		default:
			expiry := v.observedAt.Add(v.duration())
			if ev, ok := e.earlyEvidence(v, now, expiry); ok {
				try, trigger, reason, early = true, ev.first, "leader_takeover_early: "+ev.String(), &ev
			} else if now.Before(expiry) {
				wait = expiry.Sub(now)
			} else {
				try, trigger, reason = true, expiry, "lease expired"
			}
		}
		if try {
			trigger, reason = afterHold(trigger, reason, holdEnded)
			acq, err := e.tryAcquire(ctx, v)
			if err == nil {
				acq.trigger, acq.reason, acq.early = trigger, reason, early
				if trigger.Before(start) {
					acq.trigger = start
				}
				if early != nil {
					e.announceEarly(acq, v)
				}
				return acq, true
			}
			if ctx.Err() != nil {
				return acquisition{}, false
			}
			// Lost the race (conflict) or the API server failed: wait for
			// the watch to show the new state, or retry after a period.
			backoff = e.now().Add(e.cfg.RetryPeriod)
			wait = e.cfg.RetryPeriod
			if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && err.Error() != lastErr {
				e.log.Warn().Str("event", logging.EventAcquireFailed).Err(err).Msg("could not take the lease")
			}
			lastErr = err.Error()
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait >= 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-e.obs.wake:
			backoff = time.Time{}
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// tryAcquire writes this replica into the Lease as a new term, with the
// resourceVersion it last saw as precondition, so exactly one candidate
// wins a race.
func (e *Elector) tryAcquire(ctx context.Context, v leaseView) (acquisition, error) {
	leases := e.election.CoordinationV1().Leases(e.cfg.Namespace)
	me := e.cfg.PodName
	secs := int32(e.cfg.LeaseDuration / time.Second)
	sent := e.now()
	ts := metav1.NewMicroTime(sent)
	floor := int64(0)
	if e.hooks.TermFloor != nil {
		floor = e.hooks.TermFloor()
	}
	if !v.exists {
		zero := int32(floor)
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: e.cfg.LeaseName, Namespace: e.cfg.Namespace, Annotations: e.annotations(nil)},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: &me, LeaseDurationSeconds: &secs, AcquireTime: &ts, RenewTime: &ts, LeaseTransitions: &zero,
			},
		}
		created, err := leases.Create(ctx, lease, metav1.CreateOptions{})
		if err != nil {
			return acquisition{}, fmt.Errorf("create lease: %w", err)
		}
		e.noteRenew(sent)
		e.noteOwn(created)
		e.obs.observe(created)
		return acquisition{term: floor}, nil
	}
	from := e.previousHolder(v)
	lease := v.lease.DeepCopy()
	term := int32(max(v.transitions()+1, floor))
	lease.Spec.HolderIdentity = &me
	lease.Spec.LeaseDurationSeconds = &secs
	lease.Spec.AcquireTime = &ts
	lease.Spec.RenewTime = &ts
	lease.Spec.LeaseTransitions = &term
	lease.Spec.PreferredHolder = nil
	lease.Annotations = e.annotations(lease.Annotations)
	e.clearSwitchover(lease)
	updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return acquisition{}, fmt.Errorf("update lease: %w", err)
	}
	e.noteRenew(sent)
	e.noteOwn(updated)
	e.obs.observe(updated)
	return acquisition{term: int64(term), from: from}, nil
}

func (e *Elector) noteRenew(sent time.Time) {
	e.mu.Lock()
	if sent.After(e.lastRenewSent) {
		e.lastRenewSent = sent
	}
	e.mu.Unlock()
}

// lead runs one term. The term starts with this replica's own write of
// the Lease: promotion begins at once, while client-go's elector takes over
// renewing (and releasing on cancel) the Lease this replica now holds.
func (e *Elector) lead(ctx context.Context, acq acquisition) {
	lock := &trackingLock{
		Interface: &rl.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.LeaseName},
			Client:     e.leaseClient(),
			LockConfig: rl.ResourceLockConfig{Identity: e.cfg.PodName},
		},
		identity: e.cfg.PodName,
		now:      e.now,
		onRenew:  e.onRenew,
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	started := make(chan struct{})
	var startOnce sync.Once
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: e.cfg.LeaseDuration,
		RenewDeadline: e.cfg.RenewDeadline,
		RetryPeriod:   e.cfg.RetryPeriod,
		// Released by this elector (releaseOwn), conditional on the
		// version it last wrote: no extra read on the handover's path.
		ReleaseOnCancel: false,
		Name:            e.cfg.LeaseName,
		WatchDog:        e.healthz,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { startOnce.Do(func() { close(started) }) },
			OnStoppedLeading: e.onStopped,
		},
	})
	if err != nil {
		// Config.Validate enforces client-go's rules; this is a bug.
		e.log.Error().Str("event", logging.EventElectionFailed).Err(err).Msg("cannot build the elector")
		return
	}

	tctx, cancelTerm := context.WithCancel(context.Background())
	st := &termState{term: acq.term, from: acq.from, trigger: acq.trigger, reason: acq.reason, ctx: tctx, cancel: cancelTerm, demoted: make(chan struct{}), promoted: make(chan struct{})}
	// The next term may not start before this one's OnDemote has run.
	defer func() { <-st.demoted }()
	e.mu.Lock()
	e.cur = st
	e.cancelRun = cancelRun
	e.mu.Unlock()
	e.m.term.Set(float64(acq.term))
	e.log.Info().Str("event", logging.EventLeaderElected).Int64("term", acq.term).Str("from", acq.from).Str("to", e.cfg.PodName).
		Str("reason", acq.reason).Int64("tookMs", e.now().Sub(acq.trigger).Milliseconds()).Msg("acquired the lease; promoting")
	go e.promote(st)

	e.healthz.SetLeaderElection(le)
	// A finished elector must not fail liveness with its stale record.
	defer e.healthz.SetLeaderElection(nil)
	done := make(chan struct{})
	var released bool
	go func() {
		defer close(done)
		e.awaitPromotion(st, runCtx)
		le.Run(runCtx)
		released = e.releaseOwn(st.term)
	}()

	// client-go takes at once a Lease this replica holds; if it does not
	// (the Lease changed hands meanwhile), the term ends.
	startTimer := time.NewTimer(e.cfg.RenewDeadline)
	defer startTimer.Stop()
	ctxDone := ctx.Done()
	for {
		select {
		case <-done:
			e.endTerm(st, "renewing stopped", false)
			return
		case <-started:
			started = nil
			startTimer.Stop()
			if rec := lock.record(); int64(rec.LeaderTransitions) != st.term {
				e.endTerm(st, fmt.Sprintf("lease term changed to %d", rec.LeaderTransitions), true)
			}
		case <-startTimer.C:
			e.endTerm(st, "could not start renewing the acquired lease", true)
		case <-ctxDone:
			ctxDone = nil
			e.shutdown(st, cancelRun, done, func() bool { return released })
			return
		case to := <-e.ctl.handover:
			if control.SwitchoverTarget(e.obs.snapshot().annotations(), e.now()) == to {
				e.handOver(st, to, cancelRun, done, func() bool { return released })
				return
			}
		}
	}
}

// shutdown steps down in the order that keeps writes safe: close the gate,
// let writes in flight finish, and only then release the Lease. Label and
// Event wait until the Lease is released, so the handover goes first.
func (e *Elector) shutdown(st *termState, cancelRun context.CancelFunc, done <-chan struct{}, wasReleased func() bool) {
	ended := e.endTermQuiet(st, "shutting down")
	// endTermQuiet waits (bounded) for the writes in flight, lets them
	// commit, and only then demotes: the Lease is still ours meanwhile.
	<-st.demoted
	cancelRun()
	<-done
	if ended {
		e.announceEnd(st, "shutting down")
	}
	if wasReleased() {
		e.log.Info().Str("event", logging.EventLeaseReleased).Int64("term", st.term).Str("from", e.cfg.PodName).Msg("released the lease for another replica")
		e.events.emit(corev1.EventTypeNormal, "LeaseReleased", "released the walletd leader lease at the end of term %d", st.term)
	}
}

func (e *Elector) onRenew(sent time.Time, rec rl.LeaderElectionRecord) {
	e.noteRenew(sent)
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil && int64(rec.LeaderTransitions) != st.term {
		e.endTerm(st, fmt.Sprintf("lease term changed to %d", rec.LeaderTransitions), true)
		return
	}
	e.gate.Extend(sent.Add(e.cfg.RenewDeadline))
}

// promote runs the promotion hook, then opens writes, then labels the pod
// and records the Event.
func (e *Elector) promote(st *termState) {
	defer close(st.promoted)
	term := st.term
	if e.hooks.OnPromote != nil {
		if err := e.hooks.OnPromote(e.promoteContext(st), term); err != nil {
			if st.ctx.Err() != nil {
				return // the term ended meanwhile; endTerm reported it
			}
			e.log.Error().Str("event", logging.EventPromotionFailed).Int64("term", term).Str("from", st.from).Str("to", e.cfg.PodName).Err(err).Msg("promotion failed; giving up the lease")
			e.events.emit(corev1.EventTypeWarning, "PromotionFailed", "promotion for term %d failed, lease given up: %v", term, err)
			// Let another replica try first.
			e.mu.Lock()
			e.cooldownUntil = e.now().Add(e.cfg.LeaseDuration)
			e.mu.Unlock()
			e.endTerm(st, "promotion failed", true)
			return
		}
	}

	e.mu.Lock()
	if e.cur != st || st.ended {
		e.mu.Unlock()
		return
	}
	validUntil := e.lastRenewSent.Add(e.cfg.RenewDeadline)
	if !e.now().Before(validUntil) {
		e.mu.Unlock()
		e.endTerm(st, "no successful renewal within the renew deadline during promotion", true)
		return
	}
	e.gate.Open(term, validUntil)
	e.gate.SetHolder(e.cfg.PodName)
	st.writable = true
	e.mu.Unlock()

	took := e.now().Sub(st.trigger)
	e.m.isLeader.Set(1)
	e.m.timeToWritable.Observe(took.Seconds())
	e.log.Info().Str("event", logging.EventFailoverComplete).Int64("term", term).Str("from", st.from).Str("to", e.cfg.PodName).
		Str("reason", st.reason).Int64("tookMs", took.Milliseconds()).Msg("writable leader")
	e.labels.set(RoleLeader)
	e.events.emit(corev1.EventTypeNormal, "LeaderElected", "became the writable walletd leader with term %d (previous holder %q, %s; writable %dms later)",
		term, st.from, st.reason, took.Milliseconds())
}

func (e *Elector) onStopped() {
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil {
		e.endTerm(st, "lease lost", false)
	}
}

func (e *Elector) onGateExpired(term int64) {
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil && st.term == term {
		e.endTerm(st, "no successful renewal within the renew deadline", true)
	}
}

// onLeaseChange follows the holder for logs, metrics and errors, and ends
// this replica's term the moment the watch shows another holder.
func (e *Elector) onLeaseChange(old, cur leaseView) {
	if cur.holder() != old.holder() || !old.known {
		e.gate.SetHolder(cur.holder())
		if old.known {
			e.m.transitions.Inc()
		}
		e.m.term.Set(float64(cur.transitions()))
		e.log.Info().Str("event", logging.EventLeaderObserved).Int64("term", cur.transitions()).Str("from", old.holder()).Str("to", cur.holder()).Msg("lease holder changed")
	}
	if e.take != nil {
		e.take.leaseChanged(cur)
	}
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil && cur.exists && cur.holder() != e.cfg.PodName && cur.holder() != "" {
		e.endTerm(st, fmt.Sprintf("lease taken by %s", cur.holder()), true)
	} else if st != nil && cur.holder() == e.cfg.PodName && !e.ownProcess(cur) {
		e.endTerm(st, "lease taken by another process of this pod", true)
	}
}

// endTerm ends a term once: writes close first, then promotion is
// cancelled and hooks run, then label and Event follow. stopRenewing also
// stops client-go's elector (which then releases the Lease if still held).
func (e *Elector) endTerm(st *termState, reason string, stopRenewing bool) {
	if !e.endTermQuiet(st, reason) {
		return
	}
	e.announceEnd(st, reason)
	if stopRenewing {
		e.mu.Lock()
		cancelRun := e.cancelRun
		e.mu.Unlock()
		if cancelRun != nil {
			cancelRun()
		}
	}
}

// endTermQuiet closes writes, cancels the promotion and runs OnDemote; it
// reports false if the term had already ended.
func (e *Elector) endTermQuiet(st *termState, reason string) bool {
	e.mu.Lock()
	if st.ended {
		e.mu.Unlock()
		return false
	}
	st.ended = true
	wasWritable := e.gate.Close()
	if e.cur == st {
		e.cur = nil
	}
	e.mu.Unlock()

	st.cancel()
	e.m.isLeader.Set(0)
	// Writes admitted in this term finish (and commit: the Secret's term
	// fences them if a newer leader has bumped it) before the work is
	// demoted, so a write walletd finished is acknowledged and the
	// follower loop never reads walletd while one still runs there.
	go func() {
		defer close(st.demoted)
		waitCtx, cancel := context.WithTimeout(context.Background(), e.cfg.RenewDeadline)
		defer cancel()
		if err := e.gate.WaitIdle(waitCtx); err != nil {
			e.log.Warn().Str("event", logging.EventWritesUnfinished).Int64("term", st.term).Err(err).Msg("ending the term with writes still in flight")
		}
		if e.hooks.OnDemote != nil {
			e.hooks.OnDemote(st.term)
		}
	}()
	to := e.obs.snapshot().holder()
	if to == e.cfg.PodName {
		to = ""
	}
	e.log.Warn().Str("event", logging.EventLeaderLost).Int64("term", st.term).Str("from", e.cfg.PodName).Str("to", to).
		Str("reason", reason).Bool("wasWritable", wasWritable).Msg("writes closed; no longer the leader")
	return true
}

// announceEnd labels the pod follower and records the Event.
func (e *Elector) announceEnd(st *termState, reason string) {
	e.labels.set(RoleFollower)
	e.events.emit(corev1.EventTypeNormal, "LeaderLost", "term %d ended: %s", st.term, reason)
}

// Status is this replica's view of the election.
type Status struct {
	Identity string `json:"identity"`
	Lease    string `json:"lease"`
	// Role is "leader" while this replica holds a term (promoting or
	// writable), "follower" otherwise.
	Role     string `json:"role"`
	Writable bool   `json:"writable"`
	// Term is this replica's term while it leads, else the Lease's current
	// leaseTransitions.
	Term           int64  `json:"term"`
	Holder         string `json:"holder"`
	InFlightWrites int    `json:"inFlightWrites"`
	// Process is this process's id, as the Lease names the holder's.
	Process string `json:"process"`
}

// Status returns the current state.
func (e *Elector) Status() Status {
	v := e.obs.snapshot()
	s := Status{Identity: e.cfg.PodName, Lease: e.cfg.Namespace + "/" + e.cfg.LeaseName, Role: RoleFollower, Holder: v.holder(), Term: v.transitions(), Process: e.process}
	e.mu.Lock()
	if e.cur != nil {
		s.Role = RoleLeader
		s.Term = e.cur.term
	}
	e.mu.Unlock()
	term, ok := e.gate.Writable()
	if ok {
		s.Writable, s.Term = true, term
	}
	s.InFlightWrites = e.gate.InFlight()
	return s
}

// LiveCheck reports whether client-go's renew loop is stuck: a leader that
// has not renewed for a lease duration beyond its lease (the healthz
// adaptor's rule). Followers are always live here.
func (e *Elector) LiveCheck() error {
	if err := e.healthz.Check(nil); err != nil {
		return fmt.Errorf("election: %w", err)
	}
	return nil
}
