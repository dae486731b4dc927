package health

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func TestReadiness(t *testing.T) {
	tests := []struct {
		name string
		// setup scripts the local node and the references; nil refs entries
		// stand for references that refuse connections.
		local      func(f *fakeFactomd)
		refs       []func(f *fakeFactomd)
		localDown  bool
		refsDown   int
		wantOK     bool
		wantReason string
		wantField  map[string]any
		// auto leaves --max-block-age to follow the block time.
		auto bool
	}{
		{name: "caught up with the references", refs: heightsAt(100, 100), wantOK: true, wantReason: ReasonOK,
			wantField: map[string]any{"localHeight": 100.0, "networkHeight": 100.0, "lag": 0.0, "maxLag": 2.0}},
		{name: "exactly max-lag behind is still ready", local: at(98), refs: heightsAt(100), wantOK: true, wantReason: ReasonOK},
		{name: "lagging more than max-lag", local: at(97), refs: heightsAt(100, 100), wantReason: ReasonLagging,
			wantField: map[string]any{"lag": 3.0}},
		{name: "factomd returns an error object with HTTP 200", local: behave(behaveRPCError), refs: heightsAt(100), wantReason: KindRPCError},
		{name: "factomd answers HTTP 500", local: behave(behaveHTTP500), refs: heightsAt(100), wantReason: KindHTTPError},
		{name: "factomd answers malformed JSON", local: behave(behaveMalformed), refs: heightsAt(100), wantReason: KindMalformed},
		{name: "heights lacks directoryblockheight", local: behave(behaveMissingField), refs: heightsAt(100), wantReason: KindMalformed},
		{name: "current-minute lacks its times", local: behave(behaveMinuteBroken), refs: heightsAt(100), wantReason: KindMalformed},
		{name: "negative height", local: behave(behaveNegative), refs: heightsAt(100), wantReason: KindInvalidHeight},
		{name: "absurd height", local: behave(behaveAbsurd), refs: heightsAt(100), wantReason: KindInvalidHeight},
		{name: "factomd refuses connections", localDown: true, refs: heightsAt(100), wantReason: KindUnreachable},
		{name: "not following minutes", local: func(f *fakeFactomd) { f.notFollow = true }, refs: heightsAt(100), wantReason: ReasonNotFollowingMinutes},
		{name: "current block older than max-block-age", local: func(f *fakeFactomd) { f.blockStart = f.blockStart.Add(-31 * time.Second) },
			refs: heightsAt(100), wantReason: ReasonBlockTooOld},
		// leaderheight is not a network height (no "lagging"), but entries
		// count from it, as the Bedrock proxy's leaderheight ≤ entryheight+1.
		{name: "leaderheight far above is not a network reference", local: func(f *fakeFactomd) { f.leader = 5000 },
			refs: heightsAt(100), wantReason: ReasonEntriesBehind, wantField: map[string]any{"lag": 0.0, "entryLag": 4900.0}},
		{name: "at the tip with entries behind", local: func(f *fakeFactomd) { f.entryBehind = 3 }, refs: heightsAt(100),
			wantReason: ReasonEntriesBehind, wantField: map[string]any{"lag": 0.0, "entryHeight": 97.0, "entryLag": 3.0, "maxEntryLag": 1.0}},
		{name: "entries one block behind the leader height is ready", local: func(f *fakeFactomd) { f.leader = 101 }, refs: heightsAt(100),
			wantOK: true, wantReason: ReasonOK, wantField: map[string]any{"entryLag": 1.0}},
		{name: "not fully booted", local: func(f *fakeFactomd) { f.notBooted = true }, refs: heightsAt(100),
			wantReason: ReasonNotBooted, wantField: map[string]any{"booted": false}},
		{name: "booted", refs: heightsAt(100), wantOK: true, wantReason: ReasonOK, wantField: map[string]any{"booted": true}},
		{name: "a factomd without balance look-ups is not judged on booting", local: func(f *fakeFactomd) { f.noBalances = true },
			refs: heightsAt(100), wantOK: true, wantReason: ReasonOK},
		{name: "a garbled boot answer is malformed", local: func(f *fakeFactomd) { f.garbledBoot = true }, refs: heightsAt(100),
			wantReason: KindMalformed},
		{name: "block age follows a 6 s network's block time", local: func(f *fakeFactomd) {
			f.blockSeconds = 6
			f.blockStart = f.blockStart.Add(-19 * time.Second)
		}, refs: heightsAt(100), auto: true, wantReason: ReasonBlockTooOld, wantField: map[string]any{"maxBlockAgeMs": 18000.0}},
		{name: "block age within three 600 s blocks is fine", local: func(f *fakeFactomd) {
			f.blockStart = f.blockStart.Add(-29 * time.Minute)
		}, refs: heightsAt(100), auto: true, wantOK: true, wantReason: ReasonOK},
		{name: "one reference far above the others does not make it unready", refs: heightsAt(100, 101, 90000),
			wantOK: true, wantReason: ReasonOK, wantField: map[string]any{"networkHeight": 101.0}},
		{name: "one reference far above the only other does not make it unready", refs: heightsAt(100, 90000),
			wantOK: true, wantReason: ReasonOK},
		{name: "a single reference far above a syncing node means lagging", local: at(10), refs: heightsAt(5000), wantReason: ReasonLagging},
		{name: "two references agreeing far above a syncing node mean lagging", local: at(10), refs: heightsAt(5000, 5001), wantReason: ReasonLagging},
		{name: "every reference down falls back to local checks", refsDown: 2, wantOK: true, wantReason: ReasonNoReference,
			wantField: map[string]any{"noReference": true, "referencesAnswering": 0.0}},
		{name: "every reference down and the block too old", refsDown: 2,
			local: func(f *fakeFactomd) { f.blockStart = f.blockStart.Add(-time.Hour) }, wantReason: ReasonBlockTooOld},
		{name: "no references configured", wantOK: true, wantReason: ReasonNoReference},
		{name: "far ahead of a reference at the chain tip", local: at(5000), refs: heightsAt(100), wantReason: ReasonAheadOfNetwork},
		{name: "far ahead of syncing references is fine", local: at(5000),
			refs: []func(f *fakeFactomd){syncing(100), syncing(120)}, wantOK: true, wantReason: ReasonOK},
		// A node that never synced (a follower that could not reach its
		// peer) reports stalldetected: it is not the chain tip, and a
		// caught-up node next to it stays ready.
		{name: "far ahead of a stalled reference is fine", local: at(5000),
			refs: []func(f *fakeFactomd){func(f *fakeFactomd) { f.height, f.stall = 0, true }}, wantOK: true, wantReason: ReasonOK},
		{name: "a reference answering garbage is ignored", refs: []func(f *fakeFactomd){at(100), behave(behaveMalformed)},
			wantOK: true, wantReason: ReasonOK, wantField: map[string]any{"referencesAnswering": 1.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			local := newFake(t, clock, 100)
			if tc.local != nil {
				local.set(tc.local)
			}
			localURL := local.URL()
			if tc.localDown {
				localURL = closedURL(t)
			}
			var refURLs []string
			for _, setup := range tc.refs {
				f := newFake(t, clock, 100)
				f.set(setup)
				refURLs = append(refURLs, f.URL())
			}
			for range tc.refsDown {
				refURLs = append(refURLs, closedURL(t))
			}
			cfg := testConfig(localURL, refURLs...)
			if tc.auto {
				cfg.MaxBlockAge = 0
			}
			h := newHarness(t, clock, cfg, Options{})
			h.poll(t)

			got := h.m.Ready()
			if got.OK != tc.wantOK || got.Reason != tc.wantReason {
				t.Fatalf("Ready() = ok %v reason %q, want ok %v reason %q (fields %v)", got.OK, got.Reason, tc.wantOK, tc.wantReason, got.Fields)
			}
			body := probeBody(t, h.m)
			for k, want := range tc.wantField {
				if body[k] != want {
					t.Errorf("body[%q] = %v, want %v (body %v)", k, body[k], want, body)
				}
			}
			lines := h.logs.events("readiness_changed")
			if len(lines) != 1 || lines[0]["reason"] != tc.wantReason || lines[0]["ready"] != tc.wantOK {
				t.Errorf("readiness_changed lines = %v, want one with reason %q", lines, tc.wantReason)
			}
		})
	}
}

func at(h int64) func(f *fakeFactomd) { return func(f *fakeFactomd) { f.height = h } }

func heightsAt(hs ...int64) []func(f *fakeFactomd) {
	var out []func(f *fakeFactomd)
	for _, h := range hs {
		out = append(out, at(h))
	}
	return out
}

func behave(b string) func(f *fakeFactomd) { return func(f *fakeFactomd) { f.behave = b } }

// syncing is a reference that loads blocks: its current block started
// long ago by its own clock, so it is not at the chain tip.
func syncing(h int64) func(f *fakeFactomd) {
	return func(f *fakeFactomd) { f.height, f.blockStart = h, f.blockStart.Add(-2*time.Hour) }
}

// probeBody is the JSON body /readyz would serve, decoded.
func probeBody(t *testing.T, m *Monitor) map[string]any {
	t.Helper()
	data, err := json.Marshal(m.Status().Ready)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestHungFactomdAnswersFromCacheAndTurnsStale(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 100)
	ref := newFake(t, clock, 100)
	cfg := testConfig(local.URL(), ref.URL())
	// A timeout far beyond the test: the poll below stays in flight until
	// the test cancels it, so every probe answered meanwhile is from cache.
	cfg.PollInterval = time.Hour
	cfg.PollTimeout = 59 * time.Minute
	cfg.StaleAfter = 2 * time.Hour
	cfg.UnresponsiveWindow = 3 * time.Hour
	cfg.StallWindow = 3 * time.Hour
	h := newHarness(t, clock, cfg, Options{})
	h.poll(t)
	if r := h.m.Ready(); !r.OK {
		t.Fatalf("ready before the hang: %+v", r)
	}

	local.set(behave(behaveHang))
	ctx, cancel := context.WithCancel(t.Context())
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		h.m.PollOnce(ctx)
	}()
	<-local.hangStarted // the poll is now stuck inside factomd

	for range 100 {
		if r := h.m.Ready(); !r.OK {
			t.Fatalf("ready while the hang is younger than stale-after: %+v", r)
		}
		_ = h.m.Live()
		_ = h.m.Started()
	}
	clock.Advance(cfg.StaleAfter + time.Millisecond)
	r := h.m.Ready()
	if r.OK || r.Reason != ReasonStale {
		t.Fatalf("Ready() after stale-after = %+v, want stale", r)
	}
	if s := h.m.Started(); s.OK || s.Reason != ReasonStale {
		t.Fatalf("Started() after stale-after = %+v, want stale", s)
	}
	select {
	case <-pollDone:
		t.Fatal("the poll ended before the test released it: probes were not proven to answer during a hang")
	default:
	}
	cancel()
	<-pollDone

	lines := h.logs.events("readiness_changed")
	if len(lines) != 2 || lines[1]["reason"] != ReasonStale || lines[1]["ready"] != false || lines[1]["from"] != ReasonOK {
		t.Fatalf("readiness_changed lines = %v, want ok then stale", lines)
	}
	if lines[1]["localHeight"] != 100.0 || lines[1]["maxLag"] != 2.0 {
		t.Errorf("stale line lacks heights: %v", lines[1])
	}
}

// step is one poll in a liveness scenario.
type step struct {
	advance time.Duration
	local   func(f *fakeFactomd)
	ref     func(f *fakeFactomd)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a port: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestMetrics(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 95)
	ref := newFake(t, clock, 100)
	down := closedURL(t)
	reg := prometheus.NewRegistry()
	m, err := New(testConfig(local.URL(), ref.URL(), down), zerolog.Nop(), reg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	m.PollOnce(t.Context())
	for name, want := range map[string]float64{
		"factom_sidecar_local_height_blocks":   95,
		"factom_sidecar_network_height_blocks": 100,
		"factom_sidecar_lag_blocks":            5,
		"factom_sidecar_ready":                 0,
		"factom_sidecar_live":                  1,
		"factom_sidecar_started":               1,
		"factom_sidecar_references_answering":  1,
	} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() == name {
				found = true
				if got := mf.GetMetric()[0].GetGauge().GetValue(); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		}
		if !found {
			t.Errorf("%s not exported", name)
		}
	}
	if got := testutil.ToFloat64(m.metrics.pollErrors.WithLabelValues("reference", KindUnreachable)); got != 1 {
		t.Errorf("poll_errors_total{reference,unreachable} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.metrics.pollDuration); n != 2 {
		t.Errorf("poll_duration_seconds series = %d, want local and reference", n)
	}
}

func TestRunPollsUntilCancelled(t *testing.T) {
	local := newFake(t, newFakeClock(), 100)
	cfg := testConfig(local.URL())
	cfg.MaxBlockAge = 24 * 365 * time.Hour // the fake's block time is from its own clock
	cfg.PollInterval = 100 * time.Millisecond
	cfg.PollTimeout = 80 * time.Millisecond
	cfg.StaleAfter = time.Minute
	m, err := New(cfg, zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	if err := testenv.Eventually(10*time.Second, 5*time.Millisecond, func() (bool, error) {
		return m.Status().Polls >= 3, nil
	}); err != nil {
		t.Fatalf("polls: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v, want nil on cancel", err)
	}
	if r := m.Ready(); !r.OK || r.Reason != ReasonNoReference {
		t.Fatalf("Ready() = %+v", r)
	}
}
