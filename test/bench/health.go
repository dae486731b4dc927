package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/health"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// HealthOptions size the factomd-mode benchmark.
type HealthOptions struct {
	// Requests to /readyz in the latency run (default 20,000).
	Requests int
	// Rate is the request rate the load generator paces (default 1,200/s).
	Rate int
	// Workers send requests concurrently (default 8).
	Workers int
	// Idle is how long idle CPU is measured (default 60s).
	Idle time.Duration
	// SidecarBin is the sidecar binary; empty builds ./cmd/sidecar into Dir.
	SidecarBin string
	// Dir holds the logs (default a temporary directory, removed after).
	Dir string
	// Progress gets one line per phase (optional).
	Progress func(string)
	// FloorServer, when set, serves body at a loopback URL from a process
	// of its own, like the sidecar, for the static baseline; nil serves it
	// from this process.
	FloorServer func(body []byte) (url string, pid int, stop func(), err error)
}

// HealthResults are the measured figures.
type HealthResults struct {
	Date      time.Time
	NProc     int
	GoVersion string

	RSSKiB          int64   // VmRSS after the idle run
	IdleCPUMilli    float64 // millicores over the idle run
	Idle            time.Duration
	PollsDuringIdle uint64
	CPUPerPoll      time.Duration // sidecar CPU over the idle run / polls in it
	PollNs          int64         // in-process Monitor.PollOnce against a loopback fake, per poll
	PollAllocs      int64
	PollBytes       int64
	ReadyzNs        int64 // in-process /readyz handler, per request
	ReadyzAllocs    int64

	// Floor is the same load against a static handler with a body of the
	// same size (FloorOwnProcess: served by a process of its own, like the
	// sidecar): what the client, loopback HTTP and the scheduler cost on
	// this machine at that moment, with no sidecar in the path.
	FloorOwnProcess bool

	// OneCore: Sidecar and Floor were measured with the generator, the
	// sidecar and the floor server pinned to one shared core. On a VM a
	// wake-up sent to another virtual CPU can wait for the hypervisor; on
	// one core there is none. Spread* are the same load with every process
	// free to run on any core (zero when the machine has one core).
	OneCore                    bool
	Sidecar, Floor             LatencyRun
	SpreadSidecar, SpreadFloor LatencyRun
}

// LatencyRun summarises one target's requests in a load run.
type LatencyRun struct {
	Requests, Errors int
	Rate             float64 // requests per second actually sent
	P50, P99, Max    time.Duration
}

func (o *HealthOptions) defaults() {
	orDefault(&o.Requests, 20000)
	orDefault(&o.Rate, 1200)
	orDefault(&o.Workers, 8)
	orDefault(&o.Idle, 60*time.Second)
	quiet(&o.Progress)
}

// MeasureHealth runs the sidecar in factomd mode on loopback against a
// fake factomd (one local, one reference: the same steady node) and
// measures /readyz latency under a paced load, RSS and CPU while idle, and
// the in-process cost of one poll and one probe.
func MeasureHealth(ctx context.Context, opts HealthOptions) (HealthResults, error) {
	opts.defaults()
	b := &healthBench{opts: opts, res: HealthResults{Date: time.Now().UTC(), NProc: runtime.NumCPU(), GoVersion: runtime.Version()}}
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return b.res, err
	}
	for _, trial := range []func(context.Context) error{b.idle, b.load, b.micro} {
		if err := trial(ctx); err != nil {
			return b.res, err
		}
	}
	return b.res, nil
}

// healthBench is one run of the health benchmark: setup starts the fake
// factomd and the sidecar, each trial (idle, load, micro) measures and
// writes its figures into res, a load run summarised by loadRun.summary.
type healthBench struct {
	closers
	opts    HealthOptions
	res     HealthResults
	node    *httptest.Server // the fake factomd
	sidecar *testenv.Process
	base    string // the sidecar's http://host:port
}

func (b *healthBench) setup(ctx context.Context) error {
	var err error
	if b.opts.Dir, err = b.workDir(b.opts.Dir, "bench-health-"); err != nil {
		return err
	}
	if b.opts.SidecarBin == "" {
		b.opts.Progress("building the sidecar")
		bin, err := testenv.BuildSidecarBinary(b.opts.Dir)
		if err != nil {
			return err
		}
		b.opts.SidecarBin = bin
	}
	b.node = newSteadyFactomd()
	b.onClose(b.node.Close)

	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	b.base = "http://127.0.0.1:" + strconv.Itoa(port)
	proc, err := testenv.Start("sidecar", b.opts.SidecarBin, []string{"factomd",
		"--listen=127.0.0.1:" + strconv.Itoa(port), "--factomd-url=" + b.node.URL, "--reference-url=" + b.node.URL,
	}, nil, filepath.Join(b.opts.Dir, "sidecar.log"))
	if err != nil {
		return err
	}
	b.sidecar = proc
	b.onClose(func() { proc.Stop(5 * time.Second) })
	if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		resp, err := http.Get(b.base + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz %d", resp.StatusCode)
	}); err != nil {
		return fmt.Errorf("sidecar not ready: %w\n%s", err, proc.Logs())
	}
	return nil
}

// idle measures the sidecar's RSS and CPU while it only polls.
func (b *healthBench) idle(ctx context.Context) error {
	res, proc := &b.res, b.sidecar
	b.opts.Progress(fmt.Sprintf("idle for %s", b.opts.Idle))
	polls0, err := healthPolls(b.base)
	if err != nil {
		return err
	}
	cpu0, err := cpuTime(proc.Pid())
	if err != nil {
		return err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(b.opts.Idle):
	}
	cpu1, err := cpuTime(proc.Pid())
	if err != nil {
		return err
	}
	res.Idle = time.Since(start)
	polls1, err := healthPolls(b.base)
	if err != nil {
		return err
	}
	res.RSSKiB = rssKiB(proc.Pid())
	res.IdleCPUMilli = float64(cpu1-cpu0) / float64(res.Idle) * 1000
	res.PollsDuringIdle = polls1 - polls0
	if res.PollsDuringIdle > 0 {
		res.CPUPerPoll = (cpu1 - cpu0) / time.Duration(res.PollsDuringIdle)
	}
	return nil
}

// load times /readyz against the static floor under the paced load, on
// one core and then on any.
func (b *healthBench) load(ctx context.Context) error {
	res, opts := &b.res, b.opts
	body, err := healthBody(b.base + "/readyz")
	if err != nil {
		return err
	}
	floorURL, floorPid, floorStop := "", 0, func() {}
	if opts.FloorServer != nil {
		if floorURL, floorPid, floorStop, err = opts.FloorServer(body); err != nil {
			return fmt.Errorf("floor server: %w", err)
		}
		res.FloorOwnProcess = true
	} else {
		floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		}))
		floorURL, floorStop = floor.URL, floor.Close
	}
	b.onClose(floorStop)
	urls := []string{b.base + "/readyz", floorURL}

	// The goal's run: every process of the measurement on one core.
	opts.Progress(fmt.Sprintf("%d /readyz requests and %d to the static floor at %d/s, alternating one-second blocks, all on one core", opts.Requests, opts.Requests, opts.Rate))
	unpin, pinned := PinToOneCore(b.sidecar.Pid(), floorPid)
	res.OneCore = pinned
	runs, err := healthLoad(ctx, urls, opts)
	unpin()
	if err != nil {
		return err
	}
	res.Sidecar, res.Floor = runs[0].summary(), runs[1].summary()

	if res.OneCore {
		opts.Progress("the same again with every process free to run on any core")
		runs, err := healthLoad(ctx, urls, opts)
		if err != nil {
			return err
		}
		res.SpreadSidecar, res.SpreadFloor = runs[0].summary(), runs[1].summary()
	}
	return nil
}

// micro is the in-process cost of one poll and one /readyz.
func (b *healthBench) micro(context.Context) error {
	b.opts.Progress("in-process poll and probe cost")
	poll, readyz, err := healthMicro(b.node.URL)
	if err != nil {
		return err
	}
	res := &b.res
	res.PollNs, res.PollAllocs, res.PollBytes = poll.NsPerOp(), poll.AllocsPerOp(), poll.AllocedBytesPerOp()
	res.ReadyzNs, res.ReadyzAllocs = readyz.NsPerOp(), readyz.AllocsPerOp()
	return nil
}

// healthMicro measures one poll and one /readyz in-process with testing.Benchmark.
func healthMicro(url string) (testing.BenchmarkResult, testing.BenchmarkResult, error) {
	cfg := health.DefaultConfig()
	cfg.FactomdURL = url
	cfg.ReferenceURLs = []string{url}
	m, err := health.New(cfg, zerolog.Nop(), nil, nil)
	if err != nil {
		return testing.BenchmarkResult{}, testing.BenchmarkResult{}, err
	}
	ctx := context.Background()
	poll := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.PollOnce(ctx)
		}
	})
	h := probe.Handler("ready", probe.Named{Name: "factomd", Check: m.Ready})
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	readyz := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	return poll, readyz, nil
}

// steadyFactomd answers heights, current-minute and the boot check like a
// caught-up node.
func newSteadyFactomd() *httptest.Server {
	start := time.Now()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		now := time.Now().UnixNano()
		w.Header().Set("Content-Type", "application/json")
		switch req.Method {
		case "heights":
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"directoryblockheight":1000,"leaderheight":1000,"entryblockheight":1000,"entryheight":1000}}`, req.ID)
		case "current-minute":
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"leaderheight":1000,"directoryblockheight":1000,"minute":3,"currentblockstarttime":%d,"currentminutestarttime":%d,"currenttime":%d,"directoryblockinseconds":600,"stalldetected":false,"faulttimeout":120,"roundtimeout":30}}`,
				req.ID, start.UnixNano(), now, now)
		case "multiple-ec-balances":
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"currentheight":1000,"lastsavedheight":1000,"balances":[{"ack":0,"saved":0,"err":"Address has not had a transaction"}]}}`, req.ID)
		default:
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"Method not found"}}`, req.ID)
		}
	}))
}

// healthBody fetches one /readyz body, the size the floor server answers with.
func healthBody(url string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("readyz: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("readyz: %w", err)
	}
	return b, nil
}

func healthPolls(base string) (uint64, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/status")
	if err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	defer resp.Body.Close()
	var st struct {
		Polls uint64 `json:"polls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	return st.Polls, nil
}
