package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/bench"
)

// The areas' figures as rows, beside their goals and baselines. Each
// function is pure: results in, Area out.

const (
	readyzGoal        = time.Millisecond
	rssGoalKiB        = 30 * 1024
	idleCPUGoal       = 2.0 // millicores
	crashSlack        = 200 * time.Millisecond
	handoverGoal      = 30 * time.Millisecond
	earlyCrashGoal    = time.Second
	apiRateGoal       = 1.0
	readOverheadGoal  = time.Millisecond
	writeOverheadGoal = 50 * time.Millisecond
	lagGoal           = 250 * time.Millisecond
)

func healthArea(r bench.HealthResults, workers int) Area {
	a := Area{Key: "health", Title: "factomd health (issue 2)", Method: fmt.Sprintf(healthMethod, workers)}
	where := ""
	if r.OneCore {
		where = ", all on one core"
	}
	a.Rows = []Row{
		{
			Figure:   fmt.Sprintf("/readyz latency p99, %s requests at %.0f req/s, %d errors%s", thousands(r.Sidecar.Requests), r.Sidecar.Rate, r.Sidecar.Errors, where),
			Goal:     "< 1 ms",
			Result:   fmtMs(r.Sidecar.P99, 3),
			Baseline: fmtMs(r.Floor.P99, 3) + " (" + floorName(r) + ", same load)",
			Ratio:    durRatio(r.Sidecar.P99, r.Floor.P99),
			Verdict:  verdict(r.Sidecar.P99 < readyzGoal && r.Sidecar.Errors == 0 && r.Sidecar.Requests > 0),
		},
		{Figure: "/readyz latency p50", Result: fmtMs(r.Sidecar.P50, 3), Baseline: fmtMs(r.Floor.P50, 3), Ratio: durRatio(r.Sidecar.P50, r.Floor.P50)},
		{Figure: "/readyz latency max", Result: fmtMs(r.Sidecar.Max, 1), Baseline: fmtMs(r.Floor.Max, 1), Ratio: durRatio(r.Sidecar.Max, r.Floor.Max)},
	}
	if r.OneCore {
		sp, sf := r.SpreadSidecar, r.SpreadFloor
		a.Rows = append(a.Rows,
			Row{Figure: fmt.Sprintf("/readyz latency p99, same load, processes on any core (%s requests at %.0f req/s, %d errors)", thousands(sp.Requests), sp.Rate, sp.Errors), Result: fmtMs(sp.P99, 3), Baseline: fmtMs(sf.P99, 3), Ratio: durRatio(sp.P99, sf.P99)},
			Row{Figure: "/readyz latency p50, processes on any core", Result: fmtMs(sp.P50, 3), Baseline: fmtMs(sf.P50, 3), Ratio: durRatio(sp.P50, sf.P50)},
		)
	}
	a.Rows = append(a.Rows, []Row{
		{Figure: fmt.Sprintf("RSS after %s idle (VmRSS)", r.Idle.Round(time.Second)), Goal: "< 30 MiB", Result: fmtMiB(r.RSSKiB), Baseline: "—", Ratio: "—", Verdict: verdict(r.RSSKiB > 0 && r.RSSKiB < rssGoalKiB)},
		{Figure: fmt.Sprintf("idle CPU over %s (utime+stime), one poll every 2 s", r.Idle.Round(time.Second)), Goal: "< 2 millicores", Result: fmt.Sprintf("%.2f millicores", r.IdleCPUMilli), Baseline: "—", Ratio: "—", Verdict: verdict(r.Idle > 0 && r.IdleCPUMilli < idleCPUGoal)},
		{Figure: fmt.Sprintf("sidecar CPU per poll (idle CPU / %d polls; 10 ms tick resolution)", r.PollsDuringIdle), Result: fmtMs(r.CPUPerPoll, 2), Baseline: "—", Ratio: "—"},
		{Figure: "one poll in-process (local + 1 reference over loopback HTTP, 5 calls)", Result: fmt.Sprintf("%s, %d allocs, %.1f KB", fmtMs(time.Duration(r.PollNs), 2), r.PollAllocs, float64(r.PollBytes)/1000), Baseline: "—", Ratio: "—"},
		{Figure: "one /readyz in-process (cached verdict → JSON body)", Result: fmt.Sprintf("%.1f µs, %d allocs", float64(r.ReadyzNs)/1000, r.ReadyzAllocs), Baseline: "—", Ratio: "—"},
	}...)
	switch {
	case r.Sidecar.Requests == 0:
	case r.Sidecar.P99 < readyzGoal:
		a.Reading = append(a.Reading, fmt.Sprintf("**/readyz p99 %s meets the 1 ms goal**; a %s under the same load had p99 %s.", fmtMs(r.Sidecar.P99, 3), floorName(r), fmtMs(r.Floor.P99, 3)))
	case r.Floor.P99 >= readyzGoal:
		a.Reading = append(a.Reading, fmt.Sprintf("**/readyz p99 %s misses the 1 ms goal, and so does the floor**: a %s answering a body of the same size, under the same load in the same run, had p99 %s. The tail is the machine (client, server and other work waiting for a core), not the probe path, whose handler costs %.0f µs.", fmtMs(r.Sidecar.P99, 3), floorName(r), fmtMs(r.Floor.P99, 3), float64(r.ReadyzNs)/1000))
	default:
		a.Reading = append(a.Reading, fmt.Sprintf("**/readyz p99 %s misses the 1 ms goal** while a %s under the same load had p99 %s: the difference is the sidecar process (its handler, %.0f µs in-process, its runtime and scheduling).", fmtMs(r.Sidecar.P99, 3), floorName(r), fmtMs(r.Floor.P99, 3), float64(r.ReadyzNs)/1000))
	}
	a.Reading = append(a.Reading, healthReading...)
	return a
}

func floorName(r bench.HealthResults) string {
	if r.FloorOwnProcess {
		return "static server process"
	}
	return "static handler in the client's process"
}

func leaderArea(r bench.LeaderResults) Area {
	a := Area{Key: "leader", Title: "Leader election (issue 3)", Method: leaderMethod}
	pauseGoal := bench.DefaultTiming.LeaseDuration + crashSlack
	fastGoal := earlyCrashGoal
	tr := fmt.Sprintf("%d trials", r.Trials)
	a.Rows = []Row{
		{Figure: "crash failover, default 15 s/10 s/2 s, early takeover (SIGKILL of the sidecar, walletd alive → new leader writable), p50, " + tr, Result: fmtS(r.CrashDefault.P50), Baseline: fmtS(r.CrashNoEarly.P50) + " (--early-takeover=false)", Ratio: durRatio(r.CrashDefault.P50, r.CrashNoEarly.P50)},
		{Figure: "crash failover, default, early takeover, p99 (min–max " + fmtS(r.CrashDefault.Min) + "–" + fmtS(r.CrashDefault.Max) + ")", Goal: "≤ " + fmtS(earlyCrashGoal), Result: fmtS(r.CrashDefault.P99), Baseline: fmtS(r.CrashNoEarly.P99) + " (--early-takeover=false)", Ratio: durRatio(r.CrashDefault.P99, r.CrashNoEarly.P99), Verdict: verdict(len(r.CrashDefault.Samples) > 0 && r.CrashDefault.P99 <= earlyCrashGoal)},
		{Figure: "crash failover, default, --early-takeover=false (the lease decides), p50 / p99 (min–max " + fmtS(r.CrashNoEarly.Min) + "–" + fmtS(r.CrashNoEarly.Max) + ")", Result: fmtS(r.CrashNoEarly.P50) + " / " + fmtS(r.CrashNoEarly.P99), Baseline: fmtS(r.BaselineCrash.P50) + " / " + fmtS(r.BaselineCrash.P99) + " (client-go)", Ratio: durRatio(r.CrashNoEarly.P99, r.BaselineCrash.P99)},
		{Figure: "pause past the lease (SIGSTOP of the leader: no evidence), default, p50 / p99 (min–max " + fmtS(r.Pause.Min) + "–" + fmtS(r.Pause.Max) + ")", Goal: "≤ " + fmtS(pauseGoal), Result: fmtS(r.Pause.P50) + " / " + fmtS(r.Pause.P99), Baseline: fmtS(bench.DefaultTiming.LeaseDuration) + " (lease duration)", Ratio: durRatio(r.Pause.P99, bench.DefaultTiming.LeaseDuration), Verdict: verdict(len(r.Pause.Samples) > 0 && r.Pause.P99 <= pauseGoal)},
		{Figure: "crash failover, fast 4 s/3 s/0.5 s, p50, " + tr, Result: fmtS(r.CrashFast.P50), Baseline: fmtS(r.BaselineCrash.P50) + " (client-go, default)", Ratio: durRatio(r.CrashFast.P50, r.BaselineCrash.P50)},
		{Figure: "crash failover, fast, p99 (min–max " + fmtS(r.CrashFast.Min) + "–" + fmtS(r.CrashFast.Max) + ")", Goal: "≤ " + fmtS(fastGoal), Result: fmtS(r.CrashFast.P99), Baseline: fmtS(r.BaselineCrash.P99) + " (client-go, default)", Ratio: durRatio(r.CrashFast.P99, r.BaselineCrash.P99), Verdict: verdict(len(r.CrashFast.Samples) > 0 && r.CrashFast.P99 <= fastGoal)},
		{Figure: "graceful handover (SIGTERM → new leader writable), p50, " + tr, Result: fmtMs(r.Graceful.P50, 0), Baseline: fmtMs(r.BaselineGraceful.P50, 0) + " (client-go, ReleaseOnCancel)", Ratio: durRatio(r.Graceful.P50, r.BaselineGraceful.P50)},
		{Figure: "graceful handover, p99 (min–max " + fmtMs(r.Graceful.Min, 0) + "–" + fmtMs(r.Graceful.Max, 0) + ")", Goal: "≤ 30 ms", Result: fmtMs(r.Graceful.P99, 0), Baseline: fmtMs(r.BaselineGraceful.P99, 0) + " (client-go)", Ratio: durRatio(r.Graceful.P99, r.BaselineGraceful.P99), Verdict: verdict(len(r.Graceful.Samples) > 0 && r.Graceful.P99 <= handoverGoal)},
		{Figure: fmt.Sprintf("API requests/s, leader pod, steady state over %s", r.SteadyWindow.Round(time.Second)), Goal: "≤ 1", Result: fmt.Sprintf("%.2f", r.ReqPerSecLeader), Baseline: fmt.Sprintf("%.2f (client-go leader)", r.BaselineReqPerSecLeader), Ratio: ratio(r.ReqPerSecLeader, r.BaselineReqPerSecLeader), Verdict: verdict(r.SteadyWindow > 0 && r.ReqPerSecLeader <= apiRateGoal)},
		{Figure: "API requests/s, busiest follower pod", Goal: "≤ 1", Result: fmt.Sprintf("%.2f", r.ReqPerSecFollower), Baseline: fmt.Sprintf("%.2f (client-go follower)", r.BaselineReqPerSecFollower), Ratio: ratio(r.ReqPerSecFollower, r.BaselineReqPerSecFollower), Verdict: verdict(r.SteadyWindow > 0 && r.ReqPerSecFollower <= apiRateGoal)},
		{Figure: "API requests/s of the election's clients alone (sidecar metric), leader / busiest follower", Result: fmt.Sprintf("%.2f / %.2f", r.ElectionReqPerSecLeader, r.ElectionReqPerSecFollower), Baseline: fmt.Sprintf("%.2f / %.2f (client-go)", r.BaselineReqPerSecLeader, r.BaselineReqPerSecFollower), Ratio: ratio(r.ElectionReqPerSecLeader, r.BaselineReqPerSecLeader) + " / " + ratio(r.ElectionReqPerSecFollower, r.BaselineReqPerSecFollower)},
		soakRow(r),
		{Figure: "RSS, leader sidecar", Result: fmtMiB(r.RSSLeaderKiB), Baseline: fmtMiB(r.BaselineRSSKiB) + " (client-go elector)", Ratio: ratio(float64(r.RSSLeaderKiB), float64(r.BaselineRSSKiB))},
		{Figure: "RSS, follower sidecar (largest)", Result: fmtMiB(r.RSSFollowerKiB), Baseline: fmtMiB(r.BaselineRSSKiB) + " (client-go elector)", Ratio: ratio(float64(r.RSSFollowerKiB), float64(r.BaselineRSSKiB))},
	}
	a.Reading = leaderReading
	return a
}

// soakRow counts leader changes while nothing was killed. The goal
// is none in 30 minutes of the fast profile; a shorter window of default
// timings is shown without a verdict.
func soakRow(r bench.LeaderResults) Row {
	row := Row{
		Figure: fmt.Sprintf("leader changes while nothing was killed, default timings, over %s", r.SteadyWindow.Round(time.Second)),
		Goal:   "none in 30 min (fast profile)", Result: fmt.Sprintf("%d", r.SpuriousTransitions), Baseline: "—", Ratio: "—",
	}
	if r.SteadyWindow >= 30*time.Minute {
		row.Verdict = verdict(r.SpuriousTransitions == 0)
	}
	return row
}

// realProxy is the write-gating proxy of a real walletd-mode sidecar (the
// leader of a 3-pod cluster, committing to the keystore Secret).
type realProxy struct {
	Reads, Writes                 int
	ReadDirect, ReadProxy         bench.ProxyLatency
	WriteDirect, WriteProxy       bench.ProxyLatency
	WriteOverheadP99, ReadOverP99 time.Duration
	// ReadOneCore: the reads above ran with the benchmark, the leader's
	// sidecar and its walletd pinned to one core; Spread* are the same
	// reads with every process on any core.
	ReadOneCore                       bool
	SpreadReadDirect, SpreadReadProxy bench.ProxyLatency
}

func proxyArea(r bench.ProxyResults, rp *realProxy, rpErr string) Area {
	a := Area{Key: "proxy", Title: "Write-gating proxy (issue 4)", Method: proxyMethod}
	ms := func(d time.Duration) string { return fmtMs(d, 2) }
	if r.Reads > 0 {
		a.Rows = append(a.Rows,
			Row{Figure: fmt.Sprintf("read `%s` through the proxy, p50 (%s each, interleaved)", r.ReadMethod, thousands(r.Reads)), Result: ms(r.ReadProxy.P50), Baseline: ms(r.ReadDirect.P50) + " (direct walletd)", Ratio: durRatio(r.ReadProxy.P50, r.ReadDirect.P50)},
			Row{Figure: "read through the proxy, p99", Result: ms(r.ReadProxy.P99), Baseline: ms(r.ReadDirect.P99) + " (direct)", Ratio: durRatio(r.ReadProxy.P99, r.ReadDirect.P99)},
			Row{Figure: "read overhead (proxy − direct), p50 / **p99**", Goal: "≤ 1 ms p99", Result: ms(r.ReadOverheadP50) + " / " + ms(r.ReadOverheadP99), Baseline: "0 (direct)", Ratio: "—", Verdict: verdict(r.ReadOverheadP99 <= readOverheadGoal)},
		)
	}
	if r.Writes > 0 {
		a.Rows = append(a.Rows,
			Row{Figure: fmt.Sprintf("write `generate-ec-address` through the proxy, no-op commit, p50 (%d each)", r.Writes), Result: ms(r.WriteProxy.P50), Baseline: ms(r.WriteDirect.P50) + " (direct)", Ratio: durRatio(r.WriteProxy.P50, r.WriteDirect.P50)},
			Row{Figure: "write through the proxy, no-op commit, p99", Goal: "≤ direct + 50 ms p99", Result: ms(r.WriteProxy.P99), Baseline: ms(r.WriteDirect.P99) + " (direct)", Ratio: durRatio(r.WriteProxy.P99, r.WriteDirect.P99), Verdict: verdict(r.WriteOverheadP99 <= writeOverheadGoal)},
		)
	}
	if rp != nil {
		a.Rows = append(a.Rows,
			Row{Figure: fmt.Sprintf("write through the **real leader sidecar** (commit to the keystore Secret), p50 (%d each)", rp.Writes), Result: ms(rp.WriteProxy.P50), Baseline: ms(rp.WriteDirect.P50) + " (direct, standalone walletd)", Ratio: durRatio(rp.WriteProxy.P50, rp.WriteDirect.P50)},
			Row{Figure: "write through the real leader sidecar, p99", Goal: "≤ direct + 50 ms p99", Result: ms(rp.WriteProxy.P99), Baseline: ms(rp.WriteDirect.P99) + " (direct)", Ratio: durRatio(rp.WriteProxy.P99, rp.WriteDirect.P99), Verdict: verdict(rp.WriteOverheadP99 <= writeOverheadGoal)},
		)
		where := ""
		if rp.ReadOneCore {
			where = ", on one core"
		}
		a.Rows = append(a.Rows,
			Row{Figure: fmt.Sprintf("read `properties` through the real leader sidecar, p50 (%s each%s)", thousands(rp.Reads), where), Result: ms(rp.ReadProxy.P50), Baseline: ms(rp.ReadDirect.P50) + " (its walletd direct)", Ratio: durRatio(rp.ReadProxy.P50, rp.ReadDirect.P50)},
			Row{Figure: fmt.Sprintf("read through the real leader sidecar, p99 (overhead %s)", ms(rp.ReadOverP99)), Goal: "overhead ≤ 1 ms p99", Result: ms(rp.ReadProxy.P99), Baseline: ms(rp.ReadDirect.P99) + " (its walletd direct)", Ratio: durRatio(rp.ReadProxy.P99, rp.ReadDirect.P99), Verdict: verdict(rp.ReadOverP99 <= readOverheadGoal)},
		)
		if rp.ReadOneCore {
			a.Rows = append(a.Rows,
				Row{Figure: fmt.Sprintf("read through the real leader sidecar, processes on any core, p50 / p99 (overhead p99 %s)", ms(rp.SpreadReadProxy.P99-rp.SpreadReadDirect.P99)), Result: ms(rp.SpreadReadProxy.P50) + " / " + ms(rp.SpreadReadProxy.P99), Baseline: ms(rp.SpreadReadDirect.P50) + " / " + ms(rp.SpreadReadDirect.P99), Ratio: durRatio(rp.SpreadReadProxy.P99, rp.SpreadReadDirect.P99)},
			)
		}
	}
	if rpErr != "" {
		a.Reading = append(a.Reading, "The real-sidecar part failed: `"+oneLine(rpErr)+"`.")
	}
	a.Reading = append(a.Reading, proxyReading...)
	return a
}

func keystoreArea(r *bench.KeystoreResult, full bool) Area {
	a := Area{Key: "keystore", Title: "Keystore replication (issue 4)", Method: keystoreMethod}
	if full {
		a.Ran = fmt.Sprintf("full run: the %s-key replay ran", thousands(r.ReplayKeys))
	} else {
		a.Ran = fmt.Sprintf("fast run: the bulk replay ran with %s keys, not %s (its %s-key figure is extrapolated; `-full` runs it, ≈ 11 min more)", thousands(r.ReplayKeys), thousands(r.BigKeys), thousands(r.BigKeys))
	}
	ms := func(d time.Duration) string { return fmtMs(d, 1) }
	perKey := time.Duration(0)
	if r.ReplayKeys > 0 {
		perKey = r.ReplayBig / time.Duration(r.ReplayKeys)
	}
	replayBig := perKey * time.Duration(r.BigKeys)
	replayLabel := "measured"
	if r.ReplayKeys != r.BigKeys {
		replayLabel = fmt.Sprintf("extrapolated from %d", r.ReplayKeys)
	}
	big := thousands(r.BigKeys)
	a.Rows = []Row{
		{Figure: fmt.Sprintf("replication lag, commit → key in all %d followers' walletd, p50 (%d writes)", r.Followers, r.Writes), Result: ms(r.LagP50), Baseline: ms(r.GenerateP50) + " (one walletd generate-ec-address)", Ratio: durRatio(r.LagP50, r.GenerateP50)},
		{Figure: fmt.Sprintf("replication lag, p99 (max %s)", ms(r.LagMax)), Goal: "≤ 250 ms", Result: ms(r.LagP99), Baseline: ms(r.GenerateP99) + " (one generate-ec-address)", Ratio: durRatio(r.LagP99, r.GenerateP99), Verdict: verdict(r.Writes > 0 && r.LagP99 <= lagGoal)},
		{Figure: "leader commit (seal + conditional update of the Secret), p50 / p99", Result: ms(r.CommitP50) + " / " + ms(r.CommitP99), Baseline: "—", Ratio: "—"},
		{Figure: fmt.Sprintf("sealed keystore with %s derived addresses (one Secret holds 1 MiB)", big), Goal: big + " addresses handled", Result: fmt.Sprintf("%d bytes", r.SealedBytesBig), Baseline: "—", Ratio: "—", Verdict: verdict(r.SealedBytesBig > 0 && r.SealedBytesBig < 1<<20)},
		{Figure: fmt.Sprintf("new replica with %s addresses via walletd-init (wallet file written, walletd started, in sync)", big), Goal: big + " addresses handled", Result: fmtS(r.InitBig), Baseline: fmt.Sprintf("%s (replay of %s generate-*, %s)", fmtS(replayBig), big, replayLabel), Ratio: durRatio(r.InitBig, replayBig), Verdict: verdict(r.InitBig > 0)},
		{Figure: fmt.Sprintf("bulk catch-up by replaying %s generate-* into a seed-only wallet", thousands(r.ReplayKeys)), Result: fmt.Sprintf("%s (%s/key)", fmtS(r.ReplayBig), ms(perKey)), Baseline: "—", Ratio: "—"},
		{Figure: fmt.Sprintf("promotion of an in-sync follower, %s addresses (steady state)", big), Goal: big + " addresses handled", Result: fmtMs(r.PromoteWarm, 0), Baseline: fmtS(replayBig) + " (catch-up by replay at promotion)", Ratio: durRatio(r.PromoteWarm, replayBig), Verdict: verdict(r.PromoteWarm > 0)},
		{Figure: fmt.Sprintf("promotion right after a sidecar restart, %s addresses (wallet-backup + derivation scan)", big), Result: fmtS(r.PromoteCold), Baseline: fmtS(replayBig) + " (replay)", Ratio: durRatio(r.PromoteCold, replayBig)},
		{Figure: "sealed bytes per imported key; imported keys that fit one Secret", Result: fmt.Sprintf("%.0f; ≈ %s", r.BytesPerImported, thousands(r.MaxImported)), Baseline: "—", Ratio: "—"},
	}
	a.Reading = keystoreReading
	return a
}

func nodeArea(r bench.NodeResults) Area {
	a := Area{Key: "node", Title: "The shipped manifests on a real node (issue 10)", Method: nodeMethod}
	lease := bench.DefaultTiming.LeaseDuration
	del, kill := r.PodDeleted, r.SidecarKilled
	tr := fmt.Sprintf("%d trials", len(del.Samples))
	a.Rows = []Row{
		{Figure: "cluster start (images built and imported, control plane, kubelet, kube-proxy, node Ready, CoreDNS)", Result: fmtS(r.ClusterStart), Baseline: "—", Ratio: "—"},
		{Figure: "kubectl apply -k manifests/overlays/local → 5 pods Ready, one leader", Result: fmtS(r.ApplyToReady), Baseline: "—", Ratio: "—"},
		{Figure: "leader pod deleted: longest time without an acknowledged write through the ClusterIP, p50, " + tr, Result: fmtS(r.PodDeletedGap.P50), Baseline: fmtS(lease) + " (lease duration)", Ratio: durRatio(r.PodDeletedGap.P50, lease)},
		{Figure: "leader pod deleted: longest time without an acknowledged write, p99 (min–max " + fmtS(r.PodDeletedGap.Min) + "–" + fmtS(r.PodDeletedGap.Max) + ")", Result: fmtS(r.PodDeletedGap.P99), Baseline: fmtS(lease) + " (lease duration)", Ratio: durRatio(r.PodDeletedGap.P99, lease)},
		{Figure: "leader pod deleted → first acknowledged write sent after the delete, p50 / p99 (the old leader still serves until its SIGTERM)", Result: fmtS(del.P50) + " / " + fmtS(del.P99), Baseline: "—", Ratio: "—"},
		{Figure: fmt.Sprintf("leader sidecar container killed → first acknowledged write through the ClusterIP, p50, %d trials", len(kill.Samples)), Result: fmtS(kill.P50), Baseline: fmtS(lease) + " (lease duration)", Ratio: durRatio(kill.P50, lease)},
		{Figure: "leader sidecar container killed → first acknowledged write, p99 (min–max " + fmtS(kill.Min) + "–" + fmtS(kill.Max) + ")", Goal: "≤ 2.0 s", Result: fmtS(kill.P99), Baseline: fmtS(lease) + " (lease duration)", Ratio: durRatio(kill.P99, lease), Verdict: verdict(len(kill.Samples) > 0 && kill.P99 <= 2*time.Second)},
		{Figure: "leader sidecar container killed: longest time without an acknowledged write, p50 / p99", Result: fmtS(r.SidecarKilledGap.P50) + " / " + fmtS(r.SidecarKilledGap.P99), Baseline: "—", Ratio: "—"},
	}
	a.Rows = append(a.Rows, rolloutRows(r.RolloutPlugin, r.RolloutBaseline)...)
	a.Reading = nodeReading
	return a
}

// rolloutRows compare whole restarts of the wallet StatefulSet: the
// plugin's against the controller's RollingUpdate, median and worst trial.
func rolloutRows(plugin, baseline []bench.RolloutTrial) []Row {
	if len(plugin) == 0 || len(baseline) == 0 {
		return nil
	}
	pick := func(ts []bench.RolloutTrial, f func(bench.RolloutTrial) time.Duration) bench.Latencies {
		var d []time.Duration
		for _, t := range ts {
			d = append(d, f(t))
		}
		return bench.Summarize(d)
	}
	changes := func(ts []bench.RolloutTrial) (string, bool) {
		var parts []string
		once := true
		for _, t := range ts {
			parts = append(parts, strconv.FormatInt(t.LeaseTransitions, 10))
			once = once && t.LeaseTransitions == 1
		}
		return strings.Join(parts, ", "), once
	}
	failed := func(ts []bench.RolloutTrial) string {
		var parts []string
		for _, t := range ts {
			parts = append(parts, strconv.Itoa(t.Failed))
		}
		return strings.Join(parts, ", ")
	}
	un := func(t bench.RolloutTrial) time.Duration { return t.Unavailable }
	gap := func(t bench.RolloutTrial) time.Duration { return t.LongestGap }
	took := func(t bench.RolloutTrial) time.Duration { return t.Took }
	pu, bu := pick(plugin, un), pick(baseline, un)
	pg, bg := pick(plugin, gap), pick(baseline, gap)
	pt, bt := pick(plugin, took), pick(baseline, took)
	pc, once := changes(plugin)
	bc, _ := changes(baseline)
	tr := fmt.Sprintf("%d trials each", len(plugin))
	return []Row{
		{Figure: "rollout of 3 wallet replicas: leadership changes per trial (`kubectl factom rollout restart`; baseline `kubectl rollout restart`, RollingUpdate), " + tr, Goal: "1", Result: pc, Baseline: bc, Ratio: "—", Verdict: verdict(once)},
		{Figure: "rollout: write unavailability (time in gaps > 0.5 s between acknowledged writes), median / worst", Result: fmtS(pu.P50) + " / " + fmtS(pu.Max), Baseline: fmtS(bu.P50) + " / " + fmtS(bu.Max), Ratio: durRatio(pu.P50, bu.P50)},
		{Figure: "rollout: longest time without an acknowledged write, median / worst", Result: fmtS(pg.P50) + " / " + fmtS(pg.Max), Baseline: fmtS(bg.P50) + " / " + fmtS(bg.Max), Ratio: durRatio(pg.P50, bg.P50)},
		{Figure: "rollout: writes that got an error (the client retried), per trial", Result: failed(plugin), Baseline: failed(baseline), Ratio: "—"},
		{Figure: "rollout: command → every pod replaced and converged, median", Result: fmtS(pt.P50), Baseline: fmtS(bt.P50), Ratio: durRatio(pt.P50, bt.P50)},
	}
}
