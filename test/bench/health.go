package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	if o.Requests <= 0 {
		o.Requests = 20000
	}
	if o.Rate <= 0 {
		o.Rate = 1200
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Idle <= 0 {
		o.Idle = 60 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// MeasureHealth runs the sidecar in factomd mode on loopback against a
// fake factomd (one local, one reference: the same steady node) and
// measures /readyz latency under a paced load, RSS and CPU while idle, and
// the in-process cost of one poll and one probe.
func MeasureHealth(ctx context.Context, opts HealthOptions) (HealthResults, error) {
	opts.defaults()
	res := HealthResults{Date: time.Now().UTC(), NProc: runtime.NumCPU(), GoVersion: runtime.Version()}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "bench-health-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		opts.Dir = dir
	}
	if opts.SidecarBin == "" {
		opts.Progress("building the sidecar")
		bin, err := testenv.BuildSidecarBinary(opts.Dir)
		if err != nil {
			return res, err
		}
		opts.SidecarBin = bin
	}
	node := newSteadyFactomd()
	defer node.Close()

	port, err := testenv.FreePort()
	if err != nil {
		return res, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	proc, err := testenv.Start("sidecar", opts.SidecarBin, []string{"factomd",
		"--listen=127.0.0.1:" + strconv.Itoa(port), "--factomd-url=" + node.URL, "--reference-url=" + node.URL,
	}, nil, filepath.Join(opts.Dir, "sidecar.log"))
	if err != nil {
		return res, err
	}
	defer proc.Stop(5 * time.Second)
	if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz %d", resp.StatusCode)
	}); err != nil {
		return res, fmt.Errorf("sidecar not ready: %w\n%s", err, proc.Logs())
	}

	opts.Progress(fmt.Sprintf("idle for %s", opts.Idle))
	polls0, err := healthPolls(base)
	if err != nil {
		return res, err
	}
	cpu0, err := healthCPU(proc.Pid())
	if err != nil {
		return res, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(opts.Idle):
	}
	cpu1, err := healthCPU(proc.Pid())
	if err != nil {
		return res, err
	}
	res.Idle = time.Since(start)
	polls1, err := healthPolls(base)
	if err != nil {
		return res, err
	}
	res.RSSKiB = healthRSSKiB(proc.Pid())
	res.IdleCPUMilli = float64(cpu1-cpu0) / float64(res.Idle) * 1000
	res.PollsDuringIdle = polls1 - polls0
	if res.PollsDuringIdle > 0 {
		res.CPUPerPoll = (cpu1 - cpu0) / time.Duration(res.PollsDuringIdle)
	}

	body, err := healthBody(base + "/readyz")
	if err != nil {
		return res, err
	}
	floorURL, floorPid, floorStop := "", 0, func() {}
	if opts.FloorServer != nil {
		if floorURL, floorPid, floorStop, err = opts.FloorServer(body); err != nil {
			return res, fmt.Errorf("floor server: %w", err)
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
	defer floorStop()
	urls := []string{base + "/readyz", floorURL}

	// The goal's run: every process of the measurement on one core.
	opts.Progress(fmt.Sprintf("%d /readyz requests and %d to the static floor at %d/s, alternating one-second blocks, all on one core", opts.Requests, opts.Requests, opts.Rate))
	unpin, pinned := PinToOneCore(proc.Pid(), floorPid)
	res.OneCore = pinned
	runs, err := healthLoad(ctx, urls, opts)
	unpin()
	if err != nil {
		return res, err
	}
	res.Sidecar, res.Floor = runs[0].summary(), runs[1].summary()

	if res.OneCore {
		opts.Progress("the same again with every process free to run on any core")
		runs, err := healthLoad(ctx, urls, opts)
		if err != nil {
			return res, err
		}
		res.SpreadSidecar, res.SpreadFloor = runs[0].summary(), runs[1].summary()
	}

	opts.Progress("in-process poll and probe cost")
	poll, readyz, err := healthMicro(node.URL)
	if err != nil {
		return res, err
	}
	res.PollNs, res.PollAllocs, res.PollBytes = poll.NsPerOp(), poll.AllocsPerOp(), poll.AllocedBytesPerOp()
	res.ReadyzNs, res.ReadyzAllocs = readyz.NsPerOp(), readyz.AllocsPerOp()
	return res, nil
}

// loadRun is one target's share of healthLoad.
type loadRun struct {
	lat  []time.Duration
	errs int
	busy time.Duration // time spent in this target's blocks
}

func (r loadRun) rate() float64 {
	if r.busy <= 0 {
		return 0
	}
	return float64(len(r.lat)+r.errs) / r.busy.Seconds()
}

func (r loadRun) summary() LatencyRun {
	out := LatencyRun{Requests: len(r.lat), Errors: r.errs, Rate: r.rate()}
	if len(r.lat) > 0 {
		sorted := slices.Sorted(slices.Values(r.lat))
		out.P50, out.P99, out.Max = healthRank(sorted, 0.50), healthRank(sorted, 0.99), sorted[len(sorted)-1]
	}
	return out
}

// healthLoad sends opts.Requests GETs to each URL, paced at opts.Rate from
// opts.Workers workers over keep-alive connections (rawGet). The targets
// take turns in blocks of one second's requests, so a slow minute on the
// machine falls on all of them alike while only one is loaded at a time.
// Pacing follows a schedule, not a ticker: a request that is late goes out
// at once, so the achieved rate is the asked one unless the server cannot
// keep up. Each latency runs from writing the request to reading the last
// byte of the body. The generator's garbage collector is off while it runs
// (it allocates nothing per request) so its pauses are not in the figures.
func healthLoad(ctx context.Context, urls []string, opts HealthOptions) ([]loadRun, error) {
	clients := make([][]*rawGet, len(urls))
	for i, u := range urls {
		for range opts.Workers {
			g, err := newRawGet(u, 5*time.Second)
			if err != nil {
				return nil, err
			}
			clients[i] = append(clients[i], g)
			defer g.Close()
		}
	}
	runs := make([]loadRun, len(urls))
	for i := range runs {
		runs[i].lat = make([]time.Duration, 0, opts.Requests)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))

	interval := time.Second / time.Duration(opts.Rate)
	block := opts.Rate
	for sent := 0; sent < opts.Requests; sent += block {
		n := min(block, opts.Requests-sent)
		for i := range urls {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			// Warm this target's connections so a dial is not timed.
			for _, g := range clients[i] {
				if _, err := g.Do(); err != nil {
					return nil, fmt.Errorf("load %s: %w", urls[i], err)
				}
			}
			took := healthBlock(clients[i], n, interval, &runs[i])
			runs[i].busy += took
		}
	}
	return runs, ctx.Err()
}

// healthBlock sends n requests spread over the workers' connections, one
// every interval, and records their latencies in run.
func healthBlock(clients []*rawGet, n int, interval time.Duration, run *loadRun) time.Duration {
	var mu sync.Mutex
	next := make(chan struct{})
	var wg sync.WaitGroup
	for _, g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				status, err := g.Do()
				d := time.Since(t0)
				mu.Lock()
				if err != nil || status != http.StatusOK {
					run.errs++
				} else {
					run.lat = append(run.lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	return time.Since(start)
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

// healthCPU is the process's user+system CPU time from /proc/<pid>/stat.
// Linux reports it in clock ticks of 1/100 s (USER_HZ, fixed at 100 on
// every architecture Go supports here).
func healthCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu: %w", err)
	}
	// The command name may hold spaces; fields start after its ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("cpu: unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("cpu: short /proc stat")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu: %w", err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func healthRSSKiB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// healthRank is the nearest-rank percentile of sorted samples.
func healthRank(sorted []time.Duration, p float64) time.Duration {
	r := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(r, len(sorted)-1))]
}
