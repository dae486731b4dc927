package main

import (
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/bench"
)

const (
	switchoverTitle = "Operator switchover (issue 16)"
	switchoverGoal  = 100 * time.Millisecond
)

const switchoverMethod = `Measured by ` + "`bench.MeasureSwitchover`" + ` (test/bench/switchover.go): a 3-pod walletd cluster with
walletd-mode sidecars on a real kube-apiserver + etcd (testenv.StartCluster, fast profile 4 s / 3 s / 500 ms,
log level info), each sidecar reachable through the API server's pod proxy. A trial waits until
` + "`kubectl factom status`" + ` would exit 0, then makes the plugin's own request (` + "`operator.Client.RequestSwitchover`" + `:
status through the pod proxy, the best in-sync follower, the Lease annotation) and polls the target's
` + "`/leader`" + ` every 2 ms from the moment the annotation was written. The graceful handover is the baseline, on the
same cluster in the same run: SIGTERM of the leader's sidecar until another replica answers ` + "`/leader`" + ` 200, the
old sidecar started again after each trial.`

func switchoverArea(r bench.SwitchoverResults) Area {
	a := Area{Key: "switchover", Title: switchoverTitle, Method: switchoverMethod}
	n := fmt.Sprintf("%d trials", r.Trials)
	a.Rows = []Row{
		{Figure: "switchover (annotation written → target writable), p50, " + n, Result: fmtMs(r.Switchover.P50, 0),
			Baseline: fmtMs(r.Graceful.P50, 0) + " (graceful handover, SIGTERM)", Ratio: durRatio(r.Switchover.P50, r.Graceful.P50)},
		{Figure: "switchover, p99, " + n, Goal: "≤ 100 ms p99", Result: fmtMs(r.Switchover.P99, 0),
			Baseline: fmtMs(r.Graceful.P99, 0) + " (graceful handover)", Ratio: durRatio(r.Switchover.P99, r.Graceful.P99),
			Verdict: verdict(r.Switchover.P99 > 0 && r.Switchover.P99 <= switchoverGoal)},
	}
	return a
}
