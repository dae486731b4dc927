package health

import (
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// What one poll of a factomd observes, and how the references to compare
// it with are found.

// NodeObservation is one poll of one factomd.
type NodeObservation struct {
	URL       string `json:"url"`
	OK        bool   `json:"ok"`
	ErrorKind string `json:"errorKind,omitempty"`
	Error     string `json:"error,omitempty"`
	// Height is directoryblockheight, the node's saved height.
	Height       int64         `json:"height"`
	LeaderHeight int64         `json:"leaderHeight"`
	EntryHeight  int64         `json:"entryHeight"`
	Minute       CurrentMinute `json:"currentMinute"`
	// Booted is false while factomd says "Not fully booted"; nil when not
	// asked (references) or when factomd has no balance look-up.
	Booted *bool `json:"booted,omitempty"`
	// BlockAgeMs is how long ago the current block started, by factomd's own clock.
	BlockAgeMs int64   `json:"blockAgeMs"`
	PollMs     float64 `json:"pollMs"`
}

// following reports whether the node follows minutes at all.
func (o NodeObservation) following() bool { return o.Minute.CurrentMinuteStartTime != 0 }

// entryLag is how many directory blocks' entries the node still lacks,
// counted from the block it works on (leaderheight), as the Bedrock factomd
// proxy's check leaderheight ≤ entryheight + 1 counts it.
func (o NodeObservation) entryLag() int64 {
	return max(o.LeaderHeight, o.Height) - o.EntryHeight
}

// notBooted reports whether factomd said "Not fully booted".
func (o NodeObservation) notBooted() bool { return o.Booted != nil && !*o.Booted }

// referenceURLs is the static references plus the peers, without
// duplicates; clients and memory of references that went away are dropped.
func (m *Monitor) referenceURLs() []string {
	urls := append([]string(nil), m.static...)
	seen := map[string]bool{}
	for _, u := range urls {
		seen[u] = true
	}
	for _, u := range m.peers {
		if !seen[u] {
			seen[u] = true
			urls = append(urls, u)
		}
	}
	for u := range m.conns {
		if !seen[u] {
			delete(m.conns, u)
			delete(m.refs, u)
		}
	}
	return urls
}

func (m *Monitor) lookupPeers(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.PollTimeout)
	defer cancel()
	addrs, err := m.resolver.LookupHost(ctx, m.cfg.PeerService)
	if err != nil {
		return nil, err
	}
	self := net.ParseIP(m.cfg.PodIP)
	port := strconv.Itoa(m.cfg.PeerPort)
	var urls []string
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || (self != nil && ip.Equal(self)) {
			continue
		}
		urls = append(urls, "http://"+net.JoinHostPort(ip.String(), port)+"/v2")
	}
	sort.Strings(urls)
	return urls, nil
}

// pollNode calls heights and current-minute (and on the local node the boot
// check) in parallel, so one poll of a node takes at most one poll timeout.
func (m *Monitor) pollNode(ctx context.Context, c *jsonrpc.Client, target string, local bool) NodeObservation {
	start := time.Now()
	obs := NodeObservation{URL: c.URL()}
	var h Heights
	var cm CurrentMinute
	var booted *bool
	var hErr, cmErr, bootErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		raw, err := c.CallRaw(ctx, "current-minute", nil)
		if err == nil {
			cm, err = DecodeCurrentMinute(raw)
		}
		cmErr = err
	})
	if local {
		wg.Go(func() { booted, bootErr = m.bootCheck(ctx, c) })
	}
	raw, err := c.CallRaw(ctx, "heights", nil)
	if err == nil {
		h, err = DecodeHeights(raw)
	}
	hErr = err
	wg.Wait()
	elapsed := time.Since(start)
	obs.PollMs = float64(elapsed.Microseconds()) / 1000
	m.metrics.pollDuration.WithLabelValues(target).Observe(elapsed.Seconds())
	if err := errors.Join(hErr, cmErr, bootErr); err != nil {
		// The heights failure is reported first: it is the one that says
		// whether the node's height can be trusted.
		first := hErr
		for _, e := range []error{cmErr, bootErr} {
			if first == nil {
				first = e
			}
		}
		obs.ErrorKind = classify(first)
		obs.Error = err.Error()
		m.metrics.pollErrors.WithLabelValues(target, obs.ErrorKind).Inc()
		m.log.Debug().Str("event", logging.EventPollFailed).Str("target", target).Str("url", obs.URL).Str("kind", obs.ErrorKind).Err(err).Msg("factomd poll failed")
		return obs
	}
	obs.OK = true
	obs.Height = h.DirectoryBlockHeight
	obs.LeaderHeight = h.LeaderHeight
	obs.EntryHeight = h.EntryHeight
	obs.Minute = cm
	obs.Booted = booted
	if cm.CurrentBlockStartTime != 0 && cm.CurrentTime > cm.CurrentBlockStartTime {
		obs.BlockAgeMs = (cm.CurrentTime - cm.CurrentBlockStartTime) / int64(time.Millisecond)
	}
	return obs
}
