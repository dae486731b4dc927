package health_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// The integration tests share one real two-node factomd LOCAL network and
// one sidecar (the built binary, in factomd mode) watching node 2 with node
// 1 as its reference. Node 2 starts only after node 1 is several blocks
// ahead and after the sidecar runs, so the sidecar sees a real lagging node
// that syncs. A sampler records every probe answer for the whole run.

const (
	maxLag       = 2
	blockTime    = 3 // seconds; LOCAL networks accept short blocks
	pollInterval = 500 * time.Millisecond
)

var (
	env      *network
	setupErr error
)

type network struct {
	dir     string
	node1   *testenv.Factomd
	node2   *testenv.Factomd
	sidecar *testenv.Process
	base    string
	samples *sampler
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		m.Run()
		return
	}
	env, setupErr = startNetwork()
	m.Run()
	if env != nil {
		env.stop()
	}
}

func startNetwork() (*network, error) {
	dir, err := os.MkdirTemp("", "factomd-health-")
	if err != nil {
		return nil, err
	}
	n := &network{dir: dir}
	fail := func(err error) (*network, error) {
		n.stop()
		return nil, err
	}
	bin, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return fail(err)
	}
	if n.node1, err = testenv.StartFactomd("factomd-1", testenv.FactomdOptions{Dir: dir, BlockTime: blockTime}); err != nil {
		return fail(err)
	}
	// Node 1 makes a block every 3 s; being max-lag+6 blocks ahead leaves
	// node 2 visibly behind for several polls while it syncs.
	if err := n.node1.WaitHeight(maxLag+6, 3*time.Minute); err != nil {
		return fail(err)
	}
	apiPort, err := testenv.FreePort()
	if err != nil {
		return fail(err)
	}
	listenPort, err := testenv.FreePort()
	if err != nil {
		return fail(err)
	}
	n.base = "http://127.0.0.1:" + strconv.Itoa(listenPort)
	args := []string{"factomd",
		"--listen=127.0.0.1:" + strconv.Itoa(listenPort),
		"--factomd-url=http://127.0.0.1:" + strconv.Itoa(apiPort),
		"--reference-url=" + n.node1.URL() + "/v2",
		"--max-lag=" + strconv.Itoa(maxLag),
		"--poll-interval=" + pollInterval.String(), "--poll-timeout=400ms", "--stale-after=2s",
		"--stall-window=2m", "--unresponsive-window=2m", "--max-block-age=30s",
	}
	if n.sidecar, err = testenv.Start("sidecar", bin, args, nil, filepath.Join(dir, "sidecar.log")); err != nil {
		return fail(err)
	}
	if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		code, _, err := get(n.base + "/livez")
		return code == http.StatusOK, err
	}); err != nil {
		return fail(fmt.Errorf("sidecar not serving: %w\n%s", err, n.sidecar.Logs()))
	}
	n.samples = startSampler(n.base, pollInterval/2)
	if n.node2, err = testenv.StartFactomd("factomd-2", testenv.FactomdOptions{
		Dir: dir, BlockTime: blockTime, Peer: n.node1.NetworkAddr(), APIPort: apiPort,
	}); err != nil {
		return fail(err)
	}
	return n, nil
}

func (n *network) stop() {
	if n.samples != nil {
		n.samples.stop()
	}
	for _, p := range []*testenv.Factomd{n.node2, n.node1} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
	if n.sidecar != nil {
		n.sidecar.Stop(10 * time.Second)
	}
	os.RemoveAll(n.dir)
}

func need(t *testing.T) *network {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against a real factomd network; skipped in -short mode")
	}
	if setupErr != nil {
		t.Fatalf("setting up the factomd network: %v", setupErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sidecar log:\n%s", env.sidecar.Logs())
		}
	})
	return env
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func TestSyncingNodeIsNotReadyUntilCaughtUp(t *testing.T) {
	n := need(t)
	if err := testenv.Eventually(3*time.Minute, 250*time.Millisecond, func() (bool, error) {
		code, body, err := get(n.base + "/readyz")
		if err != nil {
			return false, err
		}
		return code == http.StatusOK, fmt.Errorf("readyz %d %v", code, body)
	}); err != nil {
		t.Fatalf("node 2 never became ready: %v", err)
	}

	sawLagging := false
	for _, s := range n.samples.of("/readyz") {
		if s.err != nil {
			t.Fatalf("readyz at %s: %v", s.at.Format(time.RFC3339Nano), s.err)
		}
		// A syncing node downloads entries after directory blocks: never
		// ready while they lag.
		if entryLag, ok := num(s.body, "entryLag"); ok && entryLag > 1 && s.code == http.StatusOK {
			t.Fatalf("readyz 200 at %s with entryLag %d: %v", s.at.Format(time.RFC3339Nano), entryLag, s.body)
		}
		lag, hasLag := num(s.body, "lag")
		if s.code == http.StatusOK && (!hasLag || lag > maxLag) {
			t.Fatalf("readyz 200 at %s with lag %v (max %d): %v", s.at.Format(time.RFC3339Nano), s.body["lag"], maxLag, s.body)
		}
		if hasLag && lag > maxLag {
			if s.code != http.StatusServiceUnavailable {
				t.Fatalf("readyz %d while %d blocks behind: %v", s.code, lag, s.body)
			}
			if s.body["reason"] == "lagging" {
				sawLagging = true
			}
		}
	}
	if !sawLagging {
		t.Fatalf("never saw node 2 lagging by more than %d blocks; readyz samples: %v", maxLag, n.samples.of("/readyz"))
	}
	if !strings.Contains(n.sidecar.Logs(), `"event":"startup_complete"`) {
		t.Errorf("no startup_complete line in the sidecar log")
	}
}

func TestStoppedNodeTurnsUnreadyAndRecovers(t *testing.T) {
	n := need(t)
	if err := waitReady(n, true, 3*time.Minute); err != nil {
		t.Fatalf("not ready before the stop: %v", err)
	}
	h2, err := n.node2.Height(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.node2.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = n.node2.Signal(syscall.SIGCONT)
		}
	}()
	if err := waitReady(n, false, time.Minute); err != nil {
		t.Fatalf("still ready while node 2 is stopped: %v", err)
	}
	// The first reason may be "lagging": the network can move on before
	// the last good poll is older than --stale-after. Once it is, the
	// reason is stale, and the probe stays unready throughout.
	var readyWhileStopped map[string]any
	err = testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		code, body, err := get(n.base + "/readyz")
		if err != nil {
			return false, err
		}
		if code != http.StatusServiceUnavailable {
			readyWhileStopped = body
			return true, nil
		}
		return body["reason"] == "stale", fmt.Errorf("reason %v (%v)", body["reason"], body)
	})
	switch {
	case readyWhileStopped != nil:
		t.Fatalf("ready again while node 2 is stopped: %v", readyWhileStopped)
	case err != nil:
		t.Errorf("while stopped, never unready with reason stale: %v", err)
	}
	// Let the network move on by several blocks before resuming.
	if err := n.node1.WaitHeight(h2+maxLag+2, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := n.node2.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	if err := waitReady(n, true, 3*time.Minute); err != nil {
		t.Fatalf("not ready again after SIGCONT: %v", err)
	}
	logs := n.sidecar.Logs()
	if !strings.Contains(logs, `"event":"readiness_changed"`) || !strings.Contains(logs, `"reason":"stale"`) {
		t.Errorf("no readiness_changed line with reason stale in the sidecar log")
	}
}

func TestLivenessHeldThroughSyncAndStop(t *testing.T) {
	n := need(t)
	samples := n.samples.of("/livez")
	if len(samples) < 20 {
		t.Fatalf("only %d livez samples", len(samples))
	}
	for _, s := range samples {
		if s.err != nil || s.code != http.StatusOK {
			t.Fatalf("livez at %s = %d %v %v", s.at.Format(time.RFC3339Nano), s.code, s.body, s.err)
		}
	}
	started := n.samples.of("/startupz")
	if started[0].code != http.StatusServiceUnavailable {
		t.Errorf("startupz before node 2 ran = %d %v, want 503", started[0].code, started[0].body)
	}
	if last := started[len(started)-1]; last.code != http.StatusOK {
		t.Errorf("startupz at the end = %d %v, want 200", last.code, last.body)
	}
}

func TestStatusAndMetrics(t *testing.T) {
	n := need(t)
	code, body, err := get(n.base + "/status")
	if err != nil || code != http.StatusOK {
		t.Fatalf("status = %d %v", code, err)
	}
	refs, _ := body["references"].([]any)
	if len(refs) != 1 || body["networkHeightRule"] == "" || body["networkHeight"] == nil {
		t.Fatalf("status body = %v", body)
	}
	// A real node at the tip holds its entries to within one block.
	if lag, ok := num(body, "entryLag"); !ok || lag < 0 || lag > 1 {
		t.Errorf("status entryLag = %v, want 0 or 1 on a node at the tip", body["entryLag"])
	}
	resp, err := httpClient.Get(n.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"factom_sidecar_local_height_blocks", "factom_sidecar_network_height_blocks", "factom_sidecar_lag_blocks",
		"factom_sidecar_ready", "factom_sidecar_live", "factom_sidecar_poll_duration_seconds_bucket",
		"factom_sidecar_entry_height_blocks", "factom_sidecar_entry_lag_blocks"} {
		if !strings.Contains(string(data), "\n"+name) {
			t.Errorf("metric %s missing", name)
		}
	}
	// One line per verdict change, not per poll: the run has had hundreds of polls.
	if c := strings.Count(n.sidecar.Logs(), "\n"); c > 40 {
		t.Errorf("%d sidecar log lines; verdict changes only expected", c)
	}
}

func waitReady(n *network, want bool, timeout time.Duration) error {
	wantCode := http.StatusServiceUnavailable
	if want {
		wantCode = http.StatusOK
	}
	return testenv.Eventually(timeout, 200*time.Millisecond, func() (bool, error) {
		code, body, err := get(n.base + "/readyz")
		if err != nil {
			return false, err
		}
		if code != wantCode {
			return false, errors.New("readyz " + strconv.Itoa(code) + " " + fmt.Sprint(body))
		}
		return true, nil
	})
}
