package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/faults/history"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Env is what every schedule shares: the API server and the sidecar binary.
type Env struct {
	Kube    *testenv.Kube
	Sidecar string
}

// Options configure one schedule.
type Options struct {
	Dir     string
	Plan    Plan
	Clients int
	// LeaseDuration, RenewDeadline and RetryPeriod of the sidecars.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// SyncTimeout bounds the wait for every replica to be in sync after
	// the faults are healed.
	SyncTimeout time.Duration
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

// Result is what one schedule did and found.
type Result struct {
	Seed       uint64
	Faults     map[FaultKind]int
	Clients    map[ClientKind]int // writes sent, by client kind
	Skipped    int                // steps with no eligible target (e.g. its pod already down)
	Summary    history.Summary
	Violations []history.Violation
	// Err is a failure of the run itself (the cluster did not start, or did
	// not converge after healing): as much a finding as a violation.
	Err error
}

// Strict makes leftovers of uncommitted writes (history.RuleLeftover)
// count as violations (the default: after convergence every replica must
// hold exactly the keys the Secret accounts for); off, they are reported
// and counted apart.
var Strict = true

// Broken is the violations that fail a schedule.
func (r Result) Broken() []history.Violation {
	var out []history.Violation
	for _, v := range r.Violations {
		if Strict || v.Rule != history.RuleLeftover {
			out = append(out, v)
		}
	}
	return out
}

// Leftovers counts divergences explained by uncommitted writes.
func (r Result) Leftovers() int { return len(r.Violations) - len(r.Broken()) }

// Failed reports whether the schedule found anything.
func (r Result) Failed() bool { return r.Err != nil || len(r.Broken()) > 0 }

// schedule is one run in progress.
type schedule struct {
	env     Env
	opts    Options
	cs      kubernetes.Interface
	cluster *testenv.Cluster
	proxies []*testenv.TCPProxy
	// walletdProxies sit between each pod's sidecar and its walletd, to
	// slow walletd's answers.
	walletdProxies map[int]*testenv.TCPProxy
	// advertised are the TCP proxies each pod's sidecar advertises as its
	// probe and proxy addresses (made anew at each sidecar start), so
	// their ports can refuse while the sidecar lives.
	advertised map[int][]*testenv.TCPProxy
	router     *Router
	res        *Result

	// Pod faults in progress, by pod index; apiDown while the API server is
	// stopped.
	busy      map[int]FaultKind
	apiDown   bool
	walletdMu sync.Mutex
	heals     []heal
}

type heal struct {
	at   time.Duration
	what string
	do   func() error
}

// Run executes one schedule: start the cluster, write and inject faults
// for the plan's duration, heal, wait for every replica to be in sync,
// read every replica's keystore and check the history.
func Run(ctx context.Context, env Env, opts Options) (res Result) {
	res = Result{Seed: opts.Plan.Seed, Faults: map[FaultKind]int{}}
	if opts.Clients == 0 {
		opts.Clients = 3
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	}
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = 2 * time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	cs, err := env.Kube.Clientset()
	if err != nil {
		res.Err = err
		return res
	}
	s := &schedule{env: env, opts: opts, cs: cs, res: &res, busy: map[int]FaultKind{}, walletdProxies: map[int]*testenv.TCPProxy{},
		advertised: map[int][]*testenv.TCPProxy{}}
	defer s.teardown()
	began := time.Now()
	if err := s.start(ctx); err != nil {
		res.Err = fmt.Errorf("start: %w", err)
		return res
	}
	opts.Logf("cluster up with a labelled leader in %s", time.Since(began).Round(time.Millisecond))

	rec := &history.Recorder{}
	writer := NewWriter(s.router, rec, 15*time.Second)
	wctx, stopWriters := context.WithCancel(ctx)
	var writers sync.WaitGroup
	for i := range opts.Clients {
		c := writer.NewClient(opts.Plan.Seed, i)
		writers.Go(func() { c.Run(wctx) })
	}

	s.inject(ctx, writer, &writers)
	// Heal first, then let the writers finish what they have in flight.
	if err := s.healAll(); err != nil {
		res.Err = fmt.Errorf("heal: %w", err)
	}
	stopWriters()
	writers.Wait()
	if res.Err != nil {
		return res
	}

	opts.Logf("healed; waiting for every replica to be in sync")
	finals, err := s.converge(ctx)
	if err != nil {
		res.Err = err
		// Still check what needs no final state (terms, double issues).
		finals = nil
	}
	res.Violations, res.Summary = history.Check(rec.Ops(), finals)
	res.Clients = writer.kinds.snapshot()
	// No secret in any process's output: the sidecars', walletd-init's and
	// walletd's own (walletd prints the params of most calls).
	for _, f := range finals {
		writer.secrets.add(f.Seed)
	}
	// Nor the keystore's sealing key, in any of its text forms.
	if raw, err := os.ReadFile(s.cluster.KeyFile); err == nil {
		writer.secrets.AddKey(raw)
	}
	var dirs []string
	for _, p := range s.cluster.Pods {
		dirs = append(dirs, p.Dir)
	}
	res.Violations = append(res.Violations, writer.secrets.scanLogs(dirs)...)
	if res.Failed() {
		for _, op := range rec.Ops() {
			opts.Logf("op %s", opLine(op))
		}
	}
	return res
}

func opLine(op history.Op) string {
	term := "-"
	if op.TermKnown {
		term = fmt.Sprint(op.Term)
	}
	outcome := "ack"
	switch {
	case !op.Acked && op.Refused:
		outcome = "refused"
	case !op.Acked:
		outcome = "indeterminate"
	}
	return fmt.Sprintf("%d c%d %s %s %s..%s %s term=%s key=%s %s", op.ID, op.Client, op.Method, op.Replica,
		op.Start.Format("15:04:05.000"), op.End.Format("15:04:05.000"), outcome, term, op.Key, op.Err)
}

// start resets the keystore Secret, the Lease and the role labels left by
// an earlier schedule, then starts three pods, each behind its own TCP proxy
// to the API server.
func (s *schedule) start(ctx context.Context) error {
	ns := testenv.KubeTestNamespace
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = s.cs.CoreV1().Secrets(ns).Delete(dctx, "factom-wallet-keystore", metav1.DeleteOptions{})
	_ = s.cs.CoordinationV1().Leases(ns).Delete(dctx, "factom-walletd-leader", metav1.DeleteOptions{})
	for i := range 3 {
		patch := []byte(`{"metadata":{"labels":{"` + leader.RoleLabel + `":null}}}`)
		_, _ = s.cs.CoreV1().Pods(ns).Patch(dctx, testenv.PodName(i), types.MergePatchType, patch, metav1.PatchOptions{})
	}
	target := strings.TrimPrefix(s.env.Kube.Host(), "https://")
	for range 3 {
		p, err := testenv.StartTCPProxy(target)
		if err != nil {
			return err
		}
		s.proxies = append(s.proxies, p)
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	c, err := testenv.StartCluster(sctx, s.env.Kube, testenv.ClusterOptions{
		Dir: s.opts.Dir, Sidecar: s.env.Sidecar, Pods: 3,
		LeaseDuration: s.opts.LeaseDuration, RenewDeadline: s.opts.RenewDeadline, RetryPeriod: s.opts.RetryPeriod,
		APIServer:   func(pod int) string { return s.proxies[pod].Addr() },
		Walletd:     s.walletdAddr,
		SidecarArgs: s.advertiseArgs,
	})
	if err != nil {
		return err
	}
	s.cluster = c
	s.router = NewRouter(s.cs, ns)
	for _, p := range c.Pods {
		s.router.SetURL(p.Name, p.ProxyURL())
	}
	if _, err := c.Leader(60 * time.Second); err != nil {
		return err
	}
	go s.router.Run(ctx, 100*time.Millisecond)
	return testenv.Eventually(30*time.Second, 50*time.Millisecond, func() (bool, error) {
		if !s.router.HasEndpoint() {
			return false, errors.New("no pod labelled leader yet")
		}
		return true, nil
	})
}

// walletdAddr is the address pod's sidecar reaches its walletd at: a TCP
// proxy in front of it, made the first time (walletd keeps its port).
func (s *schedule) walletdAddr(pod int, addr string) string {
	s.walletdMu.Lock()
	defer s.walletdMu.Unlock()
	if p, ok := s.walletdProxies[pod]; ok {
		return p.Addr()
	}
	p, err := testenv.StartTCPProxy(addr)
	if err != nil {
		s.opts.Logf("walletd proxy for pod %d: %v; the sidecar talks to walletd directly", pod, err)
		return addr
	}
	s.walletdProxies[pod] = p
	return p.Addr()
}

// advertiseArgs puts TCP proxies in front of a starting sidecar's probe and
// proxy ports and makes it advertise them.
func (s *schedule) advertiseArgs(p *testenv.WalletPod) []string {
	var args []string
	var made []*testenv.TCPProxy
	for _, f := range []struct{ flag, target string }{{"--advertise-address", p.Listen}, {"--advertise-proxy-address", p.ProxyAddr}} {
		tp, err := testenv.StartTCPProxyAvoiding(f.target, p.Listen, p.ProxyAddr)
		if err != nil {
			s.opts.Logf("advertise proxy for %s: %v; it advertises its own address", p.Name, err)
			continue
		}
		made = append(made, tp)
		args = append(args, f.flag, tp.Addr())
	}
	s.walletdMu.Lock()
	for _, old := range s.advertised[p.Index] {
		old.Close()
	}
	s.advertised[p.Index] = made
	s.walletdMu.Unlock()
	return args
}

// refuseAdvertised makes the pod's advertised ports refuse connections
// (reopen: accept again).
func (s *schedule) refuseAdvertised(pod int, reopen bool) error {
	s.walletdMu.Lock()
	defer s.walletdMu.Unlock()
	for _, tp := range s.advertised[pod] {
		if !reopen {
			tp.Refuse()
		} else if err := tp.Reopen(); err != nil {
			return err
		}
	}
	return nil
}

func (s *schedule) teardown() {
	if s.cluster != nil {
		s.cluster.Stop()
	}
	if s.apiDown {
		_ = s.env.Kube.StartAPIServer()
	}
	for _, p := range s.proxies {
		p.Close()
	}
	s.walletdMu.Lock()
	for _, ps := range s.advertised {
		for _, p := range ps {
			p.Close()
		}
	}
	s.walletdMu.Unlock()
	for _, p := range s.walletdProxies {
		p.Close()
	}
}

// inject walks the plan: each step at its time, each heal when due.
func (s *schedule) inject(ctx context.Context, w *Writer, writers *sync.WaitGroup) {
	begin := time.Now()
	steps := s.opts.Plan.Steps
	for {
		// The next event: a due heal or the next step.
		next := s.opts.Plan.Duration
		if len(steps) > 0 {
			next = steps[0].At
		}
		sort.SliceStable(s.heals, func(i, j int) bool { return s.heals[i].at < s.heals[j].at })
		if len(s.heals) > 0 && s.heals[0].at < next {
			next = s.heals[0].at
		}
		sleepCtx(ctx, time.Until(begin.Add(next)))
		if ctx.Err() != nil {
			return
		}
		now := time.Since(begin)
		for len(s.heals) > 0 && s.heals[0].at <= now {
			h := s.heals[0]
			s.heals = s.heals[1:]
			if err := h.do(); err != nil {
				s.opts.Logf("heal %s: %v", h.what, err)
			}
		}
		if len(steps) > 0 && steps[0].At <= now {
			s.apply(steps[0], now, w, writers)
			steps = steps[1:]
			continue
		}
		if len(steps) == 0 && now >= s.opts.Plan.Duration {
			return
		}
	}
}

// healAll ends every fault still in progress: the API server first (a pod
// restart needs it), then the rest.
func (s *schedule) healAll() error {
	var errs []error
	if err := s.startAPI(); err != nil {
		errs = append(errs, fmt.Errorf("start the API server: %w", err))
	}
	for _, h := range s.heals {
		if err := h.do(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.what, err))
		}
	}
	s.heals = nil
	return errors.Join(errs...)
}

// converge waits for sync and reads every replica's final keystore,
// again until every replica's walletd holds the same keys or SyncTimeout
// runs out. In sync is what the sidecars report, and a leader reports it
// while a write is still in flight to its walletd: a write whose answer
// walletd delayed past the client's timeout is taken back only once the
// sidecar's own wait for it ends, which can be just after the client's.
// The claim checked is that the replicas converge, so the last read is
// the one judged.
func (s *schedule) converge(ctx context.Context) ([]history.Final, error) {
	start := time.Now()
	var finals []history.Final
	var readErr error
	err := testenv.Eventually(s.opts.SyncTimeout, 500*time.Millisecond, func() (bool, error) {
		if err := s.waitInSync(); err != nil {
			readErr = fmt.Errorf("after healing, the replicas did not converge: %w", err)
			return false, readErr
		}
		f, err := s.finals(ctx)
		if err != nil {
			readErr = fmt.Errorf("final keystores: %w", err)
			return false, readErr
		}
		finals, readErr = f, nil
		return sameKeys(f), errors.New("the replicas' walletds hold different keys")
	})
	if readErr != nil {
		return nil, readErr
	}
	if err != nil {
		// Judged as read: the checker names the keys that differ.
		s.opts.Logf("replicas still differ %s after healing", time.Since(start).Round(time.Millisecond))
		return finals, nil
	}
	s.opts.Logf("in sync after %s", time.Since(start).Round(time.Millisecond))
	return finals, nil
}

// sameKeys reports whether every replica holds the same seed and keys.
func sameKeys(finals []history.Final) bool {
	if len(finals) == 0 {
		return true
	}
	for _, f := range finals[1:] {
		if f.Seed != finals[0].Seed || len(f.Keys) != len(finals[0].Keys) {
			return false
		}
		for k := range f.Keys {
			if !finals[0].Keys[k] {
				return false
			}
		}
	}
	return true
}

// waitInSync waits until there is one writable leader and every replica
// reports itself in sync at the same keystore generation.
func (s *schedule) waitInSync() error {
	if _, err := s.cluster.Leader(s.opts.SyncTimeout); err != nil {
		return err
	}
	return testenv.Eventually(s.opts.SyncTimeout, 200*time.Millisecond, func() (bool, error) {
		gens := map[string]any{}
		var first any
		for _, p := range s.cluster.Pods {
			code, body, err := p.Get("/status")
			if err != nil || code != http.StatusOK {
				return false, fmt.Errorf("%s /status: %d %v", p.Name, code, err)
			}
			ks, _ := body["keystore"].(map[string]any)
			if ks["keystoreInSync"] != true {
				return false, fmt.Errorf("%s not in sync: %v", p.Name, ks["keystoreSyncMessage"])
			}
			if ks["appliedGeneration"] != ks["keystoreGeneration"] {
				return false, fmt.Errorf("%s applied generation %v of %v", p.Name, ks["appliedGeneration"], ks["keystoreGeneration"])
			}
			gens[p.Name] = ks["appliedGeneration"]
			if first == nil {
				first = ks["appliedGeneration"]
			} else if ks["appliedGeneration"] != first {
				return false, fmt.Errorf("generations differ: %v", gens)
			}
		}
		return true, nil
	})
}

// finals reads every replica's keystore straight from its walletd.
func (s *schedule) finals(ctx context.Context) ([]history.Final, error) {
	var out []history.Final
	for _, p := range s.cluster.Pods {
		c := walletd.New(jsonrpc.New(p.Walletd.URL(), jsonrpc.Options{Timeout: 30 * time.Second}))
		b, err := c.WalletBackup(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s wallet-backup: %w", p.Name, err)
		}
		addrs, err := c.AllAddresses(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s all-addresses: %w", p.Name, err)
		}
		ids, err := c.AllIdentityKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s all-identity-keys: %w", p.Name, err)
		}
		f := history.Final{Replica: p.Name, Seed: b.Seed.Reveal(), Keys: map[string]bool{}}
		for _, k := range append(addrs, ids...) {
			f.Keys[k.Public] = true
		}
		out = append(out, f)
	}
	return out, nil
}
