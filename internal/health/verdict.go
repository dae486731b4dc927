package health

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

// Verdict reasons; stable, operators grep and alert on them. Poll failure
// kinds (rpc_error, malformed, ...) are reasons too.
const (
	ReasonOK                  = "ok"
	ReasonNoReference         = "no_reference"
	ReasonStarting            = "starting"
	ReasonStale               = "stale"
	ReasonLagging             = "lagging"
	ReasonAheadOfNetwork      = "ahead_of_network"
	ReasonNotFollowingMinutes = "not_following_minutes"
	ReasonBlockTooOld         = "block_too_old"
	ReasonEntriesBehind       = "entries_behind"
	ReasonNotBooted           = "not_booted"
	ReasonStalled             = "stalled"
	ReasonUnresponsive        = "unresponsive"
)

type verdicts struct {
	ready, live, started probe.Result
}

// Ready is the cached readiness verdict (no I/O): factomd answers fresh
// data, its height is within --max-lag of the network, it is not absurdly
// ahead of the chain tip, it follows minutes and its block is not too old.
func (m *Monitor) Ready() probe.Result { return m.ready(m.cur.Load(), m.clock()) }

// Live is the cached liveness verdict (no I/O).
func (m *Monitor) Live() probe.Result { return m.live(m.cur.Load(), m.clock()) }

// Started is the cached startup verdict (no I/O): factomd's API has
// answered and still does.
func (m *Monitor) Started() probe.Result { return m.started(m.cur.Load(), m.clock()) }

func (m *Monitor) evaluate(s *state, now time.Time) verdicts {
	return verdicts{ready: m.ready(s, now), live: m.live(s, now), started: m.started(s, now)}
}

// answered reports whether a failure kind means factomd did answer, just
// wrongly: such a poll fails readiness at once, while a missing answer only
// does once the last good one is older than --stale-after.
func answered(kind string) bool {
	switch kind {
	case KindRPCError, KindHTTPError, KindMalformed, KindInvalidHeight:
		return true
	}
	return false
}

func (m *Monitor) fields(s *state, now time.Time) map[string]any {
	f := map[string]any{
		"maxLag":              m.cfg.MaxLag,
		"maxEntryLag":         m.cfg.MaxEntryLag,
		"references":          len(s.refs),
		"referencesAnswering": s.freshRefs,
	}
	if !s.polledAt.IsZero() {
		f["lastPollAgeMs"] = now.Sub(s.polledAt).Milliseconds()
	}
	if !s.lastGoodAt.IsZero() {
		g := s.lastGood
		f["localHeight"] = g.Height
		f["lastSuccessAgeMs"] = now.Sub(s.lastGoodAt).Milliseconds()
		f["blockAgeMs"] = g.BlockAgeMs
		f["minute"] = g.Minute.Minute
		f["stallDetected"] = g.Minute.StallDetected
		f["entryHeight"] = g.EntryHeight
		f["entryLag"] = g.entryLag()
		if g.Booted != nil {
			f["booted"] = *g.Booted
		}
		if s.haveNetwork {
			f["lag"] = s.network - g.Height
		}
	}
	if s.haveNetwork {
		f["networkHeight"] = s.network
	} else {
		f["noReference"] = true
	}
	if !s.local.OK && s.polls > 0 {
		f["lastError"] = s.local.ErrorKind
	}
	return f
}

func result(ok bool, reason string, f map[string]any) probe.Result {
	return probe.Result{OK: ok, Reason: reason, Fields: f}
}

// answeredRecently is what readiness and startup share: factomd has
// answered at least once, and not longer ago than StaleAfter. When it
// has not, the result says why.
func (m *Monitor) answeredRecently(s *state, now time.Time, f map[string]any) (probe.Result, bool) {
	if s.lastGoodAt.IsZero() {
		if s.polls == 0 {
			return result(false, ReasonStarting, f), false
		}
		return result(false, s.local.ErrorKind, f), false
	}
	if now.Sub(s.lastGoodAt) > m.cfg.StaleAfter {
		return result(false, ReasonStale, f), false
	}
	return probe.Result{}, true
}

func (m *Monitor) ready(s *state, now time.Time) probe.Result {
	f := m.fields(s, now)
	if r, ok := m.answeredRecently(s, now, f); !ok {
		return r
	}
	if !s.local.OK && answered(s.local.ErrorKind) {
		return result(false, s.local.ErrorKind, f)
	}
	// A hung factomd leaves the Service after a few polls, not after
	// StaleAfter; one slow answer is not enough.
	if !s.local.OK && s.unanswered >= m.cfg.UnreadyAfterFailedPolls {
		f["failedPolls"] = s.unanswered
		return result(false, s.local.ErrorKind, f)
	}
	g := s.lastGood
	if g.notBooted() {
		return result(false, ReasonNotBooted, f)
	}
	if s.haveNetwork && s.network-g.Height > int64(m.cfg.MaxLag) {
		return result(false, ReasonLagging, f)
	}
	// Only references at the chain tip judge "ahead": syncing peers (after
	// a rolling restart) are legitimately far below a caught-up node.
	if s.haveTip && g.Height > s.tipHeight+int64(m.cfg.OutlierBlocks) {
		f["tipHeight"] = s.tipHeight
		return result(false, ReasonAheadOfNetwork, f)
	}
	// At the tip with entries still downloading, entry and receipt
	// look-ups answer not-found for recent entries.
	if g.entryLag() > int64(m.cfg.MaxEntryLag) {
		return result(false, ReasonEntriesBehind, f)
	}
	if !g.following() {
		return result(false, ReasonNotFollowingMinutes, f)
	}
	if bound := m.cfg.BlockAgeBound(g.Minute.DirectoryBlockInSeconds); time.Duration(g.BlockAgeMs)*time.Millisecond > bound {
		f["maxBlockAgeMs"] = bound.Milliseconds()
		return result(false, ReasonBlockTooOld, f)
	}
	if !s.haveNetwork {
		// Every reference down: judged on local checks alone, and said so.
		return result(true, ReasonNoReference, f)
	}
	return result(true, ReasonOK, f)
}

func (m *Monitor) live(s *state, now time.Time) probe.Result {
	f := m.fields(s, now)
	since := s.lastGoodAt
	if since.IsZero() {
		since = s.startedAt
	}
	if d := now.Sub(since); d >= m.cfg.UnresponsiveWindow {
		f["unresponsiveMs"] = d.Milliseconds()
		return result(false, ReasonUnresponsive, f)
	}
	if s.lastGoodAt.IsZero() {
		return result(true, ReasonStarting, f)
	}
	stuck := now.Sub(s.localAdvancedAt)
	f["heightUnchangedMs"] = stuck.Milliseconds()
	if stuck < m.cfg.StallWindow {
		return result(true, ReasonOK, f)
	}
	// A halted network (references frozen too) restarts nobody: the
	// height only counts as stuck if the network moved on recently.
	networkMoving := s.haveNetwork && now.Sub(s.networkAdvancedAt) < m.cfg.StallWindow
	networkHalted := s.haveNetwork && !networkMoving
	if networkMoving && s.network-s.lastGood.Height > int64(m.cfg.MaxLag) {
		f["stallCause"] = "behind_network"
		return result(false, ReasonStalled, f)
	}
	if !s.stallSince.IsZero() && now.Sub(s.stallSince) >= m.cfg.StallWindow && !networkHalted {
		f["stallCause"] = "stalldetected"
		return result(false, ReasonStalled, f)
	}
	return result(true, ReasonOK, f)
}

func (m *Monitor) started(s *state, now time.Time) probe.Result {
	f := m.fields(s, now)
	if r, ok := m.answeredRecently(s, now, f); !ok {
		return r
	}
	return result(true, ReasonOK, f)
}

// logChanges writes one line per verdict that changed (OK or reason), not
// one per poll.
func (m *Monitor) logChanges(s *state, v verdicts) {
	prev := m.last
	m.last = &v
	changed := func(old *probe.Result, cur probe.Result) bool {
		return old == nil || old.OK != cur.OK || old.Reason != cur.Reason
	}
	var pr, pl, ps *probe.Result
	if prev != nil {
		pr, pl, ps = &prev.ready, &prev.live, &prev.started
	}
	if changed(pr, v.ready) {
		m.line(s, v.ready, pr, logging.EventReadinessChanged, "ready", "factomd readiness changed")
	}
	if changed(pl, v.live) {
		m.line(s, v.live, pl, logging.EventLivenessChanged, "live", "factomd liveness changed")
	}
	if changed(ps, v.started) {
		switch {
		case v.started.OK && (ps == nil || !ps.OK):
			m.line(s, v.started, ps, logging.EventStartupComplete, "started", "factomd API answers")
		case ps != nil:
			m.line(s, v.started, ps, logging.EventStartupChanged, "started", "factomd startup verdict changed")
		}
	}
}

func (m *Monitor) line(s *state, cur probe.Result, prev *probe.Result, event, key, msg string) {
	level := zerolog.InfoLevel
	if !cur.OK {
		level = zerolog.WarnLevel
	}
	e := m.log.WithLevel(level).Str("event", event).Bool(key, cur.OK).Str("reason", cur.Reason)
	if prev != nil {
		e = e.Str("from", prev.Reason)
	}
	if !s.lastGoodAt.IsZero() {
		e = e.Int64("localHeight", s.lastGood.Height).Int64("entryLag", s.lastGood.entryLag())
	}
	if s.haveNetwork {
		e = e.Int64("networkHeight", s.network)
		if !s.lastGoodAt.IsZero() {
			e = e.Int64("lag", s.network-s.lastGood.Height)
		}
	}
	e = e.Int("maxLag", m.cfg.MaxLag).Int("referencesAnswering", s.freshRefs)
	if !s.local.OK && s.polls > 0 {
		e = e.Str("lastError", s.local.Error)
	}
	e.Msg(msg)
}
