package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/bench"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// measureRealProxy starts a real API server and a 3-pod walletd cluster
// with walletd-mode sidecars, and times writes through the leader's proxy
// (walletd + commit to the keystore Secret) against a standalone walletd of
// the same build, and reads through the proxy against the leader's own
// walletd. Calls alternate one by one.
func measureRealProxy(ctx context.Context, dir string, writes, reads int, progress func(string)) (*realProxy, error) {
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return nil, err
	}
	progress("real sidecar: starting etcd, kube-apiserver and 3 walletd pods")
	kube, err := testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		return nil, err
	}
	defer kube.Stop()
	cluster, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{
		Dir: filepath.Join(dir, "cluster"), Sidecar: sidecar,
		// The shipped defaults: the timing and log level an operator runs.
		LeaseDuration: bench.DefaultTiming.LeaseDuration, RenewDeadline: bench.DefaultTiming.RenewDeadline, RetryPeriod: bench.DefaultTiming.RetryPeriod,
		LogLevel: "info",
	})
	if err != nil {
		return nil, err
	}
	defer cluster.Stop()
	leader, err := cluster.Leader(2 * time.Minute)
	if err != nil {
		return nil, fmt.Errorf("real sidecar: %w", err)
	}
	direct, err := testenv.StartWalletd(testenv.WalletdOptions{Dir: filepath.Join(dir, "direct-walletd")})
	if err != nil {
		return nil, err
	}
	defer direct.Stop(5 * time.Second)

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, DisableCompression: true}}
	defer client.CloseIdleConnections()
	// Warm both paths; the first proxied write also waits for promotion
	// to have settled.
	for range 5 {
		if err := bench.Call(ctx, client, leader.ProxyURL(), "generate-ec-address"); err != nil {
			return nil, fmt.Errorf("real sidecar: warm-up write: %w", err)
		}
		if err := bench.Call(ctx, client, direct.URL(), "generate-ec-address"); err != nil {
			return nil, fmt.Errorf("real sidecar: warm-up direct write: %w", err)
		}
	}
	res := &realProxy{Reads: reads, Writes: writes}
	progress(fmt.Sprintf("real sidecar: %d generate-ec-address through the leader's proxy and direct, interleaved", writes))
	d, p, err := bench.Interleave(ctx, direct.URL(), leader.ProxyURL(), "generate-ec-address", writes)
	if err != nil {
		return nil, err
	}
	res.WriteDirect, res.WriteProxy = bench.ProxyLatencies(d), bench.ProxyLatencies(p)
	res.WriteOverheadP99 = res.WriteProxy.P99 - res.WriteDirect.P99
	// Reads are timed twice: with this process, the leader's sidecar and
	// its walletd sharing one core (the goal's figure, as for /readyz), and
	// with every process free to use any core.
	progress(fmt.Sprintf("real sidecar: %d properties through the leader's proxy and direct, interleaved, on one core", reads))
	unpin, pinned := bench.PinToOneCore(leader.Sidecar.Pid(), leader.Walletd.Pid())
	d, p, err = bench.Interleave(ctx, leader.Walletd.URL(), leader.ProxyURL(), "properties", reads)
	unpin()
	if err != nil {
		return nil, err
	}
	res.ReadOneCore = pinned
	res.ReadDirect, res.ReadProxy = bench.ProxyLatencies(d), bench.ProxyLatencies(p)
	res.ReadOverP99 = res.ReadProxy.P99 - res.ReadDirect.P99
	if pinned {
		progress("real sidecar: the same reads with every process on any core")
		d, p, err = bench.Interleave(ctx, leader.Walletd.URL(), leader.ProxyURL(), "properties", reads)
		if err != nil {
			return nil, err
		}
		res.SpreadReadDirect, res.SpreadReadProxy = bench.ProxyLatencies(d), bench.ProxyLatencies(p)
	}
	return res, nil
}
