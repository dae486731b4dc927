package walletsync

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

type metrics struct {
	appliedGeneration prometheus.Gauge
	inSync            prometheus.Gauge
	lag               prometheus.Histogram
	commitDuration    prometheus.Histogram
	commits           *prometheus.CounterVec
	promoteDuration   prometheus.Histogram
	rejected          *prometheus.CounterVec
	replayed          *prometheus.CounterVec
}

// newMetrics registers the replication metrics; sealedBytes reports the
// size of the newest Secret seen and historyEntries the transitions its
// leader history holds (ok false before the first one).
func newMetrics(reg prometheus.Registerer, sealedBytes, historyEntries func() (n int, ok bool)) *metrics {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &metrics{
		appliedGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "factom_sidecar_keystore_applied_generation",
			Help: "Keystore generation this replica's walletd holds (committed generation on the leader).",
		}),
		inSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "factom_sidecar_keystore_in_sync",
			Help: "1 when this replica's walletd holds every key of the replicated keystore.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "factom_sidecar_replication_lag_seconds",
			Help:    "Time from a keystore commit on the leader to its keys being present in this follower's walletd.",
			Buckets: buckets,
		}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "factom_sidecar_keystore_commit_duration_seconds",
			Help:    "Time the leader takes to commit one keystore write to the Secret.",
			Buckets: buckets,
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "factom_sidecar_keystore_commits_total",
			Help: "Keystore commits by result (ok, fenced, conflict, too_large, error).",
		}, []string{"result"}),
		promoteDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "factom_sidecar_keystore_promote_duration_seconds",
			Help:    "Time the keystore part of a promotion takes (load, catch up, bump the term).",
			Buckets: buckets,
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "factom_sidecar_keystore_rejected_total",
			Help: "Keystore versions this replica refused to apply, by reason.",
		}, []string{"reason"}),
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "factom_sidecar_keystore_replayed_keys_total",
			Help: "Keys a follower wrote into its walletd, by operation (generate, import, remove).",
		}, []string{"op"}),
	}
	// Known label values start at 0, so increase() in alert rules sees
	// the first failure of a kind (a series born at 1 shows no increase).
	for _, result := range []string{"ok", "fenced", "conflict", "too_large", "error"} {
		m.commits.WithLabelValues(result)
	}
	for _, reason := range []string{"tampered", "wrong_key", "corrupt", "seed_mismatch"} {
		m.rejected.WithLabelValues(reason)
	}
	if reg != nil {
		reg.MustRegister(m.appliedGeneration, m.inSync, m.lag, m.commitDuration, m.commits, m.promoteDuration, m.rejected, m.replayed,
			&sizeCollector{sealedBytes: sealedBytes, historyEntries: historyEntries})
	}
	return m
}

// sizeCollector reports how full the keystore Secret is, read at scrape
// time from the newest version the watch delivered, so operators see the
// limit coming before writes fail with keystore_too_large. Nothing is
// reported before the first version is seen.
type sizeCollector struct {
	sealedBytes    func() (int, bool)
	historyEntries func() (int, bool)
}

var (
	sealedBytesDesc = prometheus.NewDesc("factom_sidecar_keystore_sealed_bytes",
		"Size of the sealed keystore in the newest version of the Secret this replica has seen.", nil, nil)
	sealedLimitDesc = prometheus.NewDesc("factom_sidecar_keystore_sealed_limit_bytes",
		"Largest sealed keystore a commit may write (a Secret holds 1 MiB, less a margin for metadata).", nil, nil)
	sizeRatioDesc = prometheus.NewDesc("factom_sidecar_keystore_size_ratio",
		"Sealed keystore size as a fraction of its limit; at 1 keystore writes fail (keystore_too_large).", nil, nil)
	historyEntriesDesc = prometheus.NewDesc("factom_sidecar_leader_history_entries",
		"Leader transitions the keystore Secret's history holds (kubectl factom history; the last 100 are kept).", nil, nil)
)

func (c *sizeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sealedBytesDesc
	ch <- sealedLimitDesc
	ch <- sizeRatioDesc
	ch <- historyEntriesDesc
}

func (c *sizeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(sealedLimitDesc, prometheus.GaugeValue, store.MaxSealedBytes)
	n, ok := c.sealedBytes()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(sealedBytesDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(sizeRatioDesc, prometheus.GaugeValue, float64(n)/store.MaxSealedBytes)
	if h, ok := c.historyEntries(); ok {
		ch <- prometheus.MustNewConstMetric(historyEntriesDesc, prometheus.GaugeValue, float64(h))
	}
}

// historyEntries is the length of the leader history in the newest Secret
// the watch delivered; a history that does not parse is not reported.
func (r *Replicator) historyEntries() (int, bool) {
	r.latestMu.Lock()
	raw := ""
	if r.latest != nil {
		raw = r.latest.Annotations[control.AnnotationHistory]
	}
	seen := r.latest != nil
	r.latestMu.Unlock()
	if !seen {
		return 0, false
	}
	h, err := control.ParseHistory(raw)
	if err != nil {
		return 0, false
	}
	return len(h), true
}

// sealedBytes is the sealed size in the newest Secret the watch delivered.
func (r *Replicator) sealedBytes() (int, bool) {
	r.latestMu.Lock()
	defer r.latestMu.Unlock()
	if r.latest == nil {
		return 0, false
	}
	return len(r.latest.Data[store.DataKey]), true
}
