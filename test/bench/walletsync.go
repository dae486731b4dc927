// Package bench measures the system against the real programs (API server,
// etcd, walletd) and reports figures for docs/BENCHMARKS.md.
package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// KeystoreOptions sizes the keystore replication benchmark.
type KeystoreOptions struct {
	// Writes is how many generate+commit rounds the lag is measured over
	// (default 200).
	Writes int
	// Followers is the number of following replicas (default 2).
	Followers int
	// BigKeys is the keystore size for the promotion and catch-up
	// figures (default 10,000 derived addresses).
	BigKeys int
	// ReplayKeys is how many generate-* a follower replays from scratch
	// for the bulk catch-up figure (default BigKeys; each is a walletd
	// disk sync).
	ReplayKeys int
	// Dir holds the state (default a temporary directory, removed after).
	Dir string
	// Progress gets one line per phase (optional).
	Progress func(string)
}

// KeystoreResult holds the measured figures.
type KeystoreResult struct {
	Writes, Followers int
	// Lag: commit returned on the leader → the keys are in every
	// follower's walletd.
	LagP50, LagP99, LagMax time.Duration
	// Commit: the leader's Commit call (seal + conditional update).
	CommitP50, CommitP99 time.Duration
	// Generate: one generate-ec-address on walletd.
	GenerateP50, GenerateP99 time.Duration

	BigKeys int
	// InitBig: walletd-init writing a wallet file with BigKeys keys, then
	// walletd started on it and the follower in sync.
	InitBig time.Duration
	// ReplayKeys, ReplayBig: a follower whose wallet holds only the seed
	// replaying ReplayKeys generate-* calls.
	ReplayKeys int
	ReplayBig  time.Duration
	// PromoteWarm: promotion of an in-sync follower (steady state).
	PromoteWarm time.Duration
	// PromoteCold: promotion right after a restart of the sidecar
	// (wallet-backup of BigKeys keys and a derivation scan first).
	PromoteCold time.Duration
	// SealedBytesBig: the Secret's sealed payload with BigKeys derived keys.
	SealedBytesBig int
	// BytesPerImported: sealed bytes each imported key adds; MaxImported
	// is how many fit in one Secret.
	BytesPerImported float64
	MaxImported      int
}

// KeystoreReplication starts an API server and walletd processes and
// measures replication lag, commit cost, catch-up and promotion times.
func KeystoreReplication(ctx context.Context, opts KeystoreOptions) (*KeystoreResult, error) {
	if opts.Writes <= 0 {
		opts.Writes = 200
	}
	if opts.Followers <= 0 {
		opts.Followers = 2
	}
	if opts.BigKeys <= 0 {
		opts.BigKeys = 10000
	}
	if opts.ReplayKeys <= 0 {
		opts.ReplayKeys = opts.BigKeys
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "bench-keystore-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		opts.Dir = dir
	}
	progress("starting the API server")
	kube, err := testenv.StartKube(filepath.Join(opts.Dir, "kube"))
	if err != nil {
		return nil, err
	}
	defer kube.Stop()
	const ns = "bench-keystore"
	if err := kube.CreateNamespace(ctx, ns); err != nil {
		return nil, err
	}
	client, err := kube.Clientset()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key, err := keystore.NewSealKey(raw)
	if err != nil {
		return nil, err
	}
	b := &bencher{dir: opts.Dir, client: client, ns: ns, key: key}
	defer b.stopAll()
	res := &KeystoreResult{Writes: opts.Writes, Followers: opts.Followers, BigKeys: opts.BigKeys, ReplayKeys: opts.ReplayKeys}

	// Steady state: a leader and followers; write, wait for all.
	progress("measuring lag")
	leader, err := b.replica("lag-leader", "", true)
	if err != nil {
		return nil, err
	}
	if err := leader.r.Promote(ctx, 1); err != nil {
		return nil, err
	}
	var followers []*benchReplica
	for i := 0; i < opts.Followers; i++ {
		f, err := b.replica(fmt.Sprintf("lag-follower-%d", i), "lag", false)
		if err != nil {
			return nil, err
		}
		f.follow()
		followers = append(followers, f)
	}
	if err := waitApplied(followers, leader.r.AppliedGeneration(), time.Minute); err != nil {
		return nil, err
	}
	var lags, commits, gens []time.Duration
	for i := 0; i < opts.Writes; i++ {
		t0 := time.Now()
		resRaw, err := leader.rpc.CallRaw(ctx, walletd.MethodGenerateECAddress, nil)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		if err := leader.r.Commit(ctx, 1, walletd.MethodGenerateECAddress, nil, resRaw); err != nil {
			return nil, err
		}
		t2 := time.Now()
		if err := waitApplied(followers, leader.r.AppliedGeneration(), 30*time.Second); err != nil {
			return nil, err
		}
		lags = append(lags, time.Since(t2))
		commits = append(commits, t2.Sub(t1))
		gens = append(gens, t1.Sub(t0))
	}
	res.LagP50, res.LagP99, res.LagMax = pct(lags, 50), pct(lags, 99), pct(lags, 100)
	res.CommitP50, res.CommitP99 = pct(commits, 50), pct(commits, 99)
	res.GenerateP50, res.GenerateP99 = pct(gens, 50), pct(gens, 99)
	for _, f := range followers {
		f.stop()
	}
	leader.stop()

	// A big keystore, written directly (as if BigKeys addresses had been
	// generated and committed one by one).
	progress(fmt.Sprintf("building a keystore of %d addresses", opts.BigKeys))
	if err := b.resetSecret(ctx); err != nil {
		return nil, err
	}
	seedW, err := b.walletd("seed-source", "")
	if err != nil {
		return nil, err
	}
	backup, err := seedW.client.WalletBackup(ctx)
	if err != nil {
		return nil, err
	}
	seedW.proc.Stop(5 * time.Second)
	big := &keystore.State{Seed: backup.Seed, Next: keystore.Counters{FCT: uint32(opts.BigKeys / 2), EC: uint32(opts.BigKeys - opts.BigKeys/2)}}
	snap, err := b.store().Create(ctx, 5, big)
	if err != nil {
		return nil, err
	}
	res.SealedBytesBig = snap.SealedBytes

	progress("walletd-init of the big keystore")
	t0 := time.Now()
	warm, err := b.replica("big-init", "init", false)
	if err != nil {
		return nil, err
	}
	warm.follow()
	if err := waitApplied([]*benchReplica{warm}, snap.Generation, 10*time.Minute); err != nil {
		return nil, err
	}
	res.InitBig = time.Since(t0)

	progress("promotion, steady state")
	t0 = time.Now()
	if err := warm.r.Promote(ctx, 6); err != nil {
		return nil, err
	}
	res.PromoteWarm = time.Since(t0)
	warm.stop()

	progress("promotion after a sidecar restart")
	cold, err := b.replicaOn("big-cold", warm.w)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	if err := cold.r.Promote(ctx, 7); err != nil {
		return nil, err
	}
	res.PromoteCold = time.Since(t0)
	warm.w.proc.Stop(5 * time.Second)

	progress(fmt.Sprintf("replaying %d generate-* from scratch", opts.ReplayKeys))
	replaySnap, err := b.store().Load(ctx)
	if err != nil {
		return nil, err
	}
	replayState := replaySnap.State.Clone()
	replayState.Next = keystore.Counters{FCT: uint32(opts.ReplayKeys / 2), EC: uint32(opts.ReplayKeys - opts.ReplayKeys/2)}
	if replaySnap, err = b.store().Commit(ctx, replaySnap, 7, replayState); err != nil {
		return nil, err
	}
	scratch, err := b.replica("replay", "seed-only", false)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	scratch.follow()
	if err := waitApplied([]*benchReplica{scratch}, replaySnap.Generation, time.Hour); err != nil {
		return nil, err
	}
	res.ReplayBig = time.Since(t0)
	scratch.stop()

	// Capacity for imported keys: sealed size as a function of the count.
	withImports := big.Clone()
	other, _ := keystore.NewDeriver(walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow"))
	const n = 1000
	for i := uint32(0); i < n; i++ {
		k, err := other.Key(keystore.Kind([]keystore.Kind{keystore.FCT, keystore.EC, keystore.ID}[i%3]), i)
		if errors.Is(err, keystore.ErrInvalidIndex) {
			continue
		}
		kind, _ := keystore.KindOfPublic(k.Public)
		withImports.Imported = append(withImports.Imported, keystore.Imported{Kind: kind, Public: k.Public, Secret: k.Secret})
	}
	h := keystore.Header{Name: store.DefaultSecretName, Term: 1, Generation: 1}
	s0, err := keystore.Seal(key, h, big)
	if err != nil {
		return nil, err
	}
	s1, err := keystore.Seal(key, h, withImports)
	if err != nil {
		return nil, err
	}
	res.BytesPerImported = float64(len(s1)-len(s0)) / float64(len(withImports.Imported))
	res.MaxImported = int(float64(store.MaxSealedBytes-len(s0)) / res.BytesPerImported)
	return res, nil
}

// Markdown renders the figures for docs/BENCHMARKS.md.
func (r *KeystoreResult) Markdown() string {
	var sb strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(&sb, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&sb, "| replication lag, commit → keys in all %d followers' walletd, p50 / p99 / max (%d writes) | %s / %s / %s |\n", r.Followers, r.Writes, ms(r.LagP50), ms(r.LagP99), ms(r.LagMax))
	fmt.Fprintf(&sb, "| leader commit (seal + conditional update), p50 / p99 | %s / %s |\n", ms(r.CommitP50), ms(r.CommitP99))
	fmt.Fprintf(&sb, "| walletd generate-ec-address, p50 / p99 | %s / %s |\n", ms(r.GenerateP50), ms(r.GenerateP99))
	fmt.Fprintf(&sb, "| sealed keystore with %d derived addresses | %d bytes |\n", r.BigKeys, r.SealedBytesBig)
	fmt.Fprintf(&sb, "| new replica from scratch with %d addresses via walletd-init (file written, walletd started, in sync) | %s |\n", r.BigKeys, r.InitBig.Round(time.Millisecond))
	fmt.Fprintf(&sb, "| bulk catch-up by replaying %d generate-* into a seed-only wallet | %s (%.1f ms/key) |\n", r.ReplayKeys, r.ReplayBig.Round(time.Millisecond), float64(r.ReplayBig.Milliseconds())/float64(max(r.ReplayKeys, 1)))
	fmt.Fprintf(&sb, "| promotion of an in-sync follower, %d addresses (steady state) | %s |\n", r.BigKeys, r.PromoteWarm.Round(time.Millisecond))
	fmt.Fprintf(&sb, "| promotion right after a sidecar restart, %d addresses (wallet-backup + derivation scan) | %s |\n", r.BigKeys, r.PromoteCold.Round(time.Millisecond))
	fmt.Fprintf(&sb, "| sealed bytes per imported key; imported keys that fit one Secret | %.0f; ≈ %d |\n", r.BytesPerImported, r.MaxImported)
	return sb.String()
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func waitApplied(reps []*benchReplica, gen int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for _, r := range reps {
			if r.r.AppliedGeneration() < gen || !r.r.InSync() {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			var why []string
			for _, r := range reps {
				why = append(why, r.name+": "+r.r.ReadyCheck()().Reason)
			}
			return fmt.Errorf("generation %d not applied within %s: %s", gen, timeout, strings.Join(why, "; "))
		}
		// Poll finely: this loop is the lag measurement's clock.
		time.Sleep(time.Millisecond)
	}
}

type bencher struct {
	dir    string
	client kubernetes.Interface
	ns     string
	key    *keystore.SealKey
	stops  []func()
}

func (b *bencher) stopAll() {
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
}

func (b *bencher) store() *store.Store {
	return store.New(b.client, b.ns, store.DefaultSecretName, b.key, store.Options{})
}

func (b *bencher) resetSecret(ctx context.Context) error {
	err := b.client.CoreV1().Secrets(b.ns).Delete(ctx, store.DefaultSecretName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

type benchWalletd struct {
	proc   *testenv.Process
	rpc    *jsonrpc.Client
	client *walletd.Client
}

// walletd starts test-walletd on dir/name.db; init "" leaves the file to
// walletd (random seed), "init" writes it with walletd-init, "seed-only"
// writes the keystore's seed with no keys.
func (b *bencher) walletd(name, init string) (*benchWalletd, error) {
	ctx := context.Background()
	path := filepath.Join(b.dir, name+".db")
	switch init {
	case "", "lag":
		if init == "lag" {
			if _, err := walletsync.InitWallet(ctx, b.store(), path, false); err != nil {
				return nil, err
			}
		}
	case "init":
		if _, err := walletsync.InitWallet(ctx, b.store(), path, false); err != nil {
			return nil, err
		}
	case "seed-only":
		snap, err := b.store().Load(ctx)
		if err != nil {
			return nil, err
		}
		if err := walletfile.Create(path, walletfile.Contents{Seed: snap.State.Seed}); err != nil {
			return nil, err
		}
	}
	bin, err := testenv.Binary("test-walletd")
	if err != nil {
		return nil, err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := testenv.Start(name, bin, []string{"-addr", addr, "-wallet", path, "-factomd", "127.0.0.1:1"}, nil, path+".log")
	if err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() { p.Stop(5 * time.Second) })
	rpc := jsonrpc.New("http://"+addr+"/v2", jsonrpc.Options{Timeout: 30 * time.Second})
	w := &benchWalletd{proc: p, rpc: rpc, client: walletd.New(rpc)}
	err = testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, errors.New("walletd exited")
		}
		_, err := w.client.Properties(ctx)
		return err == nil, err
	})
	return w, err
}

type benchReplica struct {
	name string
	w    *benchWalletd
	rpc  *jsonrpc.Client
	r    *walletsync.Replicator
	stop func()
}

func (b *bencher) replica(name, init string, _ bool) (*benchReplica, error) {
	w, err := b.walletd(name, init)
	if err != nil {
		return nil, err
	}
	return b.replicaOn(name, w)
}

func (b *bencher) replicaOn(name string, w *benchWalletd) (*benchReplica, error) {
	r, err := walletsync.New(walletsync.Config{
		Store:        b.store(),
		Walletd:      w.client,
		Log:          zerolog.Nop(),
		ResyncPeriod: 5 * time.Minute,
		RetryPeriod:  100 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	return &benchReplica{name: name, w: w, rpc: w.rpc, r: r, stop: func() {}}, nil
}

func (r *benchReplica) follow() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.r.RunFollower(ctx)
	}()
	r.stop = func() { cancel(); <-done }
}
