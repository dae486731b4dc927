package leader

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	isLeader       prometheus.Gauge
	term           prometheus.Gauge
	transitions    prometheus.Counter
	timeToWritable prometheus.Histogram
	requests       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "factom_sidecar_is_leader",
			Help: "1 while this replica is the writable walletd leader, 0 otherwise.",
		}),
		term: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "factom_sidecar_leader_term",
			Help: "Term (the Lease's leaseTransitions) of the current leader as this replica sees it.",
		}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "factom_sidecar_leader_transitions_total",
			Help: "Changes of the Lease holder this replica has observed.",
		}),
		timeToWritable: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "factom_sidecar_time_to_writable_seconds",
			Help:    "Time from the old lease being released or expired (or from start) until this replica accepted writes.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "factom_sidecar_kube_requests_total",
			Help: "Requests this replica sent to the Kubernetes API server, by client (election, watch, work) and HTTP method.",
		}, []string{"client", "method"}),
	}
	if reg != nil {
		reg.MustRegister(m.isLeader, m.term, m.transitions, m.timeToWritable, m.requests)
	}
	return m
}

// countingTransport counts every request sent, watches included, so the
// API load of the election is measurable per pod.
type countingTransport struct {
	next   http.RoundTripper
	client string
	m      *metrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.m.requests.WithLabelValues(t.client, req.Method).Inc()
	return t.next.RoundTrip(req)
}
