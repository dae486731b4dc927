package walletsync

import "github.com/prometheus/client_golang/prometheus"

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

func newMetrics(reg prometheus.Registerer) *metrics {
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
	if reg != nil {
		reg.MustRegister(m.appliedGeneration, m.inSync, m.lag, m.commitDuration, m.commits, m.promoteDuration, m.rejected, m.replayed)
	}
	return m
}
