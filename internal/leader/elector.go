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
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/utils/clock"

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
	clock clock.WithDelayedExecution // the campaign's, the term's and the gate's timers

	lease   leaseClient // lease reads and writes: own rate limit, short timeouts
	gate    *Gate
	obs     *observer
	healthz *leaderelection.HealthzAdaptor
	m       *metrics
	labels  *labeler
	events  *eventSink
	process string    // this process's id in the Lease: a term belongs to one process
	take    *takeover // nil when early takeover is off
	inSync  func() bool
	ctl     *operatorControl

	mu            sync.Mutex
	own           *coordinationv1.Lease // the Lease as this process last wrote or read it while leading
	cur           *termState            // nil unless this replica holds a term
	cancelRun     context.CancelFunc
	lastRenewSent time.Time
	cooldownUntil time.Time
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
	m := newMetrics(opts.Registry)
	reqTimeout := cfg.RequestTimeout()

	// A separate client for the election, as client-go recommends: work
	// traffic that is throttled must not cost the lease.
	election, err := newClient(base, cfg, m, "election", reqTimeout, 5, 10)
	if err != nil {
		return nil, err
	}
	// Watches are long requests: no client timeout (they end on their
	// own, TimeoutSeconds).
	watcher, err := newClient(base, cfg, m, "watch", 0, 5, 10)
	if err != nil {
		return nil, err
	}
	work, err := newClient(base, cfg, m, "work", reqTimeout, 5, 10)
	if err != nil {
		return nil, err
	}
	return newElector(opts, m, parts{
		lease: election.CoordinationV1().Leases(cfg.Namespace),
		watch: watcher.CoordinationV1().Leases(cfg.Namespace),
		pods:  watcher.CoreV1().Pods(cfg.Namespace),
		work:  work,
		clock: clock.RealClock{},
	}), nil
}

// parts are what an Elector talks to: the API server's clients (New), or
// an in-memory Lease and a fake clock (the transition tests).
type parts struct {
	lease leaseClient               // the election's reads and writes
	watch leaseClient               // the observer's get and watch
	pods  corev1client.PodInterface // the holder's Pod (early takeover)
	work  kubernetes.Interface      // the role label and Events
	clock clock.WithDelayedExecution
}

// newElector wires an Elector from its parts.
func newElector(opts Options, m *metrics, p parts) *Elector {
	cfg := opts.Config
	now := opts.Now
	if now == nil {
		now = p.clock.Now
	}
	reqTimeout := cfg.RequestTimeout()
	e := &Elector{cfg: cfg, log: opts.Log, hooks: opts.Hooks, now: now, clock: p.clock, m: m, process: newProcessID(), lease: p.lease, inSync: opts.InSync}
	e.gate = newGate(now, p.clock.AfterFunc, e.onGateExpired)
	e.obs = newObserver(p.watch, cfg.LeaseName, now, cfg.RetryPeriod, reqTimeout, opts.Log)
	e.obs.onChange = e.onLeaseChange
	e.ctl = newOperatorControl(opts.Registry)
	e.obs.onMeta = e.onLeaseMeta
	e.healthz = leaderelection.NewLeaderHealthzAdaptor(cfg.LeaseDuration)
	e.labels = &labeler{cs: p.work, ns: cfg.Namespace, pod: cfg.PodName, retry: cfg.RetryPeriod, timeout: reqTimeout, log: opts.Log, kick: make(chan struct{}, 1)}
	e.events = &eventSink{rec: opts.Events}
	if cfg.Takeover.Enabled {
		e.take = newTakeover(cfg.Takeover, cfg.PodName, e.process, cfg.RetryPeriod, p.pods, opts.InSync, now, opts.Log, opts.Registry, e.kickCampaign)
	}
	return e
}

func newClient(base *rest.Config, cfg Config, m *metrics, name string, timeout time.Duration, qps float32, burst int) (kubernetes.Interface, error) {
	count := func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, client: name, m: m}
	}
	cs, err := kube.NewClient(base, kube.ClientOptions{UserAgent: fmt.Sprintf("%s (%s)", cfg.UserAgent(), name), Timeout: timeout, QPS: qps, Burst: burst, Wrap: count})
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
