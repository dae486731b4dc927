package health

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metricPrefix names the metrics of a factomd-mode sidecar. walletd mode
// watches the factomd its walletd uses under another prefix (Options), so
// a query on factom_sidecar_ready means one thing: this factomd node.
const metricPrefix = "factom_sidecar_"

type metrics struct {
	localHeight, networkHeight, lag *prometheus.GaugeVec
	entryHeight, entryLag           *prometheus.GaugeVec
	ready, live, started            prometheus.Gauge
	referencesAnswering             prometheus.Gauge
	pollErrors                      *prometheus.CounterVec
	pollDuration                    *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, prefix string) (*metrics, error) {
	// Shadows the package default so every metric below takes prefix.
	metricPrefix := prefix
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + name, Help: help})
	}
	// Heights are vectors without labels so they can be left unset (absent
	// series) rather than report a misleading 0 before the first answer.
	heightGauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricPrefix + name, Help: help}, nil)
	}
	m := &metrics{
		localHeight:         heightGauge("local_height_blocks", "directoryblockheight of the local factomd at its last good poll"),
		networkHeight:       heightGauge("network_height_blocks", "network height chosen from the references (outliers dropped)"),
		lag:                 heightGauge("lag_blocks", "network height minus local height"),
		entryHeight:         heightGauge("entry_height_blocks", "entryheight of the local factomd at its last good poll: the highest block whose entries it holds"),
		entryLag:            heightGauge("entry_lag_blocks", "blocks whose entries the local factomd still lacks (leaderheight minus entryheight)"),
		ready:               gauge("ready", "1 when factomd is ready (caught up), else 0"),
		live:                gauge("live", "1 when factomd is live (not stalled, answering), else 0"),
		started:             gauge("started", "1 when factomd's API has answered and still does, else 0"),
		referencesAnswering: gauge("references_answering", "references with a fresh good answer"),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "poll_errors_total", Help: "failed factomd polls by target (local, reference, peer_service) and kind",
		}, []string{"target", "kind"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metricPrefix + "poll_duration_seconds", Help: "time to poll one factomd (heights and current-minute in parallel)",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"target"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.localHeight, m.networkHeight, m.lag, m.entryHeight, m.entryLag, m.ready, m.live, m.started, m.referencesAnswering, m.pollErrors, m.pollDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("health metrics: %w", err)
		}
	}
	return m, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) update(s *state, v verdicts) {
	m.ready.Set(b2f(v.ready.OK))
	m.live.Set(b2f(v.live.OK))
	m.started.Set(b2f(v.started.OK))
	m.referencesAnswering.Set(float64(s.freshRefs))
	if !s.lastGoodAt.IsZero() {
		m.localHeight.WithLabelValues().Set(float64(s.lastGood.Height))
		m.entryHeight.WithLabelValues().Set(float64(s.lastGood.EntryHeight))
		m.entryLag.WithLabelValues().Set(float64(s.lastGood.entryLag()))
	}
	if s.haveNetwork {
		m.networkHeight.WithLabelValues().Set(float64(s.network))
		if !s.lastGoodAt.IsZero() {
			m.lag.WithLabelValues().Set(float64(s.network - s.lastGood.Height))
		}
	} else {
		m.networkHeight.Reset()
		m.lag.Reset()
	}
}
