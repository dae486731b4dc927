package bench

import (
	"slices"
	"time"
)

// The statistics of every figure in the report. One rank rule for all of
// them: the nearest rank (the smallest sample with at least p of the
// samples at or below it), so a p99 of 10 samples is their max and a p99
// is always a sample that was measured, never an interpolation.

// Latencies summarises samples.
type Latencies struct {
	Samples  []time.Duration
	P50, P99 time.Duration
	Min, Max time.Duration
}

// Summarize gives the percentiles of samples (zero for none).
func Summarize(s []time.Duration) Latencies {
	l := Latencies{Samples: append([]time.Duration(nil), s...)}
	if len(s) == 0 {
		return l
	}
	sorted := slices.Sorted(slices.Values(s))
	l.P50 = percentile(sorted, 0.50)
	l.P99 = percentile(sorted, 0.99)
	l.Min, l.Max = sorted[0], sorted[len(sorted)-1]
	return l
}

// percentile of sorted (not empty) by the nearest-rank method: the sample
// of rank ⌈p·n⌉. The 0.999999 in place of a ceiling absorbs the rounding
// of p·n (100 × 0.99 must be rank 99, not 100).
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(float64(len(sorted))*p+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// ProxyLatency summarises one series of sequential calls.
type ProxyLatency struct {
	P50, P99, Max time.Duration
}

// ProxyLatencies is the p50, p99 and max of a series (Summarize's).
func ProxyLatencies(s []time.Duration) ProxyLatency {
	l := Summarize(s)
	return ProxyLatency{P50: l.P50, P99: l.P99, Max: l.Max}
}
