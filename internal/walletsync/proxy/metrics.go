package proxy

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes, the "outcome" label of factom_sidecar_proxy_requests_total.
const (
	outcomeOK           = "ok"            // walletd answered with a result (committed if needed)
	outcomeWalletdError = "walletd_error" // walletd answered with a JSON-RPC error
	outcomeUnauthorized = "unauthorized"  // walletd answered 401
	outcomeNotLeader    = "not_leader"
	outcomeNotInSync    = "not_in_sync"
	outcomeNotCommitted = "commit_failed"
	outcomeUnavailable  = "walletd_unavailable" // connection failed or bad response
	outcomeTimeout      = "timeout"
	outcomeCanceled     = "canceled" // the client went away before the request ran
	outcomeBadRequest   = "bad_request"
	outcomeTooLarge     = "too_large"
)

// classNone labels requests rejected before a method was known.
const classNone = "none"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "factom_sidecar_proxy_requests_total",
			Help: "JSON-RPC requests through the walletd proxy, by method class and outcome.",
		}, []string{"class", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "factom_sidecar_proxy_request_duration_seconds",
			Help: "Time from receiving a request to sending its reply, by method class (writes include waiting for the write lock and the commit).",
			// walletd reads take ~1 ms, keystore writes ~40 ms plus the commit.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"class"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "factom_sidecar_proxy_in_flight_requests",
			Help: "Requests the walletd proxy is handling now.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("proxy metrics: %w", err)
		}
	}
	return m, nil
}
