// Package kubemetrics exports client-go's own metrics (API requests, rate
// limiter waits, retries, leader election) into the sidecar's registry,
// under the names the Kubernetes components use, so existing client-go
// dashboards and alerts work on the sidecar unchanged.
package kubemetrics

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/metrics"
)

// Buckets of k8s.io/component-base's client-go adapter.
var latencyBuckets = []float64{0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60}

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_requests_total",
		Help: "HTTP requests client-go sent to the API server, by status code, method and host.",
	}, []string{"code", "method", "host"})
	requestDuration     = latencyHistogram("rest_client_request_duration_seconds", "client-go request latency, by verb and host.")
	rateLimiterDuration = latencyHistogram("rest_client_rate_limiter_duration_seconds", "Time client-go requests waited for the client-side rate limiter, by verb and host.")
	retries             = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_request_retries_total",
		Help: "Requests client-go retried, by status code, verb and host.",
	}, []string{"code", "verb", "host"})
	masterStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "leader_election_master_status",
		Help: "1 while client-go's elector in this process holds the named lease, 0 after it lost it.",
	}, []string{"name"})
	slowpath = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leader_election_slowpath_total",
		Help: "Lease renewals client-go's elector made with a full get-and-update instead of its cached record.",
	}, []string{"name"})

	collectors = []prometheus.Collector{requests, requestDuration, rateLimiterDuration, retries, masterStatus, slowpath}
	hookOnce   sync.Once
)

func latencyHistogram(name, help string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, []string{"verb", "host"})
}

// Register makes client-go report into reg. client-go's hooks are process
// wide and take their first setting only, so the metrics are shared by
// every registry passed here; each call registers them into its reg.
// Call it before building the first client and the first elector.
func Register(reg prometheus.Registerer) error {
	hookOnce.Do(func() {
		metrics.Register(metrics.RegisterOpts{
			RequestLatency:     latency{requestDuration},
			RateLimiterLatency: latency{rateLimiterDuration},
			RequestResult:      result{},
			RequestRetry:       retry{},
		})
		leaderelection.SetProvider(provider{})
	})
	var errs []error
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("client-go metrics: %w", err)
	}
	return nil
}

type latency struct{ h *prometheus.HistogramVec }

func (l latency) Observe(_ context.Context, verb string, u url.URL, d time.Duration) {
	// The host only: paths carry object names, an unbounded label.
	l.h.WithLabelValues(verb, u.Host).Observe(d.Seconds())
}

type result struct{}

func (result) Increment(_ context.Context, code, method, host string) {
	requests.WithLabelValues(code, method, host).Inc()
}

type retry struct{}

func (retry) IncrementRetry(_ context.Context, code, method, host string) {
	retries.WithLabelValues(code, method, host).Inc()
}

type provider struct{}

func (provider) NewLeaderMetric() leaderelection.LeaderMetric { return leaderMetric{} }

type leaderMetric struct{}

func (leaderMetric) On(name string)                { masterStatus.WithLabelValues(name).Set(1) }
func (leaderMetric) Off(name string)               { masterStatus.WithLabelValues(name).Set(0) }
func (leaderMetric) SlowpathExercised(name string) { slowpath.WithLabelValues(name).Inc() }
