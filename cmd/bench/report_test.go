package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/bench"
)

func sampleReport() Report {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return Report{
		Machine: Machine{
			NProc: 2, CPUModel: "AMD EPYC 7B13", MemTotal: "7.8 GiB", GoVersion: "go1.26.8", OSArch: "linux/amd64",
			Start: start, End: start.Add(21*time.Minute + 3*time.Second),
			LoadStart: "3.10 / 4.00 / 5.00", LoadEnd: "6.50 / 5.00 / 5.00", Command: "make bench",
		},
		Busy: true, PeakLoad: 6.5,
		Areas: []Area{
			healthArea(bench.HealthResults{
				Sidecar:         bench.LatencyRun{Requests: 20000, Rate: 1500, P50: 270 * time.Microsecond, P99: 2520 * time.Microsecond, Max: 52 * time.Millisecond},
				FloorOwnProcess: true, Floor: bench.LatencyRun{P50: 200 * time.Microsecond, P99: 2 * time.Millisecond, Max: 40 * time.Millisecond},
				RSSKiB: 28000, IdleCPUMilli: 0.67, Idle: time.Minute, PollsDuringIdle: 30, ReadyzNs: 20000, ReadyzAllocs: 50,
			}, 2),
			{Key: "leader", Title: "Leader election (issue 3)", Err: "no leader before trial 3: timed out\nsidecar log line | with a pipe"},
			skipped("proxy"),
			keystoreArea(&bench.KeystoreResult{
				Writes: 300, Followers: 2, LagP50: 60 * time.Millisecond, LagP99: 231 * time.Millisecond, LagMax: 310 * time.Millisecond,
				GenerateP50: 50 * time.Millisecond, GenerateP99: 100 * time.Millisecond,
				BigKeys: 10000, InitBig: 6 * time.Second, ReplayKeys: 300, ReplayBig: 19200 * time.Millisecond,
				PromoteWarm: 7 * time.Millisecond, PromoteCold: 3900 * time.Millisecond, SealedBytesBig: 157,
				BytesPerImported: 144, MaxImported: 7150,
			}, false),
		},
	}
}

func TestRender(t *testing.T) {
	out := Render(sampleReport())
	for _, want := range []string{
		"# Benchmarks",
		"| command | `make bench` |",
		"| cores (`nproc`) | 2 |",
		"| CPU | AMD EPYC 7B13 |",
		"| memory | 7.8 GiB |",
		"| Go | go1.26.8, linux/amd64 |",
		"| load average (1/5/15 min) at start | 3.10 / 4.00 / 5.00 |",
		"| load average (1/5/15 min) at end | 6.50 / 5.00 / 5.00 |",
		"2026-11-26 10:00 UTC → 10:21 UTC (21m3s)",
		"**The machine was very busy during this run** (1-minute load average up to 6.50 on 2 cores",
		"| figure | goal | result | baseline | ratio | met? |",
		// health: p99 missed, ratio to the static floor, RSS and CPU met.
		"| /readyz latency p99, 20,000 requests at 1500 req/s, 0 errors | < 1 ms | 2.520 ms | 2.000 ms (static server process, same load) | 1.26× | **missed** |",
		"and so does the floor",
		"| < 30 MiB | 27.3 MiB | — | — | met |",
		"| < 2 millicores | 0.67 millicores | — | — | met |",
		// failed area: one line, no pipe that would break the table.
		"| [Leader election (issue 3)](#leader-election-issue-3) | — | **failed**: no leader before trial 3: timed out |",
		"**This area failed:** `no leader before trial 3: timed out`",
		// skipped area.
		"Not run in this run (not selected with `-only`).",
		// keystore: fast run said so; replay extrapolated as the baseline.
		"fast run: the bulk replay ran with 300 keys, not 10,000",
		"| replication lag, p99 (max 310.0 ms) | ≤ 250 ms | 231.0 ms | 100.0 ms (one generate-ec-address) | 2.31× | met |",
		"(replay of 10,000 generate-*, extrapolated from 300)",
		"| 6.00 s | 640.00 s (replay of 10,000 generate-*, extrapolated from 300) | 1/107 | met |",
		"Reading them:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n---\n%s", want, out)
		}
	}
	if strings.Contains(out, "sidecar log line") {
		t.Error("report carries more than the first line of an error")
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	if a, b := Render(sampleReport()), Render(sampleReport()); a != b {
		t.Fatal("two renders of the same report differ")
	}
}

func TestTableRowsHaveSixCells(t *testing.T) {
	out := Render(sampleReport())
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		if line == "| figure | goal | result | baseline | ratio | met? |" {
			inTable = true
			continue
		}
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		if inTable {
			cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
			if cells != 6 {
				t.Errorf("row with %d cells: %s", cells, line)
			}
		}
	}
}

func TestVerdictsAgainstGoals(t *testing.T) {
	tests := []struct {
		name string
		area Area
		row  int
		want Verdict
	}{
		{"readyz p99 under 1 ms", healthArea(bench.HealthResults{Sidecar: bench.LatencyRun{Requests: 10, P99: 900 * time.Microsecond}}, 2), 0, Met},
		{"readyz with errors", healthArea(bench.HealthResults{Sidecar: bench.LatencyRun{Requests: 10, Errors: 1, P99: 900 * time.Microsecond}}, 2), 0, Missed},
		{"early crash failover within 1 s", leaderArea(bench.LeaderResults{CrashDefault: bench.Latencies{Samples: []time.Duration{1}, P99: time.Second}}), 1, Met},
		{"early crash failover past 1 s", leaderArea(bench.LeaderResults{CrashDefault: bench.Latencies{Samples: []time.Duration{1}, P99: 1001 * time.Millisecond}}), 1, Missed},
		{"pause within lease + 0.2 s", leaderArea(bench.LeaderResults{Pause: bench.Latencies{Samples: []time.Duration{1}, P99: 15200 * time.Millisecond}}), 3, Met},
		{"pause past lease + 0.2 s", leaderArea(bench.LeaderResults{Pause: bench.Latencies{Samples: []time.Duration{1}, P99: 15201 * time.Millisecond}}), 3, Missed},
		{"handover not measured", leaderArea(bench.LeaderResults{}), 7, Missed},
		{"handover p99 31 ms", leaderArea(bench.LeaderResults{Graceful: bench.Latencies{Samples: []time.Duration{1}, P99: 31 * time.Millisecond}}), 7, Missed},
		{"no spurious failover in a 30-minute soak", leaderArea(bench.LeaderResults{SteadyWindow: 30 * time.Minute}), 11, Met},
		{"a leader change in the soak", leaderArea(bench.LeaderResults{SteadyWindow: 30 * time.Minute, SpuriousTransitions: 1}), 11, Missed},
		{"a one-minute window judges no soak", leaderArea(bench.LeaderResults{SteadyWindow: time.Minute}), 11, NoGoal},
		{"write overhead 50 ms", proxyArea(bench.ProxyResults{Reads: 1, Writes: 1, WriteOverheadP99: 50 * time.Millisecond}, nil, ""), 4, Met},
		{"read overhead above 1 ms", proxyArea(bench.ProxyResults{Reads: 1, Writes: 1, ReadOverheadP99: 1100 * time.Microsecond}, nil, ""), 2, Missed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.area.Rows[tt.row].Verdict; got != tt.want {
				t.Errorf("row %q: %v, want %v", tt.area.Rows[tt.row].Figure, got, tt.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	for _, tt := range []struct {
		a, b float64
		want string
	}{{1, 2, "0.50×"}, {30, 2, "15.0×"}, {300, 2, "150×"}, {1, 0, "—"}, {9, 445000, "1/49,444"}} {
		if got := ratio(tt.a, tt.b); got != tt.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags([]string{"-only", "health,proxy", "-trials", "3", "-full"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.only["health"] || !cfg.only["proxy"] || cfg.only["leader"] || cfg.trials != 3 || !cfg.full {
		t.Fatalf("config %+v", cfg)
	}
	for _, bad := range [][]string{{"-only", "healthz"}, {"-trials", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, &stderr); !errors.Is(err, errUsage) {
			t.Errorf("%v: err %v, want a usage error", bad, err)
		}
	}
}
