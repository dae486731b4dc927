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
	"github.com/factom-sidecar/factom-sidecar/internal/testenv"
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

func summarize(s []time.Duration) Latencies {
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
	CrashDefault, CrashFast, BaselineCrash Latencies
	// Graceful: SIGTERM of the leader → another replica answers 200.
	Graceful, BaselineGraceful Latencies
	// Steady-state API requests per second per pod over SteadyWindow.
	SteadyWindow                 time.Duration
	ReqPerSecLeader              float64
	ReqPerSecFollower            float64 // the busiest follower
	BaselineReqPerSecLeader      float64
	BaselineReqPerSecFollower    float64
	RSSLeaderKiB, RSSFollowerKiB int64
	BaselineRSSKiB               int64
}

// member is one election participant played by a local process.
type member struct {
	name   string
	bin    string
	args   func(listen string) []string
	dir    string
	listen string
	proc   *testenv.Process
	starts int
}

func (m *member) start() error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	m.listen = fmt.Sprintf("127.0.0.1:%d", port)
	m.starts++
	m.proc, err = testenv.Start(m.name, m.bin, m.args(m.listen), nil, filepath.Join(m.dir, fmt.Sprintf("%s-%d.log", m.name, m.starts)))
	if err != nil {
		return err
	}
	// Up once it answers /leader (either way).
	return testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if m.proc.Exited() {
			return false, fmt.Errorf("%s exited: %s", m.name, lastLines(m.proc.Logs(), 5))
		}
		_, err := leaderCode(m.listen)
		return err == nil, err
	})
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
		if err := old.start(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MeasureLeader runs the leader election benchmark on a real API server:
// failover times of the sidecar (default and fast profiles, SIGKILL and
// SIGTERM), steady-state API requests per pod and RSS, and the same for
// plain client-go leader election with default timings.
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
	bins := map[string]string{"sidecar": "./cmd/sidecar", "baseline": "./cmd/bench-baseline-elector"}
	for name, pkg := range bins {
		out := filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return res, fmt.Errorf("build %s: %w: %s", pkg, err, b)
		}
		bins[name] = out
	}
	progress("starting etcd and kube-apiserver")
	kube, err := testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		return res, err
	}
	defer kube.Stop()
	ns := testenv.KubeTestNamespace
	if err := kube.CreateNamespace(ctx, ns); err != nil {
		return res, err
	}
	if err := kube.ApplyManifest(ctx, filepath.Join(root, "manifests", "base", "rbac.yaml"), ns); err != nil {
		return res, err
	}
	for i := range 3 {
		if _, err := kube.CreatePod(ctx, ns, fmt.Sprintf("factom-wallet-%d", i), nil); err != nil {
			return res, err
		}
	}
	userKubeconfig := filepath.Join(dir, "sidecar.kubeconfig")
	adminKubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := kube.WriteKubeconfig(userKubeconfig, testenv.Sidecar); err != nil {
		return res, err
	}
	if err := kube.WriteKubeconfig(adminKubeconfig, testenv.Admin); err != nil {
		return res, err
	}
	admin, err := kube.Clientset()
	if err != nil {
		return res, err
	}
	walletdPort, err := testenv.FreePort() // nothing listens: election only
	if err != nil {
		return res, err
	}

	sidecars := func(t Timing) *group {
		g := &group{}
		for i := range 3 {
			name := fmt.Sprintf("factom-wallet-%d", i)
			g.members = append(g.members, &member{name: name, bin: bins["sidecar"], dir: dir, args: func(listen string) []string {
				return []string{"walletd", "--listen", listen, "--kubeconfig", userKubeconfig, "--namespace", ns, "--pod-name", name,
					"--walletd-url", fmt.Sprintf("http://127.0.0.1:%d", walletdPort), "--proxy-listen", "127.0.0.1:0",
					"--lease-duration", t.LeaseDuration.String(), "--renew-deadline", t.RenewDeadline.String(), "--retry-period", t.RetryPeriod.String()}
			}})
		}
		return g
	}
	baselines := func(t Timing) *group {
		g := &group{}
		for i := range 3 {
			name := fmt.Sprintf("baseline-%d", i)
			g.members = append(g.members, &member{name: name, bin: bins["baseline"], dir: dir, args: func(listen string) []string {
				return []string{"-kubeconfig", adminKubeconfig, "-namespace", ns, "-identity", name, "-lease-name", "baseline-leader", "-listen", listen,
					"-lease-duration", t.LeaseDuration.String(), "-renew-deadline", t.RenewDeadline.String(), "-retry-period", t.RetryPeriod.String()}
			}})
		}
		return g
	}
	startAll := func(g *group) error {
		for _, m := range g.members {
			if err := m.start(); err != nil {
				return err
			}
		}
		return nil
	}

	// Steady state: both groups with default timings, side by side.
	progress("steady state: 3 sidecars and 3 baseline electors, default timings")
	if err := deleteLeases(ctx, admin, ns); err != nil {
		return res, err
	}
	sc, base := sidecars(DefaultTiming), baselines(DefaultTiming)
	defer sc.stop()
	defer base.stop()
	if err := startAll(sc); err != nil {
		return res, err
	}
	if err := startAll(base); err != nil {
		return res, err
	}
	scLeader, _, err := sc.leader(nil, 2*time.Minute, 50*time.Millisecond)
	if err != nil {
		return res, fmt.Errorf("sidecar leader: %w", err)
	}
	baseLeader, _, err := base.leader(nil, 2*time.Minute, 50*time.Millisecond)
	if err != nil {
		return res, fmt.Errorf("baseline leader: %w", err)
	}
	before := map[*member]float64{}
	for _, m := range append(append([]*member{}, sc.members...), base.members...) {
		if before[m], err = requestCount(m); err != nil {
			return res, err
		}
	}
	time.Sleep(opts.SteadyWindow)
	window := opts.SteadyWindow.Seconds()
	for _, m := range sc.members {
		n, err := requestCount(m)
		if err != nil {
			return res, err
		}
		rate := (n - before[m]) / window
		rss := rssKiB(m.proc.Pid())
		if m == scLeader {
			res.ReqPerSecLeader, res.RSSLeaderKiB = rate, rss
		} else {
			res.ReqPerSecFollower = max(res.ReqPerSecFollower, rate)
			res.RSSFollowerKiB = max(res.RSSFollowerKiB, rss)
		}
	}
	for _, m := range base.members {
		n, err := requestCount(m)
		if err != nil {
			return res, err
		}
		rate := (n - before[m]) / window
		if m == baseLeader {
			res.BaselineReqPerSecLeader = rate
		} else {
			res.BaselineReqPerSecFollower = max(res.BaselineReqPerSecFollower, rate)
		}
		res.BaselineRSSKiB = max(res.BaselineRSSKiB, rssKiB(m.proc.Pid()))
	}
	progress(fmt.Sprintf("  sidecar leader %.2f req/s, follower %.2f req/s; baseline leader %.2f, follower %.2f",
		res.ReqPerSecLeader, res.ReqPerSecFollower, res.BaselineReqPerSecLeader, res.BaselineReqPerSecFollower))
	base.stop()

	settle := 3 * DefaultTiming.RetryPeriod
	progress("crash failover (SIGKILL), default timings")
	s, err := sc.failover(syscall.SIGKILL, opts.Trials, settle, progress)
	if err != nil {
		return res, err
	}
	res.CrashDefault = summarize(s)
	progress("graceful handover (SIGTERM), default timings")
	if s, err = sc.failover(syscall.SIGTERM, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.Graceful = summarize(s)
	sc.stop()

	progress("crash failover (SIGKILL), fast timings")
	if err := deleteLeases(ctx, admin, ns); err != nil {
		return res, err
	}
	fast := sidecars(FastTiming)
	defer fast.stop()
	if err := startAll(fast); err != nil {
		return res, err
	}
	if s, err = fast.failover(syscall.SIGKILL, opts.Trials, 3*FastTiming.RetryPeriod, progress); err != nil {
		return res, err
	}
	res.CrashFast = summarize(s)
	fast.stop()

	progress("baseline crash failover (SIGKILL), default timings")
	if err := deleteLeases(ctx, admin, ns); err != nil {
		return res, err
	}
	base = baselines(DefaultTiming)
	defer base.stop()
	if err := startAll(base); err != nil {
		return res, err
	}
	if s, err = base.failover(syscall.SIGKILL, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.BaselineCrash = summarize(s)
	progress("baseline graceful handover (SIGTERM), default timings")
	if s, err = base.failover(syscall.SIGTERM, opts.Trials, settle, progress); err != nil {
		return res, err
	}
	res.BaselineGraceful = summarize(s)
	return res, nil
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
	fmt.Fprintf(&b, "| API requests/s, leader pod | ≤ 1 | %.2f | %.2f | %s |\n", r.ReqPerSecLeader, r.BaselineReqPerSecLeader, verdict(reqOK))
	fmt.Fprintf(&b, "| API requests/s, busiest follower pod | ≤ 1 | %.2f | %.2f | %s |\n", r.ReqPerSecFollower, r.BaselineReqPerSecFollower, verdict(reqOK))
	fmt.Fprintf(&b, "| RSS | — | leader %d MiB, follower %d MiB | %d MiB | |\n", r.RSSLeaderKiB/1024, r.RSSFollowerKiB/1024, r.BaselineRSSKiB/1024)
	return b.String()
}
