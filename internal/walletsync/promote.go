package walletsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

func (r *Replicator) promoteLocked(ctx context.Context, term int64) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		snap, err := r.promotionSnapshot(ctx, attempt == 0)
		if errors.Is(err, store.ErrNotFound) {
			snap, err = r.createFirst(ctx, term)
			if errors.Is(err, store.ErrConflict) {
				continue // another pod created it first: load theirs
			}
			if err != nil {
				return err
			}
			r.becomeLeader(term, snap)
			return nil
		}
		if err != nil {
			if errors.Is(err, keystore.ErrRejected) {
				r.reportRejected(ctx, "", err)
			}
			return fmt.Errorf("promote: %w", err)
		}
		r.noteTerm(snap.Term)
		// A term is used once: an equal stored term was written by the
		// leader of that term (the Lease was deleted and its count started
		// over). Only the Secret walletd-init created (generation 1) may be
		// taken over under its own term.
		if snap.Term > term || (snap.Term == term && snap.Generation > 1) {
			return fmt.Errorf("promote to term %d, stored term %d: %w", term, snap.Term, ErrFenced)
		}
		d, err := r.deriver(snap.State.Seed)
		if err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		// Keys walletd generated past the Secret are kept (and adopted
		// below); every other key the Secret does not hold is removed.
		if err := r.syncTo(ctx, d, snap, func() bool { return false }, false); err != nil {
			return fmt.Errorf("promote: catch up: %w", err)
		}
		next := snap.State.Clone()
		if ahead := r.local.next.Max(next.Next); ahead != next.Next {
			// This walletd generated keys past the Secret (as a deposed
			// leader whose commits failed): adopt its counters so they
			// are never handed out by anyone, and its next generate
			// matches the replicated counter.
			r.log.Warn().Str("event", logging.EventKeystoreCountersAdopted).
				Uint32("fct", ahead.FCT).Uint32("ec", ahead.EC).Uint32("id", ahead.ID).
				Msg("this walletd's derivation counters are ahead of the keystore; committing them with the new term")
			if err := next.Adopt(d, ahead, func(public string) bool { _, ok := r.local.present[public]; return ok }); err != nil {
				return fmt.Errorf("promote: %w", err)
			}
		}
		bumped, err := r.bumpTerm(ctx, snap, term, next)
		if errors.Is(err, store.ErrConflict) {
			// A late write of the old leader landed after the load:
			// catch up with it too, then bump again.
			continue
		}
		if err != nil {
			return fmt.Errorf("promote: bump term: %w", err)
		}
		r.becomeLeader(term, bumped)
		return nil
	}
}

// createFirst creates the Secret from this walletd's keystore: the first
// leader ever.
func (r *Replicator) createFirst(ctx context.Context, term int64) (*store.Snapshot, error) {
	b, err := r.cfg.Walletd.WalletBackup(ctx)
	if err != nil {
		return nil, fmt.Errorf("promote: create keystore: %w", err)
	}
	d, err := r.deriver(b.Seed)
	if err != nil {
		return nil, fmt.Errorf("promote: create keystore: walletd %w", err)
	}
	st, err := keystore.FromBackup(d, b, nil)
	if err != nil {
		return nil, fmt.Errorf("promote: create keystore: %w", err)
	}
	snap, err := r.cfg.Store.Create(ctx, term, st)
	if err != nil {
		return nil, err
	}
	r.log.Info().Str("event", logging.EventKeystoreCreated).Int64("term", term).
		Uint32("fct", st.Next.FCT).Uint32("ec", st.Next.EC).Uint32("id", st.Next.ID).Int("imported", len(st.Imported)).
		Msg("created the keystore Secret from this walletd")
	r.events.normal(kubeevents.ReasonKeystoreCreated, "keystore Secret %s created from this replica's walletd (term %d)", r.cfg.Store.Name(), term)
	return snap, nil
}

func (r *Replicator) becomeLeader(term int64, snap *store.Snapshot) {
	r.setSnap(snap)
	r.stale, r.fenced, r.dirty, r.writing = false, false, false, false
	// The leader's walletd changes through the proxy from now on: the
	// follower's view of it is rebuilt after a demotion.
	r.local = nil
	r.role.Store(int32(roleLeader))
	r.applied.Store(snap.Generation)
	r.seen.Store(snap.Generation)
	r.metrics.appliedGeneration.Set(float64(snap.Generation))
	r.setInSync(true, "leader")
}

// promotionSnapshot is the Secret a promotion starts from. The first
// attempt uses the version the follower's watch delivered last (no read on
// the handover's path); BumpTerm is conditional on that version, so a
// stale one only costs a conflict, after which every attempt reads the
// Secret afresh. A watch that has delivered nothing, or a Secret that was
// absent, is read.
func (r *Replicator) promotionSnapshot(ctx context.Context, first bool) (*store.Snapshot, error) {
	if first {
		r.latestMu.Lock()
		sec, seen := r.latest, r.haveSeen
		r.latestMu.Unlock()
		if seen && sec != nil && sec.Name != "" {
			if snap, err := r.cfg.Store.Decode(sec); err == nil {
				return snap, nil
			}
		}
	}
	return r.cfg.Store.Load(ctx)
}
