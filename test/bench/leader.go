package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// LeaderOptions size the leader election benchmark.
type LeaderOptions struct {
	// Trials per failover scenario (default 10).
	Trials int
	// SteadyWindow is how long API requests are counted (default 60s).
	SteadyWindow time.Duration
	// Dir holds the state (default a temporary directory, removed after).
	Dir string
	// Progress gets one line per phase (optional).
	Progress func(string)
}

// Timing is one election profile.
type Timing struct {
	Name                                      string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Profiles measured: client-go's defaults (the sidecar's defaults) and a
// fast profile.
var (
	DefaultTiming = Timing{"default", leader.DefaultLeaseDuration, leader.DefaultRenewDeadline, leader.DefaultRetryPeriod}
	FastTiming    = Timing{"fast", 4 * time.Second, 3 * time.Second, 500 * time.Millisecond}
)

// LeaderResults are the measured figures.
type LeaderResults struct {
	Trials int
	// Crash: SIGKILL of the leader → another replica answers /leader 200.
	// CrashDefault and CrashFast run the shipped defaults (early takeover
	// on); CrashNoEarly the default timings with --early-takeover=false,
	// in the same run: the lease decides.
	CrashDefault, CrashFast, CrashNoEarly, BaselineCrash Latencies
	// Pause: SIGSTOP of the leader (no evidence: timeouts only) → another
	// replica answers 200, default timings, early takeover on.
	Pause Latencies
	// Graceful: SIGTERM of the leader → another replica answers 200.
	Graceful, BaselineGraceful Latencies
	// Steady-state API requests per second per pod over SteadyWindow, all
	// of the pod's requests (election, keystore, labels, Events) as the API
	// server's audit log counts them; Election* only the election's
	// clients (the sidecar's factom_sidecar_kube_requests_total).
	SteadyWindow              time.Duration
	ReqPerSecLeader           float64
	ReqPerSecFollower         float64 // the busiest follower
	ElectionReqPerSecLeader   float64
	ElectionReqPerSecFollower float64
	// SpuriousTransitions is how often the Lease changed hands during the
	// steady-state window (nothing was killed): the soak figure.
	SpuriousTransitions          int32
	BaselineReqPerSecLeader      float64
	BaselineReqPerSecFollower    float64
	RSSLeaderKiB, RSSFollowerKiB int64
	BaselineRSSKiB               int64
}

// MeasureLeader runs the leader election benchmark on a real API server
// with the full walletd pods (walletd-init, test-walletd, sidecar with
// keystore replication): failover times (default and fast profiles,
// SIGKILL and SIGTERM of the sidecar), steady-state API requests per pod
// (from the API server's audit log) and RSS, and the same for plain
// client-go leader election with default timings.
func MeasureLeader(ctx context.Context, opts LeaderOptions) (LeaderResults, error) {
	b := newLeaderBench(opts)
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return b.summary(), err
	}
	if err := b.steady(ctx); err != nil {
		return b.summary(), err
	}
	err := b.trials(ctx)
	return b.summary(), err
}

// leaderBench is one run of the leader election benchmark: setup builds
// the programs and starts the API server, steady counts API requests over
// a window in which nothing is killed, trials runs the failover scenarios,
// and summary turns what they measured into LeaderResults.
type leaderBench struct {
	closers
	opts     LeaderOptions
	progress func(string)

	dir, sidecarBin, baselineBin string
	kube                         *testenv.Kube
	admin                        kubernetes.Interface
	adminKubeconfig, ns          string

	// steady leaves its pods running for the default-timing trials.
	steadyCluster *testenv.Cluster
	steadyGroup   *group

	steadyFigures LeaderResults // the steady-state fields only
	// Failover samples of each scenario, in the order trials runs them.
	crashDefault, graceful, pause, crashNoEarly, crashFast []time.Duration
	baselineCrash, baselineGraceful                        []time.Duration
}

func newLeaderBench(opts LeaderOptions) *leaderBench {
	orDefault(&opts.Trials, 10)
	orDefault(&opts.SteadyWindow, 60*time.Second)
	quiet(&opts.Progress)
	return &leaderBench{opts: opts, progress: opts.Progress}
}

// setup builds the sidecar and the baseline elector and starts etcd and
// kube-apiserver with an audit log.
func (b *leaderBench) setup(ctx context.Context) error {
	var err error
	if b.dir, err = b.workDir(b.opts.Dir, "bench-leader-"); err != nil {
		return err
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	if b.sidecarBin, err = testenv.BuildSidecarBinary(b.dir); err != nil {
		return err
	}
	b.baselineBin = filepath.Join(b.dir, "bench-baseline-elector")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.baselineBin, "./test/bench/baselineelector")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build baseline: %w: %s", err, out)
	}
	b.progress("starting etcd and kube-apiserver (with an audit log to count requests)")
	if b.kube, err = testenv.StartKubeWith(filepath.Join(b.dir, "kube"), testenv.KubeOptions{AuditLog: true}); err != nil {
		return err
	}
	b.onClose(b.kube.Stop)
	b.ns = testenv.KubeTestNamespace
	b.adminKubeconfig = filepath.Join(b.dir, "admin.kubeconfig")
	if err := b.kube.WriteKubeconfig(b.adminKubeconfig, testenv.Admin); err != nil {
		return err
	}
	b.admin, err = b.kube.Clientset()
	return err
}

// pods starts three walletd pods with timing t on a fresh Lease and
// keystore; close stops them if the caller does not.
func (b *leaderBench) pods(ctx context.Context, t Timing, extra ...string) (*testenv.Cluster, *group, error) {
	if err := deleteLeases(ctx, b.admin, b.ns); err != nil {
		return nil, nil, err
	}
	c, err := testenv.StartCluster(ctx, b.kube, testenv.ClusterOptions{
		Dir: filepath.Join(b.dir, t.Name), Sidecar: b.sidecarBin,
		LeaseDuration: t.LeaseDuration, RenewDeadline: t.RenewDeadline, RetryPeriod: t.RetryPeriod,
		LogLevel: "info", ExtraArgs: extra,
	})
	if err != nil {
		return nil, nil, err
	}
	g := &group{}
	for _, p := range c.Pods {
		m := podMember(p)
		if err := m.run(); err != nil {
			c.Stop()
			return nil, nil, err
		}
		g.members = append(g.members, m)
	}
	b.onClose(c.Stop)
	return c, g, nil
}

// baselines starts three plain client-go electors with timing t; close
// stops them if the caller does not.
func (b *leaderBench) baselines(t Timing) (*group, error) {
	g := &group{}
	for i := range 3 {
		name := fmt.Sprintf("baseline-%d", i)
		m := processMember(name, b.baselineBin, b.dir, func(listen string) []string {
			return []string{"-kubeconfig", b.adminKubeconfig, "-namespace", b.ns, "-identity", name, "-lease-name", "baseline-leader", "-listen", listen,
				"-lease-duration", t.LeaseDuration.String(), "-renew-deadline", t.RenewDeadline.String(), "-retry-period", t.RetryPeriod.String()}
		})
		if err := m.run(); err != nil {
			g.stop()
			return nil, err
		}
		g.members = append(g.members, m)
	}
	b.onClose(g.stop)
	return g, nil
}

// steady runs both groups with default timings side by side and counts
// their API requests, RSS and Lease changes over the window.
func (b *leaderBench) steady(ctx context.Context) error {
	b.progress("steady state: 3 walletd pods and 3 baseline electors, default timings")
	cluster, sc, err := b.pods(ctx, DefaultTiming)
	if err != nil {
		return err
	}
	b.steadyCluster, b.steadyGroup = cluster, sc
	base, err := b.baselines(DefaultTiming)
	if err != nil {
		return err
	}
	scLeader, _, err := sc.leader(nil, 2*time.Minute, 50*time.Millisecond)
	if err != nil {
		return fmt.Errorf("sidecar leader: %w", err)
	}
	baseLeader, _, err := base.leader(nil, 2*time.Minute, 50*time.Millisecond)
	if err != nil {
		return fmt.Errorf("baseline leader: %w", err)
	}
	// Let start-up traffic (promotion, first labels, watches) pass.
	time.Sleep(2 * DefaultTiming.RetryPeriod)
	electionBefore := map[*member]float64{}
	for _, m := range sc.members {
		if electionBefore[m], err = requestCount(m); err != nil {
			return err
		}
	}
	transitionsBefore, err := leaseTransitions(ctx, b.admin, b.ns)
	if err != nil {
		return err
	}
	from := time.Now()
	// The window is the measurement itself, not a wait for a condition;
	// Ctrl-C ends it.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.opts.SteadyWindow):
	}
	to := time.Now()
	transitionsAfter, err := leaseTransitions(ctx, b.admin, b.ns)
	if err != nil {
		return err
	}
	res := &b.steadyFigures
	res.SpuriousTransitions = transitionsAfter - transitionsBefore
	counts, err := auditCounts(b.kube.AuditLogPath(), from, to)
	if err != nil {
		return err
	}
	window := to.Sub(from).Seconds()
	for _, m := range sc.members {
		n, err := requestCount(m)
		if err != nil {
			return err
		}
		election := (n - electionBefore[m]) / window
		rate := float64(counts["factom-sidecar/"+m.name]) / window
		rss := rssKiB(m.proc.Pid())
		if m == scLeader {
			res.ReqPerSecLeader, res.ElectionReqPerSecLeader, res.RSSLeaderKiB = rate, election, rss
		} else {
			res.ReqPerSecFollower = max(res.ReqPerSecFollower, rate)
			res.ElectionReqPerSecFollower = max(res.ElectionReqPerSecFollower, election)
			res.RSSFollowerKiB = max(res.RSSFollowerKiB, rss)
		}
	}
	for _, m := range base.members {
		rate := float64(counts["bench-baseline-elector/"+m.name]) / window
		if m == baseLeader {
			res.BaselineReqPerSecLeader = rate
		} else {
			res.BaselineReqPerSecFollower = max(res.BaselineReqPerSecFollower, rate)
		}
		res.BaselineRSSKiB = max(res.BaselineRSSKiB, rssKiB(m.proc.Pid()))
	}
	b.progress(fmt.Sprintf("  sidecar pod leader %.2f req/s (election %.2f), follower %.2f (election %.2f); baseline leader %.2f, follower %.2f",
		res.ReqPerSecLeader, res.ElectionReqPerSecLeader, res.ReqPerSecFollower, res.ElectionReqPerSecFollower,
		res.BaselineReqPerSecLeader, res.BaselineReqPerSecFollower))
	base.stop()
	return nil
}

// trial runs one failover scenario and keeps its samples in into.
func (b *leaderBench) trial(what string, into *[]time.Duration, run func() ([]time.Duration, error)) error {
	b.progress(what)
	s, err := run()
	if err != nil {
		return err
	}
	*into = s
	return nil
}

// trials runs every failover scenario: on the steady-state pods, on pods
// without early takeover, on pods with the fast timings, and on the
// baseline electors.
func (b *leaderBench) trials(ctx context.Context) error {
	n, settle := b.opts.Trials, 3*DefaultTiming.RetryPeriod
	sc := b.steadyGroup
	if err := b.trial("crash failover (SIGKILL of the leader's sidecar), default timings", &b.crashDefault,
		func() ([]time.Duration, error) { return sc.failover(syscall.SIGKILL, n, settle, b.progress) }); err != nil {
		return err
	}
	if err := b.trial("graceful handover (SIGTERM of the leader's sidecar), default timings", &b.graceful,
		func() ([]time.Duration, error) { return sc.failover(syscall.SIGTERM, n, settle, b.progress) }); err != nil {
		return err
	}
	if err := b.trial("pause past the lease (SIGSTOP of the leader's sidecar: no evidence), default timings", &b.pause,
		func() ([]time.Duration, error) { return sc.pause(n, settle, b.progress) }); err != nil {
		return err
	}
	b.steadyCluster.Stop()

	if err := b.trial("crash failover (SIGKILL), default timings, --early-takeover=false", &b.crashNoEarly, func() ([]time.Duration, error) {
		c, g, err := b.pods(ctx, DefaultTiming, "--early-takeover=false")
		if err != nil {
			return nil, err
		}
		defer c.Stop()
		return g.failover(syscall.SIGKILL, n, settle, b.progress)
	}); err != nil {
		return err
	}
	if err := b.trial("crash failover (SIGKILL), fast timings", &b.crashFast, func() ([]time.Duration, error) {
		c, g, err := b.pods(ctx, FastTiming)
		if err != nil {
			return nil, err
		}
		defer c.Stop()
		return g.failover(syscall.SIGKILL, n, 3*FastTiming.RetryPeriod, b.progress)
	}); err != nil {
		return err
	}

	var base *group
	if err := b.trial("baseline crash failover (SIGKILL), default timings", &b.baselineCrash, func() ([]time.Duration, error) {
		if err := deleteLeases(ctx, b.admin, b.ns); err != nil {
			return nil, err
		}
		var err error
		if base, err = b.baselines(DefaultTiming); err != nil {
			return nil, err
		}
		return base.failover(syscall.SIGKILL, n, settle, b.progress)
	}); err != nil {
		return err
	}
	return b.trial("baseline graceful handover (SIGTERM), default timings", &b.baselineGraceful,
		func() ([]time.Duration, error) { return base.failover(syscall.SIGTERM, n, settle, b.progress) })
}

// summary is the figures measured so far (all of them after trials).
func (b *leaderBench) summary() LeaderResults {
	res := b.steadyFigures
	res.Trials, res.SteadyWindow = b.opts.Trials, b.opts.SteadyWindow
	res.CrashDefault, res.Graceful, res.Pause = Summarize(b.crashDefault), Summarize(b.graceful), Summarize(b.pause)
	res.CrashNoEarly, res.CrashFast = Summarize(b.crashNoEarly), Summarize(b.crashFast)
	res.BaselineCrash, res.BaselineGraceful = Summarize(b.baselineCrash), Summarize(b.baselineGraceful)
	return res
}
