package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/server"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// ProxyOptions sizes the write-gating proxy benchmark.
type ProxyOptions struct {
	// Reads is how many reads go to walletd directly and as many through
	// the proxy (default 2,000 each).
	Reads int
	// ReadMethod is the read measured (default "properties").
	ReadMethod string
	// Writes is how many generate-ec-address go direct and as many through
	// the proxy (default 200 each; each is a walletd disk sync).
	Writes int
	// Dir holds walletd's files (default a temporary directory, removed after).
	Dir string
	// Progress gets one line per phase (optional).
	Progress func(string)
}

// ProxyResults holds the measured figures. Direct and proxied calls are
// interleaved one by one in the same run, so both see the same machine load.
type ProxyResults struct {
	Reads      int
	ReadMethod string
	ReadDirect ProxyLatency
	ReadProxy  ProxyLatency
	// ReadOverhead is proxied minus direct, per percentile.
	ReadOverheadP50, ReadOverheadP99 time.Duration

	Writes      int
	WriteDirect ProxyLatency
	// WriteProxy: the gate, the write lock, walletd and a Committer that
	// does nothing (the replicated store's commit adds its own cost).
	WriteProxy                         ProxyLatency
	WriteOverheadP50, WriteOverheadP99 time.Duration
}

func (o *ProxyOptions) defaults() {
	orDefault(&o.Reads, 2000)
	if o.ReadMethod == "" {
		o.ReadMethod = "properties"
	}
	orDefault(&o.Writes, 200)
	quiet(&o.Progress)
}

// Fakes for the proxy's collaborators: this replica is the leader, in sync,
// and commits cost nothing.
type benchGate struct{}

func (benchGate) BeginWrite(context.Context) (int64, func(), error) { return 1, func() {}, nil }

type benchCommitter struct{}

func (benchCommitter) Prepare(context.Context, int64) error { return nil }

func (benchCommitter) Commit(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
	return nil
}

func (benchCommitter) Abort(context.Context, int64, string, bool) error { return nil }

type benchInSync struct{}

func (benchInSync) InSync() bool { return true }

// Interleave calls method n times on each URL, alternating which goes
// first, and returns both series of latencies. cmd/bench uses it for the
// real sidecar too, so both proxy figures are timed the same way. Calls go
// over one keep-alive connection per URL with the minimal client of the
// /readyz load (rawGet), which adds no hand-offs between goroutines and no
// garbage of its own. (The garbage collector stays on: the harness proxy
// under test runs in this process.)
func Interleave(ctx context.Context, direct, proxied, method string, n int) ([]time.Duration, []time.Duration, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `"}`
	var clients [2]*rawGet
	for i, u := range []string{direct, proxied} {
		g, err := newRawRequest(http.MethodPost, u, body, 30*time.Second)
		if err != nil {
			return nil, nil, fmt.Errorf("proxy bench: %w", err)
		}
		g.keepBody = true
		defer g.Close()
		clients[i] = g
	}
	lat := [2][]time.Duration{make([]time.Duration, 0, n), make([]time.Duration, 0, n)}
	timed := func(i int) error {
		g := clients[i]
		start := time.Now()
		status, err := g.Do()
		d := time.Since(start)
		if err == nil && (status != http.StatusOK || !bytes.Contains(g.body, []byte(`"result"`))) {
			// The body is not quoted: it may hold keys.
			err = fmt.Errorf("HTTP %d, no result", status)
		}
		if err != nil {
			return fmt.Errorf("proxy bench: %s %s: %w", method, g.addr, err)
		}
		lat[i] = append(lat[i], d)
		return nil
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		first := i % 2
		if err := timed(first); err != nil {
			return nil, nil, err
		}
		if err := timed(1 - first); err != nil {
			return nil, nil, err
		}
	}
	return lat[0], lat[1], nil
}

// Call makes one JSON-RPC call and checks that it returned a result. The
// error never carries the response body (it may hold keys).
func Call(ctx context.Context, c *http.Client, url, method string) error {
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
		return fmt.Errorf("HTTP %d, no result", resp.StatusCode)
	}
	return nil
}

// MeasureProxy starts a real walletd (bin/test-walletd) and the proxy in
// front of it, and measures reads and writes direct and through the proxy.
func MeasureProxy(ctx context.Context, opts ProxyOptions) (ProxyResults, error) {
	opts.defaults()
	b := &proxyBench{opts: opts}
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return b.summary(), fmt.Errorf("proxy bench: %w", err)
	}
	err := b.trials(ctx)
	return b.summary(), err
}

// proxyBench is one run of the proxy benchmark: setup starts walletd and
// the proxy and warms both paths, trials takes the interleaved series,
// summary gives the figures.
type proxyBench struct {
	closers
	opts            ProxyOptions
	client          *http.Client
	direct, proxied string // walletd's and the proxy's /v2

	readsDirect, readsProxied   []time.Duration
	writesDirect, writesProxied []time.Duration
}

func (b *proxyBench) setup(ctx context.Context) error {
	dir, err := b.workDir(b.opts.Dir, "bench-proxy-")
	if err != nil {
		return err
	}

	// walletd asks factomd for the EC rate on some calls; a port this
	// process owns answers at once.
	factomd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"no factomd in this benchmark"}}`)
	}))
	b.onClose(factomd.Close)

	bin, err := testenv.Binary("test-walletd")
	if err != nil {
		return err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	walletdURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	proc, err := testenv.Start("walletd", bin, []string{
		"-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"-wallet", filepath.Join(dir, "bench.db"),
		"-factomd", factomd.Listener.Addr().String(),
	}, nil, filepath.Join(dir, "walletd.log"))
	if err != nil {
		return err
	}
	b.onClose(func() { proc.Stop(5 * time.Second) })

	b.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, DisableCompression: true},
	}
	b.direct = walletdURL + "/v2"
	err = testenv.Eventually(20*time.Second, 20*time.Millisecond, func() (bool, error) {
		if proc.Exited() {
			return false, errors.New("walletd exited: " + strings.ReplaceAll(testenv.Tail(proc.Logs(), 500), "\n", " | "))
		}
		return Call(ctx, b.client, b.direct, "properties") == nil, nil
	})
	if err != nil {
		return fmt.Errorf("walletd: %w", err)
	}

	p, err := proxy.New(proxy.Options{
		WalletdURL: walletdURL,
		Gate:       benchGate{},
		Committer:  benchCommitter{},
		ReadGate:   benchInSync{},
		Log:        zerolog.Nop(),
	})
	if err != nil {
		return err
	}
	l, err := server.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(srvCtx, server.New(p, p.MaxRequestDuration()+5*time.Second), l, 5*time.Second)
	}()
	b.onClose(func() { stop(); <-served })
	b.proxied = "http://" + l.Addr().String() + "/v2"

	// Warm both paths (connections, walletd's caches) before measuring.
	for range 50 {
		if err := Call(ctx, b.client, b.direct, b.opts.ReadMethod); err != nil {
			return fmt.Errorf("warm-up direct: %w", err)
		}
		if err := Call(ctx, b.client, b.proxied, b.opts.ReadMethod); err != nil {
			return fmt.Errorf("warm-up proxied: %w", err)
		}
	}
	return nil
}

func (b *proxyBench) trials(ctx context.Context) error {
	var err error
	b.opts.Progress(fmt.Sprintf("proxy: %d %s direct and through the proxy, interleaved", b.opts.Reads, b.opts.ReadMethod))
	if b.readsDirect, b.readsProxied, err = Interleave(ctx, b.direct, b.proxied, b.opts.ReadMethod, b.opts.Reads); err != nil {
		return err
	}
	b.opts.Progress(fmt.Sprintf("proxy: %d generate-ec-address direct and through the proxy, interleaved", b.opts.Writes))
	b.writesDirect, b.writesProxied, err = Interleave(ctx, b.direct, b.proxied, "generate-ec-address", b.opts.Writes)
	return err
}

func (b *proxyBench) summary() ProxyResults {
	res := ProxyResults{Reads: b.opts.Reads, ReadMethod: b.opts.ReadMethod, Writes: b.opts.Writes}
	res.ReadDirect, res.ReadProxy = ProxyLatencies(b.readsDirect), ProxyLatencies(b.readsProxied)
	res.ReadOverheadP50 = res.ReadProxy.P50 - res.ReadDirect.P50
	res.ReadOverheadP99 = res.ReadProxy.P99 - res.ReadDirect.P99
	res.WriteDirect, res.WriteProxy = ProxyLatencies(b.writesDirect), ProxyLatencies(b.writesProxied)
	res.WriteOverheadP50 = res.WriteProxy.P50 - res.WriteDirect.P50
	res.WriteOverheadP99 = res.WriteProxy.P99 - res.WriteDirect.P99
	return res
}
