package health

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Behaviours of the scripted factomd.
const (
	behaveNormal       = "normal"
	behaveHang         = "hang"          // never answers until the client gives up
	behaveHTTP500      = "http500"       // HTTP 500 with a text body
	behaveRPCError     = "rpcError"      // HTTP 200 with a JSON-RPC error object
	behaveMalformed    = "malformed"     // not JSON
	behaveMissingField = "missingField"  // heights without directoryblockheight
	behaveNegative     = "negative"      // negative directoryblockheight
	behaveAbsurd       = "absurd"        // directoryblockheight beyond MaxHeight
	behaveMinuteBroken = "minuteMissing" // current-minute without its times
	behaveDrop         = "drop"          // closes the connection without an answer
)

// fakeFactomd is a scripted factomd JSON-RPC server. Its times come from the
// test's clock so block age is under the test's control.
type fakeFactomd struct {
	t     testing.TB
	clock *fakeClock
	srv   *httptest.Server

	mu          sync.Mutex
	behave      string
	height      int64
	leader      int64 // 0: same as height
	minute      int64
	blockStart  time.Time
	notFollow   bool
	stall       bool
	entryBehind int64 // entryheight this far below directoryblockheight
	// blockSeconds is directoryblockinseconds (0: 600).
	blockSeconds int64
	notBooted    bool // "Not fully booted" from balance look-ups
	noBalances   bool // no multiple-ec-balances ("Method not found")
	garbledBoot  bool // multiple-ec-balances without balances
	calls        int
	hangStarted  chan struct{}
}

func newFake(t testing.TB, clock *fakeClock, height int64) *fakeFactomd {
	f := &fakeFactomd{t: t, clock: clock, behave: behaveNormal, height: height, blockStart: clock.Now(), hangStarted: make(chan struct{}, 16)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFactomd) URL() string { return f.srv.URL }

func (f *fakeFactomd) set(fn func(f *fakeFactomd)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// setHeight moves the node to height h with a block that starts now.
func (f *fakeFactomd) setHeight(h int64) {
	f.set(func(f *fakeFactomd) { f.height, f.blockStart = h, f.clock.Now() })
}

func (f *fakeFactomd) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls++
	behave, height, leader, minute, blockStart, notFollow, stall := f.behave, f.height, f.leader, f.minute, f.blockStart, f.notFollow, f.stall
	entry, blockSeconds, notBooted, noBalances, garbledBoot := f.height-f.entryBehind, f.blockSeconds, f.notBooted, f.noBalances, f.garbledBoot
	f.mu.Unlock()
	if leader == 0 {
		leader = height
	}
	if blockSeconds == 0 {
		blockSeconds = 600
	}
	now := f.clock.Now()
	reply := func(result string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, req.ID, result)
	}
	switch behave {
	case behaveHang:
		select {
		case f.hangStarted <- struct{}{}:
		default: // nobody waits for this many hangs
		}
		<-r.Context().Done()
		return
	case behaveDrop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case behaveHTTP500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case behaveRPCError:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32603,"message":"Internal error"}}`, req.ID)
		return
	case behaveMalformed:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","result":{"directoryblockheight":`)
		return
	}
	switch req.Method {
	case "heights":
		switch behave {
		case behaveMissingField:
			reply(fmt.Sprintf(`{"leaderheight":%d,"entryblockheight":0,"entryheight":0}`, leader))
		case behaveNegative:
			reply(`{"directoryblockheight":-5,"leaderheight":3,"entryblockheight":0,"entryheight":0}`)
		case behaveAbsurd:
			reply(`{"directoryblockheight":4000000000,"leaderheight":3,"entryblockheight":0,"entryheight":0}`)
		default:
			reply(fmt.Sprintf(`{"directoryblockheight":%d,"leaderheight":%d,"entryblockheight":%d,"entryheight":%d}`, height, leader, height, entry))
		}
	case "current-minute":
		if behave == behaveMinuteBroken {
			reply(fmt.Sprintf(`{"directoryblockheight":%d,"minute":3}`, height))
			return
		}
		minuteStart := blockStart.UnixNano()
		if notFollow {
			minuteStart = 0
		}
		reply(fmt.Sprintf(`{"leaderheight":%d,"directoryblockheight":%d,"minute":%d,"currentblockstarttime":%d,"currentminutestarttime":%d,"currenttime":%d,"directoryblockinseconds":%d,"stalldetected":%t,"faulttimeout":120,"roundtimeout":30}`,
			leader, height, minute, blockStart.UnixNano(), minuteStart, now.UnixNano(), blockSeconds, stall))
	case "multiple-ec-balances":
		switch {
		case noBalances:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"Method not found"}}`, req.ID)
		case garbledBoot:
			reply(`{"currentheight":0,"lastsavedheight":0}`)
		case notBooted:
			reply(`{"currentheight":0,"lastsavedheight":0,"balances":[{"ack":0,"saved":0,"err":"Not fully booted"}]}`)
		default:
			reply(fmt.Sprintf(`{"currentheight":%d,"lastsavedheight":%d,"balances":[{"ack":0,"saved":0,"err":"Address has not had a transaction"}]}`, leader, height))
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"Method not found"}}`, req.ID)
	}
}

// syncBuffer collects log output written from the poller goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// events returns the log lines whose event is name, decoded.
func (b *syncBuffer) events(name string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue
		}
		if m["event"] == name {
			out = append(out, m)
		}
	}
	return out
}

// testConfig has windows small enough to reason about with a fake clock.
func testConfig(local string, refs ...string) Config {
	cfg := DefaultConfig()
	cfg.FactomdURL = local
	cfg.ReferenceURLs = refs
	cfg.PodIP = ""
	cfg.PollInterval = time.Second
	// The fake clock drives polls, but the timeout is real: as long as the
	// interval allows, for a loopback fake on a loaded machine (tests of
	// hangs set their own).
	cfg.PollTimeout = 900 * time.Millisecond
	cfg.StaleAfter = 5 * time.Second
	cfg.StallWindow = time.Minute
	cfg.UnresponsiveWindow = 30 * time.Second
	cfg.MaxBlockAge = 30 * time.Second
	return cfg
}

type harness struct {
	m     *Monitor
	clock *fakeClock
	logs  *syncBuffer
}

func newHarness(t *testing.T, clock *fakeClock, cfg Config, opts Options) *harness {
	t.Helper()
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	m, err := NewWithOptions(cfg, log, nil, clock.Now, opts)
	if err != nil {
		t.Fatalf("new monitor: %v", err)
	}
	return &harness{m: m, clock: clock, logs: logs}
}

func (h *harness) poll(t *testing.T) {
	t.Helper()
	h.m.PollOnce(t.Context())
}

// closedURL is an address nothing listens on: connections are refused.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
