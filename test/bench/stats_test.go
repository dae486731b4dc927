package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func msSeries(vals ...int) []time.Duration {
	s := make([]time.Duration, len(vals))
	for i, v := range vals {
		s[i] = time.Duration(v) * time.Millisecond
	}
	return s
}

func oneTo(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = time.Duration(i+1) * time.Millisecond
	}
	return s
}

func TestSummarizeUsesTheNearestRank(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name               string
		in                 []time.Duration
		p50, p99, min, max time.Duration
	}{
		{"no samples give zeros", nil, 0, 0, 0, 0},
		{"one sample is every percentile", msSeries(7), 7 * ms, 7 * ms, 7 * ms, 7 * ms},
		{"two samples: p50 is the lower", msSeries(9, 3), 3 * ms, 9 * ms, 3 * ms, 9 * ms},
		{"ten samples: p99 is the max", oneTo(10), 5 * ms, 10 * ms, ms, 10 * ms},
		{"a hundred: p99 is the 99th", oneTo(100), 50 * ms, 99 * ms, ms, 100 * ms},
		{"a hundred and one: p50 is the 51st, p99 the 100th", oneTo(101), 51 * ms, 100 * ms, ms, 101 * ms},
		{"three hundred: p99 is the 297th", oneTo(300), 150 * ms, 297 * ms, ms, 300 * ms},
		{"a thousand: p99 is the 990th", oneTo(1000), 500 * ms, 990 * ms, ms, 1000 * ms},
		{"unsorted input", msSeries(5, 1, 4, 2, 3), 3 * ms, 5 * ms, ms, 5 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Summarize(tc.in)
			if l.P50 != tc.p50 || l.P99 != tc.p99 || l.Min != tc.min || l.Max != tc.max {
				t.Fatalf("Summarize = p50 %v p99 %v min %v max %v, want %v %v %v %v", l.P50, l.P99, l.Min, l.Max, tc.p50, tc.p99, tc.min, tc.max)
			}
			if len(l.Samples) != len(tc.in) {
				t.Fatalf("Samples has %d, want %d", len(l.Samples), len(tc.in))
			}
			p := ProxyLatencies(tc.in)
			if p.P50 != tc.p50 || p.P99 != tc.p99 || p.Max != tc.max {
				t.Fatalf("ProxyLatencies = %+v, want the same ranks as Summarize", p)
			}
		})
	}
}

func TestSummarizeLeavesItsInputAlone(t *testing.T) {
	in := msSeries(3, 1, 2)
	l := Summarize(in)
	l.Samples[0] = 0
	if in[0] != 3*time.Millisecond || in[1] != time.Millisecond || in[2] != 2*time.Millisecond {
		t.Fatalf("input changed to %v", in)
	}
}

// The rank is ⌈p·n⌉ for every size a benchmark produces, despite p·n in
// floating point.
func TestPercentileIsTheCeilingRank(t *testing.T) {
	all := oneTo(20000)
	for n := 1; n <= len(all); n++ {
		sorted := all[:n]
		for _, pc := range []int{1, 50, 90, 99, 100} {
			want := (n*pc + 99) / 100 // ⌈n·pc/100⌉, in integers
			got := int(percentile(sorted, float64(pc)/100) / time.Millisecond)
			if got != want {
				t.Fatalf("n %d p%d: rank %d, want %d", n, pc, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]time.Duration, 1000)
	for i := range s {
		s[i] = time.Duration(r.IntN(1e6))
	}
	l := Summarize(s)
	atOrBelow, below := 0, 0
	for _, v := range s {
		if v <= l.P99 {
			atOrBelow++
		}
		if v < l.P99 {
			below++
		}
	}
	// The smallest sample with 99 % of the samples at or below it.
	if atOrBelow < 990 || below >= 990 {
		t.Fatalf("p99 %v: %d of 1000 samples at or below it, %d below; want ≥ 990 and < 990", l.P99, atOrBelow, below)
	}
}
