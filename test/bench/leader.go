package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Latencies summarises samples.
type Latencies struct {
	Samples  []time.Duration
	P50, P99 time.Duration
	Min, Max time.Duration
}

// Summarize gives the percentiles of samples (one rank rule for every
// figure of the report).
func Summarize(s []time.Duration) Latencies {
	l := Latencies{Samples: append([]time.Duration(nil), s...)}
	if len(s) == 0 {
		return l
	}
	sorted := append([]time.Duration(nil), s...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	l.P50 = percentile(sorted, 0.50)
	l.P99 = percentile(sorted, 0.99)
	l.Min, l.Max = sorted[0], sorted[len(sorted)-1]
	return l
}

// percentile by the nearest-rank method (with 10 samples p99 is the max).
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(float64(len(sorted))*p+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

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

// member is one election participant played by local processes. start
// (re)starts it and returns its /leader address and process.
type member struct {
	name   string
	start  func() (listen string, proc *testenv.Process, err error)
	listen string
	proc   *testenv.Process
}

func (m *member) run() error {
	listen, proc, err := m.start()
	if err != nil {
		return err
	}
	m.listen, m.proc = listen, proc
	// Up once it answers /leader (either way).
	return testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if m.proc.Exited() {
			return false, fmt.Errorf("%s exited: %s", m.name, lastLines(m.proc.Logs(), 5))
		}
		_, err := leaderCode(m.listen)
		return err == nil, err
	})
}

// processMember runs bin with args(listen) on a free port.
func processMember(name, bin, dir string, args func(listen string) []string) *member {
	starts := 0
	return &member{name: name, start: func() (string, *testenv.Process, error) {
		port, err := testenv.FreePort()
		if err != nil {
			return "", nil, err
		}
		listen := fmt.Sprintf("127.0.0.1:%d", port)
		starts++
		p, err := testenv.Start(name, bin, args(listen), nil, filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, starts)))
		return listen, p, err
	}}
}

// podMember is a walletd pod of the cluster harness; restarts start its
// sidecar again (walletd keeps running, as in a container restart).
func podMember(p *testenv.WalletPod) *member {
	first := true
	m := &member{name: p.Name}
	m.start = func() (string, *testenv.Process, error) {
		if !first {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := p.StartSidecar(ctx); err != nil {
				return "", nil, err
			}
		}
		first = false
		return p.Listen, p.Sidecar, nil
	}
	return m
}

var benchHTTP = &http.Client{Timeout: time.Second}

func leaderCode(listen string) (int, error) {
	resp, err := benchHTTP.Get("http://" + listen + "/leader")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// group is three participants sharing one Lease.
type group struct{ members []*member }

func (g *group) stop() {
	for _, m := range g.members {
		if m.proc != nil {
			m.proc.Stop(20 * time.Second)
		}
	}
}

// leader waits for a member answering 200, ignoring skip.
func (g *group) leader(skip *member, timeout time.Duration, interval time.Duration) (*member, time.Time, error) {
	var found *member
	var at time.Time
	err := testenv.Eventually(timeout, interval, func() (bool, error) {
		for _, m := range g.members {
			if m == skip || m.proc.Exited() {
				continue
			}
			if code, err := leaderCode(m.listen); err == nil && code == http.StatusOK {
				found, at = m, time.Now()
				return true, nil
			}
		}
		return false, nil
	})
	return found, at, err
}

// failover kills (or terminates) the leader trials times and measures the
// time until another member answers 200; the old member is started again
// after each trial, as the kubelet restarts a container.
func (g *group) failover(sig syscall.Signal, trials int, settle time.Duration, progress func(string)) ([]time.Duration, error) {
	var out []time.Duration
	for i := range trials {
		old, _, err := g.leader(nil, 2*time.Minute, 20*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("no leader before trial %d: %w", i, err)
		}
		// Followers have seen a few renewals; kill at a random phase of
		// the renewal cycle (the settle time is not a condition wait).
		time.Sleep(settle)
		t0 := time.Now()
		if err := old.proc.Signal(sig); err != nil {
			return nil, err
		}
		_, t1, err := g.leader(old, 2*time.Minute, 2*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("no new leader in trial %d: %w", i, err)
		}
		out = append(out, t1.Sub(t0))
		progress(fmt.Sprintf("  trial %d: %s", i+1, t1.Sub(t0).Round(time.Millisecond)))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = old.proc.Wait(ctx)
		cancel()
		if err != nil && !old.proc.Exited() {
			return nil, fmt.Errorf("%s did not exit: %w", old.name, err)
		}
		if err := old.run(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pause stops the leader (SIGSTOP) trials times and measures the time
// until another member answers 200; the old member continues (SIGCONT)
// after each trial and rejoins as a follower.
func (g *group) pause(trials int, settle time.Duration, progress func(string)) ([]time.Duration, error) {
	var out []time.Duration
	for i := range trials {
		old, _, err := g.leader(nil, 2*time.Minute, 20*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("no leader before pause trial %d: %w", i, err)
		}
		time.Sleep(settle) // a random phase of the renewal cycle, as in failover
		t0 := time.Now()
		if err := old.proc.Signal(syscall.SIGSTOP); err != nil {
			return nil, err
		}
		_, t1, err := g.leader(old, 2*time.Minute, 2*time.Millisecond)
		if cerr := old.proc.Signal(syscall.SIGCONT); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("no new leader in pause trial %d: %w", i, err)
		}
		out = append(out, t1.Sub(t0))
		progress(fmt.Sprintf("  trial %d: %s", i+1, t1.Sub(t0).Round(time.Millisecond)))
	}
	return out, nil
}

// MeasureLeader runs the leader election benchmark on a real API server
// with the full walletd pods (walletd-init, test-walletd, sidecar with
// keystore replication): failover times (default and fast profiles,
// SIGKILL and SIGTERM of the sidecar), steady-state API requests per pod
// (from the API server's audit log) and RSS, and the same for plain
// client-go leader election with default timings.
func MeasureLeader(ctx context.Context, opts LeaderOptions) (LeaderResults, error) {
	if opts.Trials <= 0 {
		opts.Trials = 10
	}
	if opts.SteadyWindow <= 0 {
		opts.SteadyWindow = 60 * time.Second
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	res := LeaderResults{Trials: opts.Trials, SteadyWindow: opts.SteadyWindow}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-leader-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return res, err
	}
	sidecarBin, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return res, err
	}
	baselineBin := filepath.Join(dir, "bench-baseline-elector")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", baselineBin, "./test/bench/baselineelector")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return res, fmt.Errorf("build baseline: %w: %s", err, b)
	}
	progress("starting etcd and kube-apiserver (with an audit log to count requests)")
	kube, err := testenv.StartKubeWith(filepath.Join(dir, "kube"), testenv.KubeOptions{AuditLog: true})
	if err != nil {
		return res, err
	}
	defer kube.Stop()
	ns := testenv.KubeTestNamespace
	adminKubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := kube.WriteKubeconfig(adminKubeconfig, testenv.Admin); err != nil {
		return res, err
	}
	admin, err := kube.Clientset()
	if err != nil {
		return res, err
	}

	startPods := func(t Timing, extra ...string) (*testenv.Cluster, *group, error) {
		if err := deleteLeases(ctx, admin, ns); err != nil {
			return nil, nil, err
		}
		c, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{
			Dir: filepath.Join(dir, t.Name), Sidecar: sidecarBin,
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
		return c, g, nil
	}
	baselines := func(t Timing) (*group, error) {
		g := &group{}
		for i := range 3 {
			name := fmt.Sprintf("baseline-%d", i)
			m := processMember(name, baselineBin, dir, func(listen string) []string {
				return []string{"-kubeconfig", adminKubeconfig, "-namespace", ns, "-identity", name, "-lease-name", "baseline-leader", "-listen", listen,
					"-lease-duration", t.LeaseDuration.String(), "-renew-deadline", t.RenewDeadline.String(), "-retry-period", t.RetryPeriod.String()}
			})
			if err := m.run(); err != nil {
				g.stop()
				return nil, err
			}
			g.members = append(g.members, m)
		}
		return g, nil
	}

	// Steady state: both groups with default timings, side by side.
	progress("steady state: 3 walletd pods and 3 baseline electors, default timings")
	cluster, sc, err := startPods(DefaultTiming)
	if err != nil {
		return res, err
	}
	defer cluster.Stop()
	base, err := baselines(DefaultTiming)
	if err != nil {
		return res, err
	}
	defer base.stop()
	scLeader, _, err := sc.leader(nil, 2*time.Minute, 50*time.Millisecond)
	if err != nil {
		return res, fmt.Errorf("sidecar leader: %w", err)
	}
	baseLeader, _, err := base.leader(nil, 2*time.Minute, 50*time.Millisecond)
	if err != nil {
		return res, fmt.Errorf("baseline leader: %w", err)
	}
	// Let start-up traffic (promotion, first labels, watches) pass.
	time.Sleep(2 * DefaultTiming.RetryPeriod)
	electionBefore := map[*member]float64{}
	for _, m := range sc.members {
		if electionBefore[m], err = requestCount(m); err != nil {
			return res, err
		}
	}
	transitionsBefore, err := leaseTransitions(ctx, admin, ns)
	if err != nil {
		return res, err
	}
	from := time.Now()
	// The window is the measurement itself, not a wait for a condition;
	// Ctrl-C ends it.
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(opts.SteadyWindow):
	}
	to := time.Now()
	transitionsAfter, err := leaseTransitions(ctx, admin, ns)
	if err != nil {
		return res, err
	}
	res.SpuriousTransitions = transitionsAfter - transitionsBefore
	counts, err := auditCounts(kube.AuditLogPath(), from, to)
	if err != nil {
		return res, err
	}
	window := to.Sub(from).Seconds()
	for _, m := range sc.members {
		n, err := requestCount(m)
		if err != nil {
			return res, err
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
	progress(fmt.Sprintf("  sidecar pod leader %.2f req/s (election %.2f), follower %.2f (election %.2f); baseline leader %.2f, follower %.2f",
		res.ReqPerSecLeader, res.ElectionReqPerSecLeader, res.ReqPerSecFollower, res.ElectionReqPerSecFollower,
		res.BaselineReqPerSecLeader, res.BaselineReqPerSecFollower))
	base.stop()

	settle := 3 * DefaultTiming.RetryPeriod
	progress("crash failover (SIGKILL of the leader's sidecar), default timings")
	s, err := sc.failover(syscall.SIGKILL, opts.Trials, settle, progress)
	if err != nil {
		return res, err
	}
	res.CrashDefault = Summarize(s)
	progress("graceful handover (SIGTERM of the leader's sidecar), default timings")
	if s, err = sc.failover(syscall.SIGTERM, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.Graceful = Summarize(s)
	progress("pause past the lease (SIGSTOP of the leader's sidecar: no evidence), default timings")
	if s, err = sc.pause(opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.Pause = Summarize(s)
	cluster.Stop()

	progress("crash failover (SIGKILL), default timings, --early-takeover=false")
	noEarlyCluster, noEarly, err := startPods(DefaultTiming, "--early-takeover=false")
	if err != nil {
		return res, err
	}
	defer noEarlyCluster.Stop()
	if s, err = noEarly.failover(syscall.SIGKILL, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.CrashNoEarly = Summarize(s)
	noEarlyCluster.Stop()

	progress("crash failover (SIGKILL), fast timings")
	fastCluster, fast, err := startPods(FastTiming)
	if err != nil {
		return res, err
	}
	defer fastCluster.Stop()
	if s, err = fast.failover(syscall.SIGKILL, opts.Trials, 3*FastTiming.RetryPeriod, progress); err != nil {
		return res, err
	}
	res.CrashFast = Summarize(s)
	fastCluster.Stop()

	progress("baseline crash failover (SIGKILL), default timings")
	if err := deleteLeases(ctx, admin, ns); err != nil {
		return res, err
	}
	if base, err = baselines(DefaultTiming); err != nil {
		return res, err
	}
	defer base.stop()
	if s, err = base.failover(syscall.SIGKILL, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.BaselineCrash = Summarize(s)
	progress("baseline graceful handover (SIGTERM), default timings")
	if s, err = base.failover(syscall.SIGTERM, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.BaselineGraceful = Summarize(s)
	return res, nil
}

func leaseTransitions(ctx context.Context, cs kubernetes.Interface, ns string) (int32, error) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := cs.CoordinationV1().Leases(ns).Get(c, leader.DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("lease: %w", err)
	}
	if l.Spec.LeaseTransitions == nil {
		return 0, nil
	}
	return *l.Spec.LeaseTransitions, nil
}

// auditCounts counts the API server's audit events by user agent (up to
// the first space) for requests received in [from, to).
func auditCounts(path string, from, to time.Time) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			UserAgent string    `json:"userAgent"`
			Received  time.Time `json:"requestReceivedTimestamp"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Received.Before(from) || !ev.Received.Before(to) {
			continue
		}
		ua, _, _ := strings.Cut(ev.UserAgent, " ")
		counts[ua]++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return counts, nil
}

func deleteLeases(ctx context.Context, cs kubernetes.Interface, ns string) error {
	for _, name := range []string{leader.DefaultLeaseName, "baseline-leader"} {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := cs.CoordinationV1().Leases(ns).Delete(c, name, metav1.DeleteOptions{})
		cancel()
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete lease %s: %w", name, err)
		}
	}
	// A fresh keystore per cluster: walletd-init of the first pod creates it.
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cs.CoreV1().Secrets(ns).Delete(c, "factom-wallet-keystore", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete keystore secret: %w", err)
	}
	return nil
}

// requestCount is the API requests a member has sent: the sidecar's
// factom_sidecar_kube_requests_total (all clients), the baseline's /requests.
func requestCount(m *member) (float64, error) {
	if strings.HasPrefix(m.name, "baseline") {
		resp, err := benchHTTP.Get("http://" + m.listen + "/requests")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var v struct{ Requests int64 }
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return 0, err
		}
		return float64(v.Requests), nil
	}
	resp, err := benchHTTP.Get("http://" + m.listen + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "factom_sidecar_kube_requests_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, err
		}
		total += v
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return total, nil
}

// rssKiB is VmRSS of a process (0 if unknown).
func rssKiB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// Markdown renders the figures for docs/BENCHMARKS.md.
func (r LeaderResults) Markdown() string {
	var b strings.Builder
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	fmt.Fprintf(&b, "| figure (%d trials each) | goal | p50 | p99 | min–max | |\n|---|---|---|---|---|---|\n", r.Trials)
	row := func(name, goal string, l Latencies, f func(time.Duration) string, ok *bool) {
		v := ""
		if ok != nil {
			v = verdict(*ok)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s–%s | %s |\n", name, goal, f(l.P50), f(l.P99), f(l.Min), f(l.Max), v)
	}
	crashDefaultOK := r.CrashDefault.P99 <= DefaultTiming.LeaseDuration+200*time.Millisecond
	crashFastOK := r.CrashFast.P99 <= FastTiming.LeaseDuration+200*time.Millisecond
	gracefulOK := r.Graceful.P99 <= 100*time.Millisecond
	row("sidecar crash failover, default 15s/10s/2s (SIGKILL → new leader writable)", "≤ 15.2 s", r.CrashDefault, secs, &crashDefaultOK)
	row("sidecar crash failover, fast 4s/3s/0.5s", "≤ 4.2 s", r.CrashFast, secs, &crashFastOK)
	row("baseline client-go crash failover, 15s/10s/2s (SIGKILL → new leader)", "—", r.BaselineCrash, secs, nil)
	row("sidecar graceful handover (SIGTERM → new leader writable)", "≤ 100 ms p99", r.Graceful, ms, &gracefulOK)
	row("baseline client-go graceful handover (ReleaseOnCancel)", "—", r.BaselineGraceful, ms, nil)
	reqOK := r.ReqPerSecLeader <= 1 && r.ReqPerSecFollower <= 1
	fmt.Fprintf(&b, "\n| steady state (%s window, default timings) | goal | sidecar | baseline client-go | |\n|---|---|---|---|---|\n", r.SteadyWindow)
	fmt.Fprintf(&b, "| API requests/s, leader pod (audit log; election alone) | ≤ 1 | %.2f (%.2f) | %.2f | %s |\n", r.ReqPerSecLeader, r.ElectionReqPerSecLeader, r.BaselineReqPerSecLeader, verdict(reqOK))
	fmt.Fprintf(&b, "| API requests/s, busiest follower pod (audit log; election alone) | ≤ 1 | %.2f (%.2f) | %.2f | %s |\n", r.ReqPerSecFollower, r.ElectionReqPerSecFollower, r.BaselineReqPerSecFollower, verdict(reqOK))
	fmt.Fprintf(&b, "| leader changes while nothing was killed (soak) | 0 | %d | — | %s |\n", r.SpuriousTransitions, verdict(r.SpuriousTransitions == 0))
	fmt.Fprintf(&b, "| RSS | — | leader %d MiB, follower %d MiB | %d MiB | |\n", r.RSSLeaderKiB/1024, r.RSSFollowerKiB/1024, r.BaselineRSSKiB/1024)
	return b.String()
}
