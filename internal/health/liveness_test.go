package health

import (
	"strings"
	"testing"
	"time"
)

func TestLiveness(t *testing.T) {
	every := func(n int, d time.Duration, local func(i int) func(*fakeFactomd), ref func(i int) func(*fakeFactomd)) []step {
		var out []step
		for i := 1; i <= n; i++ {
			s := step{advance: d}
			if local != nil {
				s.local = local(i)
			}
			if ref != nil {
				s.ref = ref(i)
			}
			out = append(out, s)
		}
		return out
	}
	height := func(base int64) func(i int) func(*fakeFactomd) {
		return func(i int) func(*fakeFactomd) {
			return func(f *fakeFactomd) { f.height, f.blockStart = base+int64(i), f.clock.Now() }
		}
	}
	tests := []struct {
		name       string
		localStart int64
		refStart   int64
		steps      []step
		wantOK     bool
		wantReason string
	}{
		{name: "caught up and following", localStart: 100, refStart: 100,
			steps: every(20, 10*time.Second, height(100), height(100)), wantOK: true, wantReason: ReasonOK},
		{name: "behind and not advancing while the network moves", localStart: 50, refStart: 100,
			steps: every(7, 10*time.Second, nil, height(100)), wantReason: ReasonStalled},
		{name: "behind and not advancing, shorter than the stall window", localStart: 50, refStart: 100,
			steps: every(5, 10*time.Second, nil, height(100)), wantOK: true, wantReason: ReasonOK},
		{name: "syncing and advancing is alive", localStart: 10, refStart: 1000,
			steps: every(30, 10*time.Second, height(10), height(1000)), wantOK: true, wantReason: ReasonOK},
		{name: "references frozen too: a halted network restarts nobody", localStart: 95, refStart: 100,
			steps: every(30, 10*time.Second, nil, nil), wantOK: true, wantReason: ReasonOK},
		{name: "stalldetected for the stall window", localStart: 100, refStart: 100,
			steps:      every(7, 10*time.Second, func(int) func(*fakeFactomd) { return func(f *fakeFactomd) { f.stall = true } }, height(100)),
			wantReason: ReasonStalled},
		{name: "stalldetected while the height advances is alive", localStart: 100, refStart: 100,
			steps: every(10, 10*time.Second, func(i int) func(*fakeFactomd) {
				return func(f *fakeFactomd) { f.stall, f.height = true, 100+int64(i) }
			}, height(100)), wantOK: true, wantReason: ReasonOK},
		{name: "stalldetected on a halted network is alive", localStart: 100, refStart: 100,
			steps:  every(20, 10*time.Second, func(int) func(*fakeFactomd) { return func(f *fakeFactomd) { f.stall = true } }, nil),
			wantOK: true, wantReason: ReasonOK},
		{name: "unresponsive past the window", localStart: 100, refStart: 100,
			steps: append([]step{{local: behave(behaveDrop)}}, every(4, 10*time.Second, nil, height(100))...), wantReason: ReasonUnresponsive},
		{name: "answering only error objects past the window", localStart: 100, refStart: 100,
			steps: append([]step{{local: behave(behaveRPCError)}}, every(4, 10*time.Second, nil, height(100))...), wantReason: ReasonUnresponsive},
		{name: "unresponsive shorter than the window", localStart: 100, refStart: 100,
			steps: append([]step{{local: behave(behaveDrop)}}, every(2, 10*time.Second, nil, height(100))...), wantOK: true, wantReason: ReasonOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			local := newFake(t, clock, tc.localStart)
			ref := newFake(t, clock, tc.refStart)
			cfg := testConfig(local.URL(), ref.URL())
			cfg.PollTimeout = 900 * time.Millisecond
			// Block age and staleness are readiness matters; keep them out of the way.
			cfg.MaxBlockAge = 24 * time.Hour
			h := newHarness(t, clock, cfg, Options{})
			h.poll(t)
			if l := h.m.Live(); !l.OK {
				t.Fatalf("not live after the first poll: %+v", l)
			}
			for _, s := range tc.steps {
				clock.Advance(s.advance)
				if s.local != nil {
					local.set(s.local)
				}
				if s.ref != nil {
					ref.set(s.ref)
				}
				h.poll(t)
			}
			got := h.m.Live()
			if got.OK != tc.wantOK || got.Reason != tc.wantReason {
				t.Fatalf("Live() = ok %v reason %q, want ok %v reason %q (fields %v)", got.OK, got.Reason, tc.wantOK, tc.wantReason, got.Fields)
			}
			if !tc.wantOK {
				lines := h.logs.events("liveness_changed")
				last := lines[len(lines)-1]
				if last["live"] != false || last["reason"] != tc.wantReason {
					t.Fatalf("last liveness_changed line = %v", last)
				}
			}
		})
	}
}

func TestLogsOnlyVerdictChanges(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 100)
	ref := newFake(t, clock, 100)
	h := newHarness(t, clock, testConfig(local.URL(), ref.URL()), Options{})
	for range 10 {
		clock.Advance(time.Second)
		h.poll(t)
	}
	ref.setHeight(110)
	for range 10 {
		clock.Advance(time.Second)
		h.poll(t)
	}
	ready := h.logs.events("readiness_changed")
	if len(ready) != 2 || ready[0]["reason"] != ReasonOK || ready[1]["reason"] != ReasonLagging {
		t.Fatalf("readiness_changed lines = %v, want ok then lagging", ready)
	}
	if ready[1]["lag"] != 10.0 || ready[1]["level"] != "warn" {
		t.Errorf("lagging line = %v, want lag 10 at warn level", ready[1])
	}
	if got := h.logs.events("liveness_changed"); len(got) != 1 {
		t.Errorf("liveness_changed lines = %v, want one", got)
	}
	if got := h.logs.events("startup_complete"); len(got) != 1 {
		t.Errorf("startup_complete lines = %v, want one", got)
	}
	if n := strings.Count(h.logs.String(), "\n"); n != 4 {
		t.Errorf("%d log lines over 20 polls, want 4:\n%s", n, h.logs.String())
	}
}

func TestStartup(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 3)
	local.set(behave(behaveHang))
	cfg := testConfig(local.URL())
	cfg.PollTimeout = 300 * time.Millisecond
	h := newHarness(t, clock, cfg, Options{})
	if s := h.m.Started(); s.OK || s.Reason != ReasonStarting {
		t.Fatalf("Started() before any poll = %+v", s)
	}
	h.poll(t)
	if s := h.m.Started(); s.OK || s.Reason != KindTimeout {
		t.Fatalf("Started() while factomd hangs = %+v, want timeout", s)
	}
	// Loading a database takes long: liveness stays quiet until the
	// unresponsive window, which the startupProbe's budget should exceed.
	if l := h.m.Live(); !l.OK || l.Reason != ReasonStarting {
		t.Fatalf("Live() while starting = %+v", l)
	}
	local.set(behave(behaveNormal))
	clock.Advance(time.Second)
	h.poll(t)
	if s := h.m.Started(); !s.OK {
		t.Fatalf("Started() once factomd answers = %+v", s)
	}
	if got := h.logs.events("startup_complete"); len(got) != 1 {
		t.Fatalf("startup_complete lines = %v", got)
	}
}
