// Command bench runs every benchmark of the project in one run — factomd
// health, leader election, the write-gating proxy, keystore replication and
// audit-log writes —
// against the real programs in bin/ (make tools), and rewrites
// docs/BENCHMARKS.md with the figures beside their goals and baselines and
// the machine they ran on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/bench"
)

var areaKeys = []string{"health", "leader", "proxy", "keystore", "audit", "switchover", "node"}

type config struct {
	out      string
	full     bool
	only     map[string]bool
	trials   int
	workers  int
	keepDirs bool
	idle     time.Duration
	window   time.Duration
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == serveStaticArg {
		if err := serveStatic(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// `bench -soak 30m` (shipped timings) or `bench -soak-fast 30m`: only
	// a spurious-failover soak under write load.
	if len(os.Args) == 3 && (os.Args[1] == "-soak" || os.Args[1] == "-soak-fast") {
		if err := runSoak(ctx, os.Args[1], os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var only string
	fs.StringVar(&cfg.out, "out", "docs/BENCHMARKS.md", "report to write (Markdown); empty writes it to stdout only")
	fs.BoolVar(&cfg.full, "full", false, "also replay 10,000 generate-* into a seed-only wallet (≈ 11 min more); default replays 300 and extrapolates")
	fs.StringVar(&only, "only", strings.Join(areaKeys, ","), "areas to run, comma-separated: "+strings.Join(areaKeys, ","))
	fs.IntVar(&cfg.trials, "trials", 10, "failover trials per leader-election scenario")
	fs.IntVar(&cfg.workers, "readyz-workers", 2, "concurrent /readyz clients in the health load (the machine's cores are shared with the sidecar)")
	fs.DurationVar(&cfg.idle, "health-idle", time.Minute, "how long the sidecar idles before its RSS and idle CPU are read")
	window := time.Minute
	if v := os.Getenv("FACTOM_BENCH_LEADER_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("%w: FACTOM_BENCH_LEADER_WINDOW: %w", errUsage, err)
		}
		window = d
	}
	fs.DurationVar(&cfg.window, "leader-window", window, "steady-state window of the leader benchmark: API requests and leader changes while nothing is killed (env FACTOM_BENCH_LEADER_WINDOW)")
	fs.BoolVar(&cfg.keepDirs, "keep", false, "keep each area's working directory (logs) instead of removing it")
	if err := fs.Parse(args); err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if cfg.trials < 1 {
		return cfg, fmt.Errorf("%w: -trials must be at least 1", errUsage)
	}
	if cfg.workers < 1 {
		return cfg, fmt.Errorf("%w: -readyz-workers must be at least 1", errUsage)
	}
	cfg.only = map[string]bool{}
	for _, k := range strings.Split(only, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		known := false
		for _, a := range areaKeys {
			known = known || a == k
		}
		if !known {
			return cfg, fmt.Errorf("%w: -only: unknown area %q (areas: %s)", errUsage, k, strings.Join(areaKeys, ","))
		}
		cfg.only[k] = true
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	progress := func(s string) { fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), s) }
	rep := Report{Machine: machine(start)}
	rep.Machine.Command = command(args)
	peak := 0.0
	sample := func(load string) {
		if v := load1(load); v > peak {
			peak = v
		}
	}
	sample(rep.Machine.LoadStart)
	busy := loadAbove(rep.Machine.LoadStart, rep.Machine.NProc)

	for _, key := range areaKeys {
		if !cfg.only[key] {
			rep.Areas = append(rep.Areas, skipped(key))
			continue
		}
		if ctx.Err() != nil {
			a := skipped(key)
			a.Skipped, a.Err = false, "interrupted before it started"
			rep.Areas = append(rep.Areas, a)
			continue
		}
		progress("== " + key)
		t0, load0 := time.Now(), bench.LoadAvg()
		a := runArea(ctx, key, cfg, progress)
		a.Took, a.LoadStart, a.LoadEnd = time.Since(t0), load0, bench.LoadAvg()
		sample(a.LoadStart)
		sample(a.LoadEnd)
		busy = busy || loadAbove(a.LoadEnd, rep.Machine.NProc)
		if a.Err != "" {
			fmt.Fprintf(stderr, "bench: %s failed: %s\n", key, a.Err)
		}
		rep.Areas = append(rep.Areas, a)
	}
	rep.Machine.End = time.Now()
	rep.Machine.LoadEnd = bench.LoadAvg()
	sample(rep.Machine.LoadEnd)
	rep.Busy = busy || loadAbove(rep.Machine.LoadEnd, rep.Machine.NProc)
	rep.PeakLoad = peak
	out := Render(rep)
	if cfg.out == "" {
		_, err := io.WriteString(stdout, out)
		return err
	}
	if err := os.WriteFile(cfg.out, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	progress("wrote " + cfg.out)
	for _, a := range rep.Areas {
		if a.Err != "" {
			return fmt.Errorf("%s failed (the report marks it)", a.Key)
		}
	}
	return nil
}

func skipped(key string) Area {
	titles := map[string]string{
		"health":     "factomd health (issue 2)",
		"leader":     "Leader election (issue 3)",
		"proxy":      "Write-gating proxy (issue 4)",
		"keystore":   "Keystore replication (issue 4)",
		"node":       "The shipped manifests on a real node (issue 10)",
		"audit":      auditTitle,
		"switchover": switchoverTitle,
	}
	return Area{Key: key, Title: titles[key], Skipped: true}
}

// runArea runs one area in its own working directory; a panic or error
// becomes the area's Err so the other areas still run and are reported.
func runArea(ctx context.Context, key string, cfg config, progress func(string)) (a Area) {
	dir, err := os.MkdirTemp("", "factom-bench-"+key+"-")
	if err != nil {
		a = skipped(key)
		a.Skipped, a.Err = false, err.Error()
		return a
	}
	if cfg.keepDirs {
		progress("  working directory " + dir)
	} else {
		defer os.RemoveAll(dir)
	}
	defer func() {
		if r := recover(); r != nil {
			a = skipped(key)
			a.Skipped, a.Err = false, fmt.Sprintf("panic: %v", r)
		}
	}()
	sub := func(s string) { progress("  " + s) }
	switch key {
	case "health":
		res, err := bench.MeasureHealth(ctx, bench.HealthOptions{Workers: cfg.workers, Idle: cfg.idle, FloorServer: staticServer(dir), Dir: dir, Progress: sub})
		a = healthArea(res, cfg.workers)
		if err != nil {
			a.Rows, a.Err = nil, err.Error()
		}
	case "leader":
		res, err := bench.MeasureLeader(ctx, bench.LeaderOptions{Trials: cfg.trials, SteadyWindow: cfg.window, Dir: dir, Progress: sub})
		a = leaderArea(res)
		if err != nil {
			a.Rows, a.Err = nil, err.Error()
		}
	case "proxy":
		harness := filepath.Join(dir, "harness")
		if err := os.MkdirAll(harness, 0o700); err != nil {
			a = proxyArea(bench.ProxyResults{}, nil, "")
			a.Err = err.Error()
			return a
		}
		res, err := bench.MeasureProxy(ctx, bench.ProxyOptions{Reads: 5000, Dir: harness, Progress: sub})
		if err != nil {
			a = proxyArea(bench.ProxyResults{}, nil, "")
			a.Err = err.Error()
			return a
		}
		rp, rpErr := measureRealProxy(ctx, filepath.Join(dir, "real"), 100, 5000, sub)
		msg := ""
		if rpErr != nil {
			msg = rpErr.Error()
			rp = nil
		}
		a = proxyArea(res, rp, msg)
	case "keystore":
		opts := bench.KeystoreOptions{Writes: 300, BigKeys: 10000, ReplayKeys: 300, Dir: dir, Progress: sub}
		if cfg.full {
			opts.ReplayKeys = 10000
		}
		res, err := bench.KeystoreReplication(ctx, opts)
		if err != nil {
			a = skipped(key)
			a.Skipped, a.Err, a.Method = false, err.Error(), keystoreMethod
			return a
		}
		a = keystoreArea(res, cfg.full)
	case "node":
		res, err := bench.MeasureNode(ctx, bench.NodeOptions{Trials: cfg.trials, Dir: dir, Progress: sub})
		a = nodeArea(res)
		if err != nil {
			a.Rows, a.Err = nil, err.Error()
		}
	case "switchover":
		res, err := bench.MeasureSwitchover(ctx, bench.SwitchoverOptions{Trials: cfg.trials, Dir: dir, Progress: sub})
		a = switchoverArea(res)
		if err != nil {
			a.Rows, a.Err = nil, err.Error()
		}
	case "audit":
		res, err := bench.MeasureAudit(ctx, bench.AuditOptions{Dir: dir, Writers: []int{1, 8}, Rounds: 5, Block: 2 * time.Second, LatencyCalls: 1000, BlockTime: 6, Progress: sub})
		a = auditArea(res)
		if err != nil {
			a.Err = err.Error()
		}
	}
	return a
}

// machine describes the host from /proc and the Go runtime.
func machine(start time.Time) Machine {
	m := Machine{
		NProc:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		Start:     start,
		LoadStart: bench.LoadAvg(),
	}
	m.CPUModel = bench.ProcField("/proc/cpuinfo", "model name")
	if kib := bench.ProcKiB("/proc/meminfo", "MemTotal"); kib > 0 {
		m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
	}
	return m
}

// loadAbove reports whether the 1-minute load average exceeds the cores.
func loadAbove(load string, cores int) bool { return load1(load) > float64(cores) }

// load1 is the 1-minute figure of a LoadAvg string (0 if unknown).
func load1(load string) float64 {
	one, _, _ := strings.Cut(load, " ")
	v, _ := strconv.ParseFloat(one, 64)
	return v
}

// command is how this run was started, for the report's header.
func command(args []string) string {
	if len(args) == 0 {
		return "make bench"
	}
	return "go run ./cmd/bench " + strings.Join(args, " ")
}

func runSoak(ctx context.Context, flag, window string) error {
	d, err := time.ParseDuration(window)
	if err != nil || d <= 0 {
		return fmt.Errorf("%w: %s: want a positive duration, got %q", errUsage, flag, window)
	}
	profile := soakDefault
	if flag == "-soak-fast" {
		profile = soakFast
	}
	dir, err := os.MkdirTemp("", "factom-bench-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return soak(ctx, dir, profile, d, os.Stdout)
}
