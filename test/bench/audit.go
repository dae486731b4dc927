package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// AuditOptions configures MeasureAudit.
type AuditOptions struct {
	// Dir holds every process's files.
	Dir string
	// Writers are the parallel writer counts of the throughput runs (1, 8).
	Writers []int
	// Rounds and Block: each throughput figure is Rounds blocks of Block
	// per path, the paths taking turns.
	Rounds int
	Block  time.Duration
	// LatencyCalls is how many compose-entry calls each path gets in the
	// latency run.
	LatencyCalls int
	// BlockTime is the factomd LOCAL network's -blktime in seconds.
	BlockTime int
	Progress  func(string)
}

// AuditRate is one throughput run.
type AuditRate struct {
	Writers  int
	Entries  int // acknowledged: factomd accepted the reveal (or, compose-only, walletd composed)
	Errors   int
	Took     time.Duration
	PerSec   float64
	FirstErr string
}

// AuditPaths are the same writers on the three paths.
type AuditPaths struct {
	Direct, Proxy1, Proxy3 AuditRate
}

// AuditResults are the audit-log figures.
type AuditResults struct {
	// EndToEnd: compose-entry, then commit-entry and reveal-entry to
	// factomd; one entry per loop. Per writer count.
	EndToEnd []AuditPaths
	// Compose: compose-entry alone, at the most writers.
	Compose AuditPaths
	// Accepted entries of every end-to-end run, and how many of them were
	// found in saved entry blocks of the chain afterwards (each once).
	Accepted, OnChain, Duplicates int
	// Latency of compose-entry, direct to the leader's walletd and through
	// the leader's proxy, interleaved, while a keystore write loop runs
	// through the same proxy.
	LatencyCalls        int
	LatDirect, LatProxy ProxyLatency
	OverheadP99         time.Duration
	// Writes the loop made meanwhile, and their latency (what a compose
	// queued behind the write lock would wait for).
	LoopWrites int
	LoopWrite  ProxyLatency
	// Compose calls slower than the loop's median write, per path: a
	// compose queued behind the write lock would wait about that long.
	SlowDirect, SlowProxy int
}

// MeasureAudit runs the audit-log path of an application on a real factomd
// LOCAL network and a 3-pod walletd cluster with walletd-mode sidecars on a
// real API server. "Direct" is the leader pod's own walletd; "proxy, one
// replica" is the leader's proxy; "proxy, three replicas" spreads the
// writers over every pod's proxy, as the factom-wallet-read Service does.
func MeasureAudit(ctx context.Context, opts AuditOptions) (AuditResults, error) {
	quiet(&opts.Progress)
	b := &auditBench{opts: opts, progress: opts.Progress}
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return b.res, err
	}
	if err := b.trials(ctx); err != nil {
		return b.res, err
	}
	err := b.summary(ctx)
	return b.res, err
}

// auditBench is one run of the audit-log benchmark: setup starts factomd,
// the API server and the pods and funds a chain, trials writes entries on
// the three paths and times compose-entry, summary checks that every
// acknowledged entry is on the chain.
type auditBench struct {
	closers
	opts     AuditOptions
	progress func(string)
	res      AuditResults

	node     *testenv.Factomd
	leader   *testenv.WalletPod
	proxies  []string // every pod's proxy
	w        auditWriters
	accepted []string // hashes of the entries factomd accepted
}

func (b *auditBench) setup(ctx context.Context) error {
	opts := b.opts
	sidecar, err := testenv.BuildSidecarBinary(opts.Dir)
	if err != nil {
		return err
	}
	b.progress("audit: starting factomd (LOCAL), etcd, kube-apiserver and 3 walletd pods")
	node, err := testenv.StartFactomd("factomd", testenv.FactomdOptions{Dir: opts.Dir, BlockTime: opts.BlockTime})
	if err != nil {
		return err
	}
	b.node = node
	b.onClose(func() { node.Stop(10 * time.Second) })
	kube, err := testenv.StartKube(filepath.Join(opts.Dir, "kube"))
	if err != nil {
		return err
	}
	b.onClose(kube.Stop)
	cluster, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{
		Dir: filepath.Join(opts.Dir, "cluster"), Sidecar: sidecar, Factomd: strings.TrimPrefix(node.URL(), "http://"),
		LeaseDuration: DefaultTiming.LeaseDuration, RenewDeadline: DefaultTiming.RenewDeadline, RetryPeriod: DefaultTiming.RetryPeriod,
		LogLevel: "info",
	})
	if err != nil {
		return err
	}
	b.onClose(cluster.Stop)
	if b.leader, err = cluster.Leader(2 * time.Minute); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, p := range cluster.Pods {
		b.proxies = append(b.proxies, p.ProxyURL())
	}

	setup, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b.progress("audit: buying entry credits through the leader's proxy and creating a chain")
	ec, err := testenv.NewFundedECAddress(setup, b.leader.ProxyURL(), node.URL(), 200_000)
	if err != nil {
		return fmt.Errorf("audit: fund: %w", err)
	}
	chain, err := testenv.CreateChain(setup, b.leader.ProxyURL(), node.URL(), ec, []byte("benchmark audit log"), []byte("audit"), []byte(time.Now().Format(time.RFC3339Nano)))
	if err != nil {
		return fmt.Errorf("audit: chain: %w", err)
	}
	// Every replica must hold the EC key before it composes.
	if err := waitComposes(setup, b.proxies, ec, chain); err != nil {
		return err
	}
	b.w = auditWriters{factomd: node.URL(), ec: ec, chain: chain}
	return nil
}

// trials runs the throughput runs (end to end per writer count, then
// compose only) and the compose-entry latency run.
func (b *auditBench) trials(ctx context.Context) error {
	for _, n := range b.opts.Writers {
		b.res.EndToEnd = append(b.res.EndToEnd, b.throughput(ctx, "end to end", n, true))
	}
	b.res.Compose = b.throughput(ctx, "compose only", b.opts.Writers[len(b.opts.Writers)-1], false)

	b.progress(fmt.Sprintf("audit: compose-entry latency, %d calls each path, with a keystore write loop on the leader", b.opts.LatencyCalls))
	return b.w.latency(ctx, &b.res, b.leader.Walletd.URL(), b.leader.ProxyURL(), b.opts.LatencyCalls)
}

// throughput runs writers on the three paths. The paths take turns in
// short blocks, so a change in the machine's load falls on all three alike.
func (b *auditBench) throughput(ctx context.Context, name string, writers int, submit bool) AuditPaths {
	opts := b.opts
	paths := [][]string{{b.leader.Walletd.URL()}, {b.leader.ProxyURL()}, b.proxies}
	b.progress(fmt.Sprintf("audit: %s, %d writer(s), %d rounds of %s per path", name, writers, opts.Rounds, opts.Block))
	var sum [3]AuditRate
	for round := range opts.Rounds {
		for k := range paths {
			i := (k + round) % len(paths)
			r, hashes := b.w.run(ctx, paths[i], writers, opts.Block, submit, fmt.Sprintf("%s/%d/%d", name, round, i))
			b.accepted = append(b.accepted, hashes...)
			sum[i] = sum[i].add(r)
		}
	}
	return AuditPaths{Direct: sum[0], Proxy1: sum[1], Proxy3: sum[2]}
}

// summary checks that the acknowledged entries are on the chain, each once.
func (b *auditBench) summary(ctx context.Context) error {
	res, accepted := &b.res, b.accepted
	b.progress(fmt.Sprintf("audit: checking that the %d acknowledged entries are on the chain", len(accepted)))
	check, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	entries, err := testenv.WaitOnChain(check, b.node.URL(), b.w.chain, accepted)
	res.Accepted = len(accepted)
	count := map[string]int{}
	for _, e := range entries {
		count[e.Hash]++
	}
	for _, h := range accepted {
		if count[h] > 0 {
			res.OnChain++
		}
		if count[h] > 1 {
			res.Duplicates++
		}
	}
	if err != nil {
		return fmt.Errorf("audit: %d of %d acknowledged entries on the chain: %w", res.OnChain, res.Accepted, err)
	}
	return nil
}

// add sums two runs of the same writers.
func (r AuditRate) add(o AuditRate) AuditRate {
	r.Writers = o.Writers
	r.Entries += o.Entries
	r.Errors += o.Errors
	r.Took += o.Took
	if r.FirstErr == "" {
		r.FirstErr = o.FirstErr
	}
	if r.Took > 0 {
		r.PerSec = float64(r.Entries) / r.Took.Seconds()
	}
	return r
}

// waitComposes waits until every proxy composes an entry for ec: each
// follower has replayed the EC key and is in sync.
func waitComposes(ctx context.Context, proxies []string, ec, chain string) error {
	for _, u := range proxies {
		var last error
		err := testenv.Eventually(time.Minute, 100*time.Millisecond, func() (bool, error) {
			_, last = testenv.ComposeEntry(ctx, u, ec, chain, []byte("probe"))
			return last == nil, last
		})
		if err != nil {
			return fmt.Errorf("audit: %s never composed: %w", u, err)
		}
	}
	return nil
}

type auditWriters struct {
	factomd, ec, chain string
}

// run lets writers write for d, writer i through urls[i%len(urls)], and
// returns the rate and the hashes of the entries factomd accepted.
func (a auditWriters) run(ctx context.Context, urls []string, writers int, d time.Duration, submit bool, tag string) (AuditRate, []string) {
	r := AuditRate{Writers: writers}
	var mu sync.Mutex
	var hashes []string
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	stamp := start.UnixNano()
	for i := range writers {
		url := urls[i%len(urls)]
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				content := fmt.Appendf(nil, "%s #%d/%d at %d", tag, i, n, stamp)
				c, err := testenv.ComposeEntry(ctx, url, a.ec, a.chain, content, []byte("bench"))
				h := ""
				if err == nil && submit {
					h, err = c.Submit(ctx, a.factomd)
				}
				mu.Lock()
				if err != nil {
					r.Errors++
					if r.FirstErr == "" {
						r.FirstErr = err.Error()
					}
				} else {
					r.Entries++
					if h != "" {
						hashes = append(hashes, h)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Took = time.Since(start)
	r.PerSec = float64(r.Entries) / r.Took.Seconds()
	return r, hashes
}

// latency times compose-entry direct and through the proxy, alternating
// which goes first, while a keystore write loop holds the proxy's write
// lock for most of the time.
func (a auditWriters) latency(ctx context.Context, res *AuditResults, direct, proxied string, n int) error {
	loopCtx, stop := context.WithCancel(ctx)
	var loop []time.Duration
	var loopErr error
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	wg.Go(func() {
		for loopCtx.Err() == nil {
			t0 := time.Now()
			if err := Call(loopCtx, client, proxied, "generate-ec-address"); err != nil {
				if loopCtx.Err() == nil {
					loopErr = err
				}
				return
			}
			loop = append(loop, time.Since(t0))
		}
	})
	d, p := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	var err error
	for i := 0; i < n && err == nil; i++ {
		first, second := direct, proxied
		if i%2 == 1 {
			first, second = proxied, direct
		}
		for _, u := range []string{first, second} {
			t0 := time.Now()
			if _, err = testenv.ComposeEntry(ctx, u, a.ec, a.chain, []byte("latency"), []byte("bench")); err != nil {
				break
			}
			if u == direct {
				d = append(d, time.Since(t0))
			} else {
				p = append(p, time.Since(t0))
			}
		}
	}
	stop()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("audit: latency: %w", err)
	}
	if loopErr != nil {
		return fmt.Errorf("audit: keystore write loop: %w", loopErr)
	}
	res.LatencyCalls = len(p)
	res.LatDirect, res.LatProxy = ProxyLatencies(d), ProxyLatencies(p)
	res.OverheadP99 = res.LatProxy.P99 - res.LatDirect.P99
	res.LoopWrites, res.LoopWrite = len(loop), ProxyLatencies(loop)
	for i := range p {
		if p[i] > res.LoopWrite.P50 {
			res.SlowProxy++
		}
		if d[i] > res.LoopWrite.P50 {
			res.SlowDirect++
		}
	}
	return nil
}
