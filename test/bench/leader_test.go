package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkLeaderElection prints the leader election figures for
// docs/BENCHMARKS.md. It takes about twelve minutes; run it with
//
//	go test -run '^$' -bench LeaderElection -benchtime 1x -timeout 40m ./test/bench
//
// FACTOM_BENCH_LEADER_WINDOW (a duration, default 60s) sets the
// steady-state window, which doubles as the spurious-failover soak: 30m
// for the full soak.
func BenchmarkLeaderElection(b *testing.B) {
	window := time.Minute
	if v := os.Getenv("FACTOM_BENCH_LEADER_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("FACTOM_BENCH_LEADER_WINDOW: %v", err)
		}
		window = d
	}
	for b.Loop() {
		res, err := MeasureLeader(context.Background(), LeaderOptions{
			SteadyWindow: window,
			Progress:     func(s string) { fmt.Println(time.Now().Format("15:04:05"), s) },
		})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Println(res.Markdown())
		b.ReportMetric(res.CrashDefault.P99.Seconds(), "crash-p99-s")
		b.ReportMetric(res.Graceful.P99.Seconds()*1000, "handover-p99-ms")
		b.ReportMetric(res.ReqPerSecLeader, "leader-req/s")
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 10; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(s)
	if l.P50 != 5*time.Millisecond || l.P99 != 10*time.Millisecond || l.Min != time.Millisecond || l.Max != 10*time.Millisecond {
		t.Fatalf("summarize = %+v", l)
	}
}
