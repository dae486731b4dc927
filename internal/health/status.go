package health

import (
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

// Status is the full state served on /status.
type Status struct {
	Ready   map[string]any `json:"ready"`
	Live    map[string]any `json:"live"`
	Started map[string]any `json:"started"`

	FactomdURL string            `json:"factomdUrl"`
	Local      *NodeObservation  `json:"local,omitempty"`
	LastGood   *NodeObservation  `json:"lastGood,omitempty"`
	References []NodeObservation `json:"references"`
	PeerError  string            `json:"peerError,omitempty"`

	NetworkHeight     *int64  `json:"networkHeight"`
	NetworkHeightRule string  `json:"networkHeightRule"`
	DroppedOutliers   []int64 `json:"droppedOutliers,omitempty"`
	TipHeight         *int64  `json:"tipHeight,omitempty"`

	Polls              uint64 `json:"polls"`
	LastPollAgeMs      *int64 `json:"lastPollAgeMs"`
	LastSuccessAgeMs   *int64 `json:"lastSuccessAgeMs"`
	HeightUnchangedMs  int64  `json:"heightUnchangedMs"`
	NetworkUnchangedMs int64  `json:"networkUnchangedMs"`
	StallDetectedForMs *int64 `json:"stallDetectedForMs,omitempty"`
	// EntryLag is the last good poll's leaderheight − entryheight.
	EntryLag *int64 `json:"entryLag"`
	// FailedPolls counts consecutive local polls without an answer.
	FailedPolls int            `json:"failedPolls"`
	Settings    StatusSettings `json:"settings"`
}

// StatusSettings echoes the thresholds the verdicts use.
type StatusSettings struct {
	MaxLag               int   `json:"maxLag"`
	MaxEntryLag          int   `json:"maxEntryLag"`
	UnreadyAfterFailed   int   `json:"unreadyAfterFailedPolls"`
	OutlierBlocks        int   `json:"outlierBlocks"`
	PollIntervalMs       int64 `json:"pollIntervalMs"`
	PollTimeoutMs        int64 `json:"pollTimeoutMs"`
	StaleAfterMs         int64 `json:"staleAfterMs"`
	StallWindowMs        int64 `json:"stallWindowMs"`
	UnresponsiveWindowMs int64 `json:"unresponsiveWindowMs"`
	// MaxBlockAgeMs is the bound in force: the flag, or BlockAgeBlocks of
	// the block time factomd reports (MaxBlockAgeAuto).
	MaxBlockAgeMs   int64    `json:"maxBlockAgeMs"`
	MaxBlockAgeAuto bool     `json:"maxBlockAgeAuto"`
	ReferenceURLs   []string `json:"referenceUrls"`
	PeerService     string   `json:"peerService,omitempty"`
}

// Status returns the full state from the cache (no I/O).
func (m *Monitor) Status() Status {
	s := m.cur.Load()
	now := m.clock()
	v := m.evaluate(s, now)
	body := func(key string, r probe.Result) map[string]any {
		b, _ := probe.Evaluate(key, probe.Named{Name: key, Check: func() probe.Result { return r }})
		return b
	}
	st := Status{
		Ready: body("ready", v.ready), Live: body("live", v.live), Started: body("started", v.started),
		FactomdURL: m.localURL, References: append([]NodeObservation{}, s.refs...), PeerError: s.peerError,
		NetworkHeightRule: NetworkHeightRule, DroppedOutliers: s.dropped, Polls: s.polls,
		HeightUnchangedMs:  now.Sub(s.localAdvancedAt).Milliseconds(),
		NetworkUnchangedMs: now.Sub(s.networkAdvancedAt).Milliseconds(),
		FailedPolls:        s.unanswered,
		Settings: StatusSettings{
			MaxLag: m.cfg.MaxLag, MaxEntryLag: m.cfg.MaxEntryLag, UnreadyAfterFailed: m.cfg.UnreadyAfterFailedPolls,
			OutlierBlocks: m.cfg.OutlierBlocks, MaxBlockAgeAuto: m.cfg.MaxBlockAge == 0,
			PollIntervalMs: m.cfg.PollInterval.Milliseconds(), PollTimeoutMs: m.cfg.PollTimeout.Milliseconds(),
			StaleAfterMs: m.cfg.StaleAfter.Milliseconds(), StallWindowMs: m.cfg.StallWindow.Milliseconds(),
			UnresponsiveWindowMs: m.cfg.UnresponsiveWindow.Milliseconds(), MaxBlockAgeMs: m.cfg.BlockAgeBound(s.lastGood.Minute.DirectoryBlockInSeconds).Milliseconds(),
			ReferenceURLs: append([]string{}, m.static...), PeerService: m.cfg.PeerService,
		},
	}
	if s.polls > 0 {
		local := s.local
		st.Local = &local
		age := now.Sub(s.polledAt).Milliseconds()
		st.LastPollAgeMs = &age
	}
	if !s.lastGoodAt.IsZero() {
		good := s.lastGood
		st.LastGood = &good
		age := now.Sub(s.lastGoodAt).Milliseconds()
		st.LastSuccessAgeMs = &age
		lag := good.entryLag()
		st.EntryLag = &lag
	}
	if s.haveNetwork {
		h := s.network
		st.NetworkHeight = &h
	}
	if s.haveTip {
		h := s.tipHeight
		st.TipHeight = &h
	}
	if !s.stallSince.IsZero() {
		d := now.Sub(s.stallSince).Milliseconds()
		st.StallDetectedForMs = &d
	}
	return st
}
