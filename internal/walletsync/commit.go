package walletsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// ErrUnsettled: the leader's walletd holds a change the Secret does not
// (a write that was not committed) and it could not be taken back yet; no
// new write may start on top of it.
var ErrUnsettled = errors.New("keystore: walletd holds an uncommitted change that is not taken back yet")

// Prepare is called by the proxy, under its write lock, before a keystore
// write is sent to walletd. It refuses when this replica is not the leader
// for term, and takes back a change an earlier write left on walletd before
// the new write may start (ErrUnsettled if it cannot). Every successful
// Prepare must be followed by Commit (walletd answered with a result) or
// Abort (any other outcome). Until then this replica's own reconcilers keep
// off walletd.
func (r *Replicator) Prepare(ctx context.Context, term int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.leaderLocked(term, "prepare a write"); err != nil {
		return err
	}
	if r.dirty {
		r.repairLocked(ctx, term)
		if r.dirty {
			return fmt.Errorf("prepare a write under term %d: %w", term, ErrUnsettled)
		}
	}
	r.writing = true
	return nil
}

// Abort ends a prepared keystore write whose outcome on walletd is not a
// result: walletd answered with an error, timed out, or sent something
// unreadable. walletd may have made part of the change (it imports a batch
// one key at a time and stops at the first bad one), so the leader takes
// back whatever the Secret does not hold before the next write. It returns
// an error if that could not finish (the next Prepare retries). unchanged:
// walletd refused the call before acting, so there is nothing to take back.
func (r *Replicator) Abort(ctx context.Context, term int64, method string, unchanged bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endWriteLocked()
	if unchanged {
		return nil
	}
	if err := r.leaderLocked(term, "abort "+method); err != nil {
		return err
	}
	r.markDirty("a keystore write's outcome on walletd is unknown; taking it back")
	r.repairLocked(ctx, term)
	if r.dirty {
		return fmt.Errorf("abort %s under term %d: %w", method, term, ErrUnsettled)
	}
	return nil
}

// endWriteLocked ends a prepared write. A replica demoted meanwhile drops
// its view of walletd and reconciles again: the write may have changed
// walletd after the follower loop last looked. Caller holds mu.
func (r *Replicator) endWriteLocked() {
	r.writing = false
	if role(r.role.Load()) == roleFollower {
		r.local = nil
		r.signal()
	}
}

func (r *Replicator) leaderLocked(term int64, what string) error {
	if role(r.role.Load()) != roleLeader || r.leaderTerm.Load() != term || r.snap == nil {
		return fmt.Errorf("%s under term %d: %w", what, term, ErrNotPromoted)
	}
	if r.fenced {
		return fmt.Errorf("%s under term %d: %w", what, term, ErrFenced)
	}
	return nil
}

// markDirty records that walletd may hold a change the Secret does not: the
// leader is not in sync (no reads, not ready) until it is taken back.
// Caller holds mu.
func (r *Replicator) markDirty(reason string) {
	r.dirty = true
	r.setInSync(false, reason)
}

// Commit is the proxy's Committer: called on the leader after walletd
// answered the keystore write method(params) → result, while the proxy
// holds its write lock. It returns nil only once the new keystore state is
// in the Secret under term; any error means the client must get an error.
// Errors contain no secret.
func (r *Replicator) Commit(ctx context.Context, term int64, method string, params, result json.RawMessage) error {
	start := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endWriteLocked()
	err := r.commitLocked(ctx, term, method, params, result)
	if err != nil && !errors.Is(err, ErrNotPromoted) {
		// walletd made a change that is not committed: take it back
		// before the proxy lets the next write through.
		r.markDirty("a write was not committed; taking it back from walletd")
	}
	if r.dirty {
		r.repairLocked(ctx, term)
	}
	r.metrics.commitDuration.Observe(r.cfg.Now().Sub(start).Seconds())
	r.metrics.commits.WithLabelValues(commitResult(err)).Inc()
	return err
}

func commitResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrFenced), errors.Is(err, ErrNotPromoted):
		return "fenced"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrTooLarge):
		return "too_large"
	default:
		return "error"
	}
}

func (r *Replicator) commitLocked(ctx context.Context, term int64, method string, params, result json.RawMessage) error {
	if err := r.leaderLocked(term, "commit "+method); err != nil {
		return err
	}
	if r.stale {
		snap, err := r.cfg.Store.Load(ctx)
		if err != nil {
			return fmt.Errorf("commit %s: reload keystore: %w", method, err)
		}
		if snap.Term != term {
			r.fence(term, snap.Term)
			return fmt.Errorf("commit %s under term %d, stored term %d: %w", method, term, snap.Term, ErrFenced)
		}
		r.setSnap(snap)
		r.stale = false
	}
	d, err := r.deriver(r.snap.State.Seed)
	if err != nil {
		return fmt.Errorf("commit %s: %w", method, err)
	}
	if kind, ok := keystore.GenerateKind(method); ok {
		// A generated key the keystore already accounts for was handed out
		// before: never acknowledge it again.
		if err := r.snap.State.CheckGenerated(d, kind, result); err != nil {
			if errors.Is(err, keystore.ErrAlreadyIssued) {
				r.log.Error().Str("event", logging.EventKeystoreKeyReissued).Str("method", method).Err(err).
					Uint32("counter", r.snap.State.Next.Get(kind)).
					Msg("walletd handed out a key the keystore already holds; refusing the write (walletd's counter is behind the keystore)")
			}
			return fmt.Errorf("commit %s: %w", method, err)
		}
	}
	next := r.snap.State.Clone()
	change, err := next.Apply(d, method, params, result)
	if err != nil {
		// Not applicable incrementally (undecodable params or result, a
		// derivation that disagrees, a method that is not a keystore write):
		// the effect is unknown. It is refused and taken back, never
		// rebuilt from walletd's whole keystore, which would commit
		// whatever else walletd holds and drop what it lacks.
		if errors.Is(err, keystore.ErrDerivationMismatch) || errors.Is(err, keystore.ErrBadResult) || errors.Is(err, keystore.ErrNotKeystoreWrite) {
			r.log.Warn().Str("event", logging.EventKeystoreWriteRefused).Str("method", method).Str("reason", err.Error()).
				Msg("walletd's answer cannot be applied to the keystore; refusing the write and taking it back")
		}
		return fmt.Errorf("commit %s: %w", method, err)
	}
	if change.Skipped > 0 {
		r.log.Warn().Str("event", logging.EventKeystoreCounterSkipped).Str("kind", string(change.Kind)).
			Uint32("index", change.Index).Uint32("skipped", change.Skipped).
			Msg("walletd generated past the replicated counter; the skipped keys were never acknowledged to a client and are recorded as removed")
	}
	// A write that changes nothing (a key imported again) is still a
	// conditional update: only the store can say this term still holds the
	// keystore, so a deposed leader cannot acknowledge it after a newer
	// term removed the key.
	snap, err := r.cfg.Store.Commit(ctx, r.snap, term, next)
	if err != nil {
		switch {
		case errors.Is(err, store.ErrFenced):
			r.fence(term, store.StoredTerm(err))
		case errors.Is(err, store.ErrTooLarge):
			r.log.Error().Str("event", logging.EventKeystoreTooLarge).Int("imported", len(next.Imported)).Int("removed", len(next.Removed)).Msg("the keystore no longer fits one Secret; the write is refused")
		default:
			// Unknown outcome (timeout, conflict): reload before the
			// next commit; the state walletd holds is re-derived then.
			r.stale = true
		}
		return fmt.Errorf("commit %s: %w", method, err)
	}
	r.setSnap(snap)
	r.applied.Store(snap.Generation)
	r.seen.Store(snap.Generation)
	r.metrics.appliedGeneration.Set(float64(snap.Generation))
	r.log.Debug().Str("event", logging.EventKeystoreCommitted).Str("method", method).Int64("generation", snap.Generation).Int64("term", term).Str("public", change.Public).Msg("keystore write committed")
	return nil
}

// repairTimeout bounds rolling back the leader's walletd after a failed
// commit (the proxy holds its write lock meanwhile).
const repairTimeout = 10 * time.Second

// repairLocked brings the leader's walletd back to the last committed
// keystore after a write whose commit failed (or whose outcome is
// unknown): it reloads the Secret when the last commit's outcome is
// unknown, then reconciles walletd with it exactly as a follower does —
// restoring keys an uncommitted removal took away, removing keys an
// uncommitted import or generate added. It runs under the proxy's write
// lock or between writes, so no other write is in flight on walletd. If it
// cannot finish (API server or walletd unreachable), r.dirty stays set: the
// leader stays out of sync and no write starts until a retry succeeds; a
// demoted replica is reconciled by the follower loop. Caller holds mu.
func (r *Replicator) repairLocked(ctx context.Context, term int64) {
	if r.leaderLocked(term, "repair") != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), repairTimeout)
	defer cancel()
	if r.stale {
		snap, err := r.settleLocked(ctx, term)
		if err != nil {
			return
		}
		r.setSnap(snap)
		r.stale = false
		r.applied.Store(snap.Generation)
		r.seen.Store(snap.Generation)
		r.metrics.appliedGeneration.Set(float64(snap.Generation))
	}
	d, err := r.deriver(r.snap.State.Seed)
	if err != nil {
		return
	}
	v, err := buildLocal(ctx, r.cfg.Walletd, d, r.snap.State, r.cfg.Now())
	if err == nil {
		err = r.replay(ctx, d, v, r.snap.State, func() bool { return false }, true)
	}
	if err != nil {
		r.setInSync(false, "taking back an uncommitted write failed: "+err.Error())
		r.log.Warn().Str("event", logging.EventKeystoreRollbackFailed).Int64("generation", r.snap.Generation).Err(err).
			Msg("could not bring walletd back to the keystore after a failed commit; retrying before the next write")
		return
	}
	r.dirty = false
	r.setInSync(true, "leader")
	r.log.Info().Str("event", logging.EventKeystoreRolledBack).Int64("generation", r.snap.Generation).
		Msg("walletd brought back to the committed keystore after a failed commit")
}

// settleAttempts bounds how often settleLocked re-reads after a conflict.
const settleAttempts = 3

// settleLocked makes the outcome of a commit whose answer was lost final
// before walletd is rolled back to the Secret. An update sent before a
// timeout can still reach the API server after a reload has read the
// version before it; rolling walletd back to that version would then drop a
// key the Secret holds. A conditional write of the reloaded state moves the
// resourceVersion on, so the late update can no longer land; if it landed
// first, this write conflicts and the next read sees it. Caller holds mu.
func (r *Replicator) settleLocked(ctx context.Context, term int64) (*store.Snapshot, error) {
	var err error
	for range settleAttempts {
		var snap *store.Snapshot
		if snap, err = r.cfg.Store.Load(ctx); err != nil {
			return nil, err
		}
		if snap.Term != term {
			r.fence(term, snap.Term)
			return nil, fmt.Errorf("settle under term %d, stored term %d: %w", term, snap.Term, ErrFenced)
		}
		var settled *store.Snapshot
		settled, err = r.cfg.Store.Commit(ctx, snap, term, snap.State)
		switch {
		case err == nil:
			return settled, nil
		case errors.Is(err, store.ErrFenced):
			r.fence(term, store.StoredTerm(err))
			return nil, err
		case !errors.Is(err, store.ErrConflict):
			return nil, err
		}
	}
	return nil, fmt.Errorf("settle the keystore: %w", err)
}

func (r *Replicator) fence(term, stored int64) {
	if r.fenced {
		return
	}
	r.fenced = true
	if stored >= 0 {
		r.noteTerm(stored) // the next acquisition's term floor is above it
	}
	r.setInSync(false, "fenced: a newer leader holds the keystore")
	if f := r.onFenced.Load(); f != nil {
		go (*f)(term)
	}
	ev := r.log.Error().Str("event", logging.EventKeystoreFenced).Int64("term", term)
	if stored >= 0 {
		ev = ev.Int64("storedTerm", stored)
	}
	ev.Msg("a newer leader bumped the keystore term; refusing writes")
	r.events.warn(kubeevents.ReasonKeystoreFenced, "keystore write under term %d refused: a newer leader holds the keystore", term)
}

// verifyLeader is the leader's periodic check between writes: it
// spot-checks that walletd still holds the newest committed keys (a walletd
// restarted on another wallet file does not), that it holds no key the
// Secret does not account for, and takes back whatever a failed write left
// behind, so the leader's InSync says what its walletd holds; and it
// re-seals the Secret after a sealing-key rotation. It keeps off walletd
// while a prepared write is running there.
func (r *Replicator) verifyLeader(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if role(r.role.Load()) != roleLeader || r.writing || r.fenced || r.snap == nil {
		return
	}
	term := r.leaderTerm.Load()
	if !r.dirty {
		if err := r.spotCheck(ctx, r.snap.State); err != nil {
			r.markDirty("walletd no longer holds the keystore: " + err.Error())
		} else if extra, err := r.unaccountedKeys(ctx, r.snap.State); err != nil {
			return // walletd unreachable: its health check reports that
		} else if extra > 0 {
			r.log.Warn().Str("event", logging.EventKeystoreWalletdUnaccounted).Int("keys", extra).
				Msg("walletd holds keys the keystore does not account for (a write walletd finished after its sidecar stopped waiting); taking them back")
			r.markDirty(fmt.Sprintf("walletd holds %d keys the keystore does not account for", extra))
		} else {
			r.resealLocked(ctx, term)
			return
		}
	}
	r.repairLocked(ctx, term)
}
