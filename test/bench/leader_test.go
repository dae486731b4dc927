package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkLeaderElection reports the leader election's headline figures
// as benchmark metrics (the report's table is cmd/bench's:
// `go run ./cmd/bench -only leader`). It takes about twelve minutes; run it
// with
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
		b.ReportMetric(res.CrashDefault.P99.Seconds(), "crash-p99-s")
		b.ReportMetric(res.Graceful.P99.Seconds()*1000, "handover-p99-ms")
		b.ReportMetric(res.ReqPerSecLeader, "leader-req/s")
	}
}
