// Package bench measures the system against the real programs (API server,
// etcd, walletd) and reports figures for docs/BENCHMARKS.md.
package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
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
	opts.defaults()
	b := &bencher{opts: opts, res: &KeystoreResult{Writes: opts.Writes, Followers: opts.Followers, BigKeys: opts.BigKeys, ReplayKeys: opts.ReplayKeys}}
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	for _, trial := range []func(context.Context) error{b.lag, b.bigKeystore, b.replay} {
		if err := trial(ctx); err != nil {
			return nil, err
		}
	}
	return b.summary()
}

func (o *KeystoreOptions) defaults() {
	orDefault(&o.Writes, 200)
	orDefault(&o.Followers, 2)
	orDefault(&o.BigKeys, 10000)
	orDefault(&o.ReplayKeys, o.BigKeys)
	quiet(&o.Progress)
}

// bencher is one run of the keystore benchmark: setup starts the API
// server, the trials (lag, bigKeystore, replay) start replicas on their
// own walletd and time them, summary gives the figures.
type bencher struct {
	closers
	opts   KeystoreOptions
	dir    string
	client kubernetes.Interface
	ns     string
	key    *keystore.SealKey

	res                 *KeystoreResult // the figures timed directly
	lags, commits, gens []time.Duration
	big                 *keystore.State // the big keystore, for the capacity figures
}

func (b *bencher) setup(ctx context.Context) error {
	var err error
	if b.dir, err = b.workDir(b.opts.Dir, "bench-keystore-"); err != nil {
		return err
	}
	b.opts.Progress("starting the API server")
	kube, err := testenv.StartKube(filepath.Join(b.dir, "kube"))
	if err != nil {
		return err
	}
	b.onClose(kube.Stop)
	b.ns = "bench-keystore"
	if err := kube.CreateNamespace(ctx, b.ns); err != nil {
		return err
	}
	if b.client, err = kube.Clientset(); err != nil {
		return err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	b.key, err = keystore.NewSealKey(raw)
	return err
}

// lag is the steady state: a leader and followers; write, wait for all.
func (b *bencher) lag(ctx context.Context) error {
	b.opts.Progress("measuring lag")
	leader, err := b.replica("lag-leader", "", true)
	if err != nil {
		return err
	}
	if err := leader.r.Promote(ctx, 1); err != nil {
		return err
	}
	var followers []*benchReplica
	for i := 0; i < b.opts.Followers; i++ {
		f, err := b.replica(fmt.Sprintf("lag-follower-%d", i), "lag", false)
		if err != nil {
			return err
		}
		f.follow()
		followers = append(followers, f)
	}
	if err := waitApplied(followers, leader.r.AppliedGeneration(), time.Minute); err != nil {
		return err
	}
	for i := 0; i < b.opts.Writes; i++ {
		t0 := time.Now()
		resRaw, err := leader.rpc.CallRaw(ctx, walletd.MethodGenerateECAddress, nil)
		if err != nil {
			return err
		}
		t1 := time.Now()
		if err := leader.r.Commit(ctx, 1, walletd.MethodGenerateECAddress, nil, resRaw); err != nil {
			return err
		}
		t2 := time.Now()
		if err := waitApplied(followers, leader.r.AppliedGeneration(), 30*time.Second); err != nil {
			return err
		}
		b.lags = append(b.lags, time.Since(t2))
		b.commits = append(b.commits, t2.Sub(t1))
		b.gens = append(b.gens, t1.Sub(t0))
	}
	for _, f := range followers {
		f.stop()
	}
	leader.stop()
	return nil
}

// bigKeystore writes a big keystore directly (as if BigKeys addresses had
// been generated and committed one by one), then times a new replica from
// it by walletd-init and its promotions, warm and after a restart.
func (b *bencher) bigKeystore(ctx context.Context) error {
	res := b.res
	b.opts.Progress(fmt.Sprintf("building a keystore of %d addresses", b.opts.BigKeys))
	if err := b.resetSecret(ctx); err != nil {
		return err
	}
	seedW, err := b.walletd("seed-source", "")
	if err != nil {
		return err
	}
	backup, err := seedW.client.WalletBackup(ctx)
	if err != nil {
		return err
	}
	seedW.proc.Stop(5 * time.Second)
	b.big = &keystore.State{Seed: backup.Seed, Next: keystore.Counters{FCT: uint32(b.opts.BigKeys / 2), EC: uint32(b.opts.BigKeys - b.opts.BigKeys/2)}}
	snap, err := b.store().Create(ctx, 5, b.big)
	if err != nil {
		return err
	}
	res.SealedBytesBig = snap.SealedBytes

	b.opts.Progress("walletd-init of the big keystore")
	t0 := time.Now()
	warm, err := b.replica("big-init", "init", false)
	if err != nil {
		return err
	}
	warm.follow()
	if err := waitApplied([]*benchReplica{warm}, snap.Generation, 10*time.Minute); err != nil {
		return err
	}
	res.InitBig = time.Since(t0)

	b.opts.Progress("promotion, steady state")
	t0 = time.Now()
	if err := warm.r.Promote(ctx, 6); err != nil {
		return err
	}
	res.PromoteWarm = time.Since(t0)
	warm.stop()

	b.opts.Progress("promotion after a sidecar restart")
	cold, err := b.replicaOn("big-cold", warm.w)
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := cold.r.Promote(ctx, 7); err != nil {
		return err
	}
	res.PromoteCold = time.Since(t0)
	warm.w.proc.Stop(5 * time.Second)
	return nil
}

// replay times a follower whose wallet holds only the seed catching up by
// replaying ReplayKeys generate-*.
func (b *bencher) replay(ctx context.Context) error {
	b.opts.Progress(fmt.Sprintf("replaying %d generate-* from scratch", b.opts.ReplayKeys))
	replaySnap, err := b.store().Load(ctx)
	if err != nil {
		return err
	}
	replayState := replaySnap.State.Clone()
	replayState.Next = keystore.Counters{FCT: uint32(b.opts.ReplayKeys / 2), EC: uint32(b.opts.ReplayKeys - b.opts.ReplayKeys/2)}
	if replaySnap, err = b.store().Commit(ctx, replaySnap, 7, replayState); err != nil {
		return err
	}
	scratch, err := b.replica("replay", "seed-only", false)
	if err != nil {
		return err
	}
	t0 := time.Now()
	scratch.follow()
	if err := waitApplied([]*benchReplica{scratch}, replaySnap.Generation, time.Hour); err != nil {
		return err
	}
	b.res.ReplayBig = time.Since(t0)
	scratch.stop()
	return nil
}

// summary gives the percentiles of the lag trial and the capacity for
// imported keys: sealed size as a function of the count.
func (b *bencher) summary() (*KeystoreResult, error) {
	res := b.res
	lag, commit, gen := Summarize(b.lags), Summarize(b.commits), Summarize(b.gens)
	res.LagP50, res.LagP99, res.LagMax = lag.P50, lag.P99, lag.Max
	res.CommitP50, res.CommitP99 = commit.P50, commit.P99
	res.GenerateP50, res.GenerateP99 = gen.P50, gen.P99

	withImports := b.big.Clone()
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
	s0, err := keystore.Seal(b.key, h, b.big)
	if err != nil {
		return nil, err
	}
	s1, err := keystore.Seal(b.key, h, withImports)
	if err != nil {
		return nil, err
	}
	res.BytesPerImported = float64(len(s1)-len(s0)) / float64(len(withImports.Imported))
	res.MaxImported = int(float64(store.MaxSealedBytes-len(s0)) / res.BytesPerImported)
	return res, nil
}
