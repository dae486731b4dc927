package health

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// The readiness checks added for audit-log writers: entry sync, booting,
// a hung factomd leaving the Service quickly.

func TestEntriesBehindAtTheTipTurnReadyOnceCaughtUp(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 100)
	ref := newFake(t, clock, 100)
	// A restored node: at the directory-block tip, entries 40 blocks behind.
	local.set(func(f *fakeFactomd) { f.entryBehind = 40 })
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	m, err := New(testConfig(local.URL(), ref.URL()), zerolog.New(logs), reg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	m.PollOnce(t.Context())
	r := m.Ready()
	if r.OK || r.Reason != ReasonEntriesBehind || r.Fields["lag"] != int64(0) || r.Fields["entryLag"] != int64(40) {
		t.Fatalf("Ready() at the tip with entries 40 behind = %+v, want entries_behind with lag 0, entryLag 40", r)
	}
	if got := testutil.ToFloat64(m.metrics.entryLag); got != 40 {
		t.Errorf("entry_lag_blocks = %v, want 40", got)
	}
	if st := m.Status(); st.EntryLag == nil || *st.EntryLag != 40 || st.LastGood.EntryHeight != 60 {
		t.Errorf("status entryLag %v, lastGood %+v", st.EntryLag, st.LastGood)
	}

	// Entries download block by block; ready once within --max-entry-lag.
	for behind := int64(30); behind >= 0; behind -= 10 {
		local.set(func(f *fakeFactomd) { f.entryBehind = behind })
		clock.Advance(time.Second)
		m.PollOnce(t.Context())
		r := m.Ready()
		if want := behind <= 1; r.OK != want {
			t.Fatalf("entries %d behind: ready %v (%+v), want %v", behind, r.OK, r, want)
		}
	}
	if r := m.Ready(); r.Reason != ReasonOK {
		t.Fatalf("caught up: %+v", r)
	}
	if got := testutil.ToFloat64(m.metrics.entryHeight); got != 100 {
		t.Errorf("entry_height_blocks = %v, want 100", got)
	}
	lines := logs.events("readiness_changed")
	if len(lines) != 2 || lines[0]["reason"] != ReasonEntriesBehind || lines[1]["reason"] != ReasonOK || lines[1]["from"] != ReasonEntriesBehind {
		t.Fatalf("readiness_changed lines = %v, want entries_behind then ok", lines)
	}
}

func TestNotBootedTurnsReadyOnceBooted(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 100)
	local.set(func(f *fakeFactomd) { f.notBooted = true })
	h := newHarness(t, clock, testConfig(local.URL(), newFake(t, clock, 100).URL()), Options{})
	h.poll(t)
	if r := h.m.Ready(); r.OK || r.Reason != ReasonNotBooted {
		t.Fatalf("Ready() = %+v, want not_booted", r)
	}
	if l, s := h.m.Live(), h.m.Started(); !l.OK || !s.OK {
		t.Fatalf("booting is neither dead nor unstarted: live %+v started %+v", l, s)
	}
	local.set(func(f *fakeFactomd) { f.notBooted = false })
	clock.Advance(time.Second)
	h.poll(t)
	if r := h.m.Ready(); !r.OK {
		t.Fatalf("Ready() once booted = %+v", r)
	}
}

// withReference is a harness over a local fake and one reference, both
// at height 100, with polls that time out after pollTimeout.
func withReference(t *testing.T, pollTimeout time.Duration) (*harness, *fakeFactomd, *fakeFactomd, Config) {
	clock := newFakeClock()
	local := newFake(t, clock, 100)
	ref := newFake(t, clock, 100)
	cfg := testConfig(local.URL(), ref.URL())
	cfg.PollTimeout = pollTimeout
	return newHarness(t, clock, cfg, Options{}), local, ref, cfg
}

func TestHungFactomdTurnsUnreadyAfterFailedPolls(t *testing.T) {
	h, local, ref, cfg := withReference(t, 300*time.Millisecond)
	clock := h.clock
	h.poll(t)

	local.set(behave(behaveHang))
	clock.Advance(time.Second)
	h.poll(t)
	if r := h.m.Ready(); !r.OK {
		t.Fatalf("one timed-out poll made it not ready: %+v", r)
	}
	clock.Advance(time.Second)
	h.poll(t)
	r := h.m.Ready()
	if r.OK || r.Reason != KindTimeout || r.Fields["failedPolls"] != 2 {
		t.Fatalf("Ready() after two timed-out polls = %+v, want timeout with failedPolls 2", r)
	}
	if st := h.m.Status(); st.FailedPolls != 2 {
		t.Errorf("status failedPolls = %d, want 2", st.FailedPolls)
	}
	for range 4 {
		clock.Advance(time.Second)
		h.poll(t)
	}
	r = h.m.Ready()
	if r.OK || r.Reason != ReasonStale || r.Fields["lastError"] != KindTimeout {
		t.Fatalf("Ready() 6s after the last answer = %+v, want stale with lastError timeout", r)
	}
	if l := h.m.Live(); !l.OK {
		t.Fatalf("live within the unresponsive window: %+v", l)
	}
	clock.Advance(cfg.UnresponsiveWindow)
	h.poll(t)
	if l := h.m.Live(); l.OK || l.Reason != ReasonUnresponsive {
		t.Fatalf("Live() past the unresponsive window = %+v, want unresponsive", l)
	}
	if got := h.logs.events("liveness_changed"); len(got) != 2 || got[1]["reason"] != ReasonUnresponsive {
		t.Fatalf("liveness_changed lines = %v", got)
	}

	local.set(behave(behaveNormal))
	local.setHeight(101)
	ref.setHeight(101)
	clock.Advance(time.Second)
	h.poll(t)
	if r, l := h.m.Ready(), h.m.Live(); !r.OK || !l.OK {
		t.Fatalf("after factomd answers again: ready %+v live %+v", r, l)
	}
	lines := h.logs.events("readiness_changed")
	var reasons []any
	for _, l := range lines {
		reasons = append(reasons, l["reason"])
	}
	if len(reasons) != 4 || reasons[1] != KindTimeout || reasons[2] != ReasonStale || reasons[3] != ReasonOK {
		t.Errorf("readiness reasons = %v, want ok, timeout, stale, ok", reasons)
	}
}

func TestOneSlowAnswerDoesNotFlipReadiness(t *testing.T) {
	h, local, _, _ := withReference(t, 200*time.Millisecond)
	clock := h.clock
	for i := range 6 {
		if i%2 == 1 {
			local.set(behave(behaveHang))
		} else {
			local.set(behave(behaveNormal))
		}
		clock.Advance(time.Second)
		h.poll(t)
		if r := h.m.Ready(); !r.OK {
			t.Fatalf("poll %d: a lone timed-out poll between good ones made it not ready: %+v", i, r)
		}
	}
	if lines := h.logs.events("readiness_changed"); len(lines) != 1 {
		t.Fatalf("readiness_changed lines = %v, want only the first", lines)
	}
}
