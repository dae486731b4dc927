package bench

import (
	"testing"
	"time"
)

// TestMeasureHealthRuns runs a short MeasureHealth to keep the benchmark
// working; it checks that figures were produced, not how good they are.
func TestMeasureHealthRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built sidecar for several seconds; skipped in -short mode")
	}
	res, err := MeasureHealth(t.Context(), HealthOptions{Requests: 1000, Rate: 1000, Idle: 3 * time.Second, Dir: t.TempDir(), Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sidecar.Requests+res.Sidecar.Errors != 1000 || res.RSSKiB == 0 || res.PollsDuringIdle == 0 || res.PollNs == 0 || res.ReadyzNs == 0 {
		t.Fatalf("incomplete results: %+v", res)
	}
}
