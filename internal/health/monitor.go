package health

import (
	"context"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// Clock returns the current time; tests inject a fake one.
type Clock func() time.Time

// Resolver looks up the peer service's addresses; tests inject a fake one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// reference is what is remembered about one reference between polls.
type reference struct {
	latest     NodeObservation
	lastGood   NodeObservation
	lastGoodAt time.Time
}

// state is everything the verdicts are computed from. A published state is
// never modified, so probes read it without locks.
type state struct {
	startedAt  time.Time
	polledAt   time.Time
	polls      uint64
	local      NodeObservation // latest poll, maybe failed
	lastGood   NodeObservation // latest successful poll
	lastGoodAt time.Time
	refs       []NodeObservation // latest poll of each reference, sorted by URL
	peerError  string
	// unanswered counts consecutive local polls without an answer
	// (timeout, refused): a hung factomd is not ready before StaleAfter.
	unanswered int

	// Network view from references whose last good answer is fresh.
	network      int64
	haveNetwork  bool
	dropped      []int64
	tipHeight    int64 // highest fresh reference that is itself at the chain tip
	haveTip      bool
	freshRefs    int
	networkPeak  int64
	haveNetPeak  bool
	localChanged bool

	localAdvancedAt   time.Time // last time the local height changed
	networkAdvancedAt time.Time // last time the network height reached a new high
	stallSince        time.Time // start of the current run of stalldetected=true
}

// Options are optional collaborators of a Monitor.
type Options struct {
	// Resolver for --peer-service (default net.DefaultResolver).
	Resolver Resolver
	// Transport for every JSON-RPC client (default: a fresh transport each).
	Transport http.RoundTripper
	// MetricPrefix replaces "factom_sidecar_" in every metric name.
	MetricPrefix string
	// User and Password are the local factomd's RPC credentials; they are
	// not sent to the references, which are other operators' nodes.
	User, Password string
}

// Monitor polls factomd and its references and keeps cached verdicts.
type Monitor struct {
	cfg      Config
	log      zerolog.Logger
	clock    Clock
	resolver Resolver
	opts     Options
	localURL string
	local    *jsonrpc.Client
	static   []string
	metrics  *metrics

	pollMu sync.Mutex // one poll at a time; guards the fields below
	peers  []string   // peer API URLs from the last lookup
	refs   map[string]*reference
	conns  map[string]*jsonrpc.Client
	last   *verdicts

	cur atomic.Pointer[state]
}

// New builds a Monitor. reg may be nil (metrics are then not registered)
// and clock may be nil (time.Now).
func New(cfg Config, log zerolog.Logger, reg prometheus.Registerer, clock Clock) (*Monitor, error) {
	return NewWithOptions(cfg, log, reg, clock, Options{})
}

// NewWithOptions is New with collaborators replaced.
func NewWithOptions(cfg Config, log zerolog.Logger, reg prometheus.Registerer, clock Clock, opts Options) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.MetricPrefix == "" {
		opts.MetricPrefix = metricPrefix
	}
	met, err := newMetrics(reg, opts.MetricPrefix)
	if err != nil {
		return nil, err
	}
	localURL, err := APIURL(cfg.FactomdURL)
	if err != nil {
		return nil, err
	}
	m := &Monitor{
		cfg: cfg, log: log, clock: clock, resolver: opts.Resolver, opts: opts, metrics: met,
		localURL: localURL, refs: map[string]*reference{}, conns: map[string]*jsonrpc.Client{},
	}
	m.local = jsonrpc.New(localURL, jsonrpc.Options{Timeout: cfg.PollTimeout, Transport: opts.Transport, User: opts.User, Password: opts.Password})
	seen := map[string]bool{}
	for _, raw := range cfg.ReferenceURLs {
		u, err := APIURL(raw)
		if err != nil {
			return nil, err
		}
		if !seen[u] {
			seen[u] = true
			m.static = append(m.static, u)
		}
	}
	now := clock()
	m.cur.Store(&state{startedAt: now, localAdvancedAt: now, networkAdvancedAt: now})
	return m, nil
}

func (m *Monitor) client(url string) *jsonrpc.Client {
	return jsonrpc.New(url, jsonrpc.Options{Timeout: m.cfg.PollTimeout, Transport: m.opts.Transport})
}

// Run polls every poll interval until ctx is done.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.PollInterval)
	defer t.Stop()
	for {
		m.PollOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce polls the local factomd and every reference in parallel, each
// call bounded by the poll timeout, then publishes the new state and logs
// verdicts that changed. The peer service is resolved alongside; the
// peers it returns are polled from the next poll on, so a slow DNS answer
// cannot stretch a poll beyond the poll timeout.
func (m *Monitor) PollOnce(ctx context.Context) {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()

	targets := m.referenceURLs()
	var wg sync.WaitGroup
	var local NodeObservation
	refs := make([]NodeObservation, len(targets))
	wg.Add(1)
	go func() {
		defer wg.Done()
		local = m.pollNode(ctx, m.local, "local", true)
	}()
	for i, u := range targets {
		c := m.conns[u]
		if c == nil {
			c = m.client(u)
			m.conns[u] = c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i] = m.pollNode(ctx, c, "reference", false)
		}()
	}
	var peers []string
	var peerErr error
	if m.cfg.PeerService != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peers, peerErr = m.lookupPeers(ctx)
		}()
	}
	wg.Wait()

	if m.cfg.PeerService != "" {
		if peerErr != nil {
			m.metrics.pollErrors.WithLabelValues("peer_service", KindDNS).Inc()
			m.log.Debug().Str("event", logging.EventPeerLookupFailed).Str("peerService", m.cfg.PeerService).Err(peerErr).Msg("peer service lookup failed")
		} else {
			m.peers = peers
		}
	}
	now := m.clock()
	next := m.advance(m.cur.Load(), local, targets, refs, now)
	if peerErr != nil {
		next.peerError = peerErr.Error()
	}
	m.cur.Store(next)
	v := m.evaluate(next, now)
	m.metrics.update(next, v)
	m.logChanges(next, v)
}

// advance folds one poll into the previous state and returns the new one.
func (m *Monitor) advance(prev *state, local NodeObservation, urls []string, refs []NodeObservation, now time.Time) *state {
	next := *prev
	next.polls++
	next.polledAt = now
	next.local = local
	next.peerError = ""
	next.localChanged = false
	switch {
	case local.OK || answered(local.ErrorKind):
		next.unanswered = 0
	default:
		next.unanswered++
	}
	if local.OK {
		if prev.lastGoodAt.IsZero() || local.Height != prev.lastGood.Height {
			next.localAdvancedAt = now
			next.localChanged = true
		}
		next.lastGood = local
		next.lastGoodAt = now
		switch {
		case !local.Minute.StallDetected:
			next.stallSince = time.Time{}
		case prev.stallSince.IsZero():
			next.stallSince = now
		}
	}

	for i, u := range urls {
		r := m.refs[u]
		if r == nil {
			r = &reference{}
			m.refs[u] = r
		}
		r.latest = refs[i]
		if refs[i].OK {
			r.lastGood = refs[i]
			r.lastGoodAt = now
		}
	}
	next.refs = next.refs[:0:0]
	var heights []int64
	next.haveTip, next.tipHeight = false, 0
	for _, u := range urls {
		r := m.refs[u]
		next.refs = append(next.refs, r.latest)
		// A reference that failed a poll still counts for a while: one
		// blip must not flip a lagging node to "no reference, ready".
		if r.lastGoodAt.IsZero() || now.Sub(r.lastGoodAt) > m.cfg.StaleAfter {
			continue
		}
		g := r.lastGood
		heights = append(heights, g.Height)
		// At the tip: following minutes, a fresh block, and not reporting
		// a stall (a node cut off from its peers reports one).
		atTip := g.following() && !g.Minute.StallDetected && time.Duration(g.BlockAgeMs)*time.Millisecond <= m.cfg.BlockAgeBound(g.Minute.DirectoryBlockInSeconds)
		if atTip && (!next.haveTip || g.Height > next.tipHeight) {
			next.haveTip, next.tipHeight = true, g.Height
		}
	}
	sort.Slice(next.refs, func(i, j int) bool { return next.refs[i].URL < next.refs[j].URL })
	next.freshRefs = len(heights)
	haveLocal := !next.lastGoodAt.IsZero()
	next.network, next.dropped, next.haveNetwork = networkHeight(heights, next.lastGood.Height, haveLocal, int64(m.cfg.OutlierBlocks))
	if next.haveNetwork && (!prev.haveNetPeak || next.network > prev.networkPeak) {
		next.networkPeak, next.haveNetPeak = next.network, true
		next.networkAdvancedAt = now
	}
	return &next
}
