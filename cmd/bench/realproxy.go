package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/bench"
	"github.com/factom-sidecar/factom-sidecar/internal/testenv"
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
	cluster, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{Dir: filepath.Join(dir, "cluster"), Sidecar: sidecar})
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
		if err := rpcCall(ctx, client, leader.ProxyURL(), "generate-ec-address"); err != nil {
			return nil, fmt.Errorf("real sidecar: warm-up write: %w", err)
		}
		if err := rpcCall(ctx, client, direct.URL(), "generate-ec-address"); err != nil {
			return nil, fmt.Errorf("real sidecar: warm-up direct write: %w", err)
		}
	}
	res := &realProxy{Reads: reads, Writes: writes}
	progress(fmt.Sprintf("real sidecar: %d generate-ec-address through the leader's proxy and direct, interleaved", writes))
	d, p, err := alternate(ctx, client, direct.URL(), leader.ProxyURL(), "generate-ec-address", writes)
	if err != nil {
		return nil, err
	}
	res.WriteDirect, res.WriteProxy = latency(d), latency(p)
	res.WriteOverheadP99 = res.WriteProxy.P99 - res.WriteDirect.P99
	progress(fmt.Sprintf("real sidecar: %d properties through the leader's proxy and direct, interleaved", reads))
	d, p, err = alternate(ctx, client, leader.Walletd.URL(), leader.ProxyURL(), "properties", reads)
	if err != nil {
		return nil, err
	}
	res.ReadDirect, res.ReadProxy = latency(d), latency(p)
	res.ReadOverP99 = res.ReadProxy.P99 - res.ReadDirect.P99
	return res, nil
}

func alternate(ctx context.Context, c *http.Client, direct, proxied, method string, n int) ([]time.Duration, []time.Duration, error) {
	var d, p []time.Duration
	timed := func(url string, into *[]time.Duration) error {
		t0 := time.Now()
		if err := rpcCall(ctx, c, url, method); err != nil {
			return fmt.Errorf("real sidecar: %s: %w", method, err)
		}
		*into = append(*into, time.Since(t0))
		return nil
	}
	for i := range n {
		first, second := func() error { return timed(direct, &d) }, func() error { return timed(proxied, &p) }
		if i%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return nil, nil, err
		}
		if err := second(); err != nil {
			return nil, nil, err
		}
	}
	return d, p, nil
}

// rpcCall makes one JSON-RPC call and checks that it returned a result. The
// error never carries the response body (it may hold keys).
func rpcCall(ctx context.Context, c *http.Client, url, method string) error {
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"result"`)) {
		return fmt.Errorf("HTTP %d without a result", resp.StatusCode)
	}
	return nil
}

// latency is nearest-rank p50/p99/max.
func latency(s []time.Duration) bench.ProxyLatency {
	if len(s) == 0 {
		return bench.ProxyLatency{}
	}
	sorted := append([]time.Duration(nil), s...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	rank := func(p float64) time.Duration {
		r := int(float64(len(sorted))*p+0.999999) - 1
		return sorted[max(0, min(r, len(sorted)-1))]
	}
	return bench.ProxyLatency{P50: rank(0.50), P99: rank(0.99), Max: sorted[len(sorted)-1]}
}
