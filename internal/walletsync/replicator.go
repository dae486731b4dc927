package walletsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// Errors a caller can test for.
var (
	// ErrFenced: the Secret's term is not this leader's term; this replica
	// was deposed. Re-exported from store.
	ErrFenced = store.ErrFenced
	// ErrNotPromoted: Commit was called without a successful Promote for
	// this term (or after Demote).
	ErrNotPromoted = errors.New("keystore: not the leader for this term")
)

// Config wires a Replicator.
type Config struct {
	// Store is the keystore Secret.
	Store *store.Store
	// Walletd is this replica's walletd.
	Walletd *walletd.Client
	// Events get the keystore's incidents as Kubernetes Events on the
	// pod (optional).
	Events kubeevents.Recorder
	Log    zerolog.Logger
	// Registerer gets the metrics (optional).
	Registerer prometheus.Registerer
	// ResyncPeriod: how often a follower re-reads the Secret and rebuilds
	// its view of walletd from a wallet-backup (default 5m).
	ResyncPeriod time.Duration
	// RetryPeriod: how soon a failed reconcile is retried (default 2s).
	RetryPeriod time.Duration
	// VerifyPeriod: how often an in-sync follower spot-checks that its
	// walletd still holds the newest keys (one lookup per kind), so a
	// walletd restarted on an emptied wallet turns the replica unready
	// and gets replayed without waiting for the resync (default 10s).
	VerifyPeriod time.Duration
	// KeyFiles, when set, are re-read every KeyReloadPeriod (default
	// 10s) by RunFollower: a rotated key Secret takes effect without a
	// restart (the Store must seal and open with the same KeyFiles).
	KeyFiles        *keystore.KeyFiles
	KeyReloadPeriod time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

type role int32

const (
	roleFollower role = iota
	rolePromoting
	roleLeader
)

func (r role) String() string {
	return [...]string{"follower", "promoting", "leader"}[r]
}

// Replicator is one replica's side of keystore replication: the leader's
// Committer, the follower's reconciler and the promotion step.
type Replicator struct {
	cfg     Config
	log     zerolog.Logger
	metrics *metrics
	events  eventer

	// mu serialises everything that writes to walletd or the Secret.
	mu     sync.Mutex
	snap   *store.Snapshot // leader: last committed version
	stale  bool            // leader: last write's outcome unknown, reload first
	fenced bool            // leader: the Secret has a newer term
	dirty  bool            // leader: walletd may hold a change the Secret does not (a failed commit)
	// leader: the public keys accountedState accounts for (leadercheck.go)
	accounted      map[string]bool
	accountedState *keystore.State
	unaccounted    map[string]bool // keys the last check found unaccounted for
	writing        bool            // a prepared proxy write is running on walletd (Prepare until Commit or Abort)
	local          *localView      // follower: what walletd holds
	lastApplied    *store.Snapshot // follower: last version applied to walletd
	derivers       map[walletd.Secret]*keystore.Deriver

	role       atomic.Int32
	leaderTerm atomic.Int64 // the term being promoted or led; 0 once demoted
	demotions  atomic.Int64 // counts Demote calls, so a promotion sees one that came meanwhile
	storedTerm atomic.Int64 // the highest term seen in the Secret
	preempt    atomic.Bool

	// Follower status, read by probes without locking.
	applied atomic.Int64
	seen    atomic.Int64
	// ownGen and ownTerm are the newest version of the Secret this replica
	// has itself read or written as leader. Followed again, it never
	// applies an older one of the same or an earlier term: a watch may
	// still deliver the version before its last commit, and that version
	// lacks a key this walletd holds and a client has received. (A newer
	// term's version, a recreated Secret included, is always applied.)
	ownMu           sync.Mutex
	ownGen, ownTerm int64
	inSync          atomic.Bool
	reason          atomic.Value // string
	lastReject      atomic.Value // string: resourceVersion+reason last reported
	sealedKey       atomic.Value // string: key id of the version last applied or committed

	onFenced atomic.Pointer[func(term int64)]

	latestMu sync.Mutex
	latest   *corev1.Secret
	haveSeen bool
	wake     chan struct{}
}

// New returns a Replicator; call RunFollower for the follower side and
// wire Promote, Demote and Commit to the leader election and the proxy.
func New(cfg Config) (*Replicator, error) {
	if cfg.Store == nil || cfg.Walletd == nil {
		return nil, errors.New("walletsync: Store and Walletd are required")
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 5 * time.Minute
	}
	if cfg.RetryPeriod <= 0 {
		cfg.RetryPeriod = 2 * time.Second
	}
	if cfg.VerifyPeriod <= 0 {
		cfg.VerifyPeriod = 10 * time.Second
	}
	if cfg.KeyReloadPeriod <= 0 {
		cfg.KeyReloadPeriod = defaultKeyReloadPeriod
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Replicator{
		cfg:      cfg,
		log:      cfg.Log.With().Str("secret", cfg.Store.Name()).Logger(),
		derivers: map[walletd.Secret]*keystore.Deriver{},
		wake:     make(chan struct{}, 1),
	}
	r.metrics = newMetrics(cfg.Registerer, r.sealedBytes, r.historyEntries)
	r.events = eventer{rec: cfg.Events}
	r.reason.Store("keystore not read yet")
	r.lastReject.Store("")
	return r, nil
}

func (r *Replicator) deriver(seed walletd.Secret) (*keystore.Deriver, error) {
	if d, ok := r.derivers[seed]; ok {
		return d, nil
	}
	d, err := keystore.NewDeriver(seed)
	if err != nil {
		return nil, err
	}
	// One seed per wallet; a second entry only appears around a refused
	// foreign seed, so the map stays tiny.
	r.derivers[seed] = d
	return d, nil
}

// InSync reports whether this replica's walletd holds every key of the
// replicated keystore (always true on the writable leader).
func (r *Replicator) InSync() bool { return r.inSync.Load() }

// AppliedGeneration is the keystore generation this replica's walletd
// holds (the last committed one on the leader).
func (r *Replicator) AppliedGeneration() int64 { return r.applied.Load() }

// Role is "follower", "promoting" or "leader".
func (r *Replicator) Role() string { return role(r.role.Load()).String() }

func (r *Replicator) setInSync(ok bool, reason string) {
	r.inSync.Store(ok)
	r.reason.Store(reason)
	if ok {
		r.metrics.inSync.Set(1)
	} else {
		r.metrics.inSync.Set(0)
	}
}

// ReadyCheck is the readiness verdict: ready when in sync. It reads only
// cached state.
func (r *Replicator) ReadyCheck() probe.Check {
	return func() probe.Result {
		reason, _ := r.reason.Load().(string)
		return probe.Result{
			OK:     r.inSync.Load(),
			Reason: reason,
			Fields: map[string]any{
				"role":                r.Role(),
				"appliedGeneration":   r.applied.Load(),
				"keystoreGeneration":  r.seen.Load(),
				"keystoreSecret":      r.cfg.Store.Name(),
				"keystoreInSync":      r.inSync.Load(),
				"keystoreLeaderTerm":  r.leaderTerm.Load(),
				"keystoreSyncMessage": reason,
			},
		}
	}
}

// Status is the replication state for /status (no secrets).
func (r *Replicator) Status() map[string]any {
	st := r.ReadyCheck()().Fields
	for k, v := range r.KeyStatus() {
		st[k] = v
	}
	return st
}

// Promote is the leader's OnPromote hook: it loads the Secret (creating it
// from this walletd's wallet-backup if there is none yet), brings this
// walletd up to it exactly as a follower would, adopts any derivation
// counters this walletd is ahead by, and writes the state under term (the
// fencing bump) before returning; only then may writes open. It refuses a
// Secret with a higher term, a rejected (tampered) Secret and a walletd with
// another seed.
func (r *Replicator) Promote(ctx context.Context, term int64) error {
	start := r.cfg.Now()
	// Set before anything else, so OnDemote(term) during the promotion
	// demotes it and a stale OnDemote of an earlier term does not.
	r.leaderTerm.Store(term)
	demotions := r.demotions.Load()
	r.preempt.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.preempt.Store(false)
	r.role.Store(int32(rolePromoting))
	r.setInSync(false, "promoting")
	err := r.promoteLocked(ctx, term)
	if err == nil && r.demotions.Load() != demotions {
		// Demote came while promoting: becomeLeader must not outlive it.
		// Demote counts before it stores the role, so either this sees
		// the count or Demote's role store comes after becomeLeader's.
		err = fmt.Errorf("promote to term %d: demoted during the promotion: %w", term, ErrNotPromoted)
	}
	took := r.cfg.Now().Sub(start)
	r.metrics.promoteDuration.Observe(took.Seconds())
	if err != nil {
		r.leaderTerm.CompareAndSwap(term, 0)
		r.snap = nil
		r.role.Store(int32(roleFollower))
		r.local = nil
		r.setInSync(false, "promotion failed")
		r.signal()
		r.log.Error().Str("event", logging.EventKeystorePromotionFailed).Int64("term", term).Int64("tookMs", took.Milliseconds()).Err(err).Msg("keystore promotion failed")
		return err
	}
	r.log.Info().Str("event", logging.EventKeystorePromoted).Int64("term", term).Int64("generation", r.snap.Generation).Int64("tookMs", took.Milliseconds()).Msg("keystore caught up and fenced under the new term")
	return nil
}

// Demote ends leadership: Commit refuses from now on and the replica
// follows the Secret again. The election calls it once the writes admitted
// in the term have finished; a write still running on walletd (a bound
// passed) keeps the follower loop off walletd until its Commit or Abort.
// A Demote during Promote makes the promotion fail.
func (r *Replicator) Demote() {
	r.leaderTerm.Store(0)
	// Counted before the role changes: a promotion that stores "leader"
	// after this Swap has read the count after it, and fails.
	r.demotions.Add(1)
	was := role(r.role.Swap(int32(roleFollower)))
	if was == roleFollower {
		return
	}
	r.setInSync(false, "demoted; following the keystore again")
	r.log.Info().Str("event", logging.EventKeystoreDemoted).Msg("keystore writes closed; following")
	go func() {
		r.mu.Lock()
		if role(r.role.Load()) == roleFollower {
			r.snap = nil
		}
		r.mu.Unlock()
		r.signal()
	}()
}

// setSnap makes snap the leader's view of the Secret. Caller holds mu.
func (r *Replicator) setSnap(snap *store.Snapshot) {
	r.snap = snap
	if snap == nil {
		return
	}
	r.sealedKey.Store(snap.KeyID)
	r.ownMu.Lock()
	if snap.Term > r.ownTerm || (snap.Term == r.ownTerm && snap.Generation > r.ownGen) {
		r.ownGen, r.ownTerm = snap.Generation, snap.Term
	}
	r.ownMu.Unlock()
}

// olderThanOwn reports whether snap predates this replica's own last view
// as leader (see ownGen), and that view's generation.
func (r *Replicator) olderThanOwn(snap *store.Snapshot) (bool, int64) {
	r.ownMu.Lock()
	defer r.ownMu.Unlock()
	return snap.Term < r.ownTerm || (snap.Term == r.ownTerm && snap.Generation < r.ownGen), r.ownGen
}

// OnFenced sets f to be called, on a goroutine of its own, when a write
// under the term this replica leads is refused because the Secret holds a
// newer term. The election then gives the Lease up: while this replica
// holds it, no other holder owns that newer term (a promotion abandoned
// when its acquisition lost), and renewing would keep a leader that can
// never write. Set it before the replica leads.
func (r *Replicator) OnFenced(f func(term int64)) {
	r.onFenced.Store(&f)
}

// noteTerm records a term seen in the Secret.
func (r *Replicator) noteTerm(t int64) {
	for cur := r.storedTerm.Load(); t > cur && !r.storedTerm.CompareAndSwap(cur, t); cur = r.storedTerm.Load() {
	}
}

// TermFloor is the lowest term this replica may lead under: above every
// term it has seen in the Secret. The election takes the Lease with at
// least this term, so a Lease deleted and created again (its transition
// count back at 0) never hands out a term a leader has already used.
func (r *Replicator) TermFloor() int64 {
	if r.seen.Load() > 1 {
		return r.storedTerm.Load() + 1 // a leader has written under it
	}
	return r.storedTerm.Load()
}

func (r *Replicator) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// OnDemote fits the leader election's OnDemote(term) hook: it demotes when
// term is the term this replica leads (or no term: a failed promotion), and
// ignores a stale term.
func (r *Replicator) OnDemote(term int64) {
	if t := r.leaderTerm.Load(); t == term || t == 0 {
		r.Demote()
	}
}
