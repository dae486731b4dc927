package walletsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"

	corev1 "k8s.io/api/core/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

// RunFollower watches the Secret and keeps this replica's walletd in step
// with it whenever the replica is not the leader. It returns when ctx is
// done. It never deletes anything walletd holds except keys the keystore
// records as removed, and applies nothing from a Secret that fails to open.
func (r *Replicator) RunFollower(ctx context.Context) error {
	go r.runKeyReload(ctx)
	go r.cfg.Store.Watch(ctx, r.cfg.ResyncPeriod, func(sec *corev1.Secret) {
		r.latestMu.Lock()
		r.latest, r.haveSeen = sec, true
		r.latestMu.Unlock()
		r.signal()
	}, func(err error) {
		r.log.Warn().Str("event", logging.EventKeystoreWatchError).Err(err).Msg("watching the keystore Secret failed; retrying")
	})

	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	verify := time.NewTicker(r.cfg.VerifyPeriod)
	defer verify.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-retry.C:
		case <-verify.C:
			if role(r.role.Load()) == roleLeader {
				r.verifyLeader(ctx)
				continue
			}
			if r.verify(ctx) {
				continue
			}
		}
		r.latestMu.Lock()
		sec, seen := r.latest, r.haveSeen
		r.latestMu.Unlock()
		if !seen {
			continue
		}
		if err := r.reconcile(ctx, sec); err != nil && ctx.Err() == nil {
			retry.Reset(r.cfg.RetryPeriod)
		}
	}
}

// reconcile applies one version of the Secret to walletd.
func (r *Replicator) reconcile(ctx context.Context, sec *corev1.Secret) error {
	if role(r.role.Load()) != roleFollower {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if role(r.role.Load()) != roleFollower {
		return nil
	}
	if r.writing {
		// A write admitted before the demotion is still running on
		// walletd; its Commit or Abort signals once it has ended.
		r.setInSync(false, "a write admitted while leading is still running on walletd")
		return nil
	}
	if sec == nil {
		r.setInSync(false, "the keystore Secret does not exist yet (the first leader creates it)")
		return nil
	}
	snap, err := r.cfg.Store.Decode(sec)
	if err != nil {
		r.reportRejected(ctx, sec.ResourceVersion, err)
		return nil // retrying the same bytes cannot help; the next version will come by the watch
	}
	if older, own := r.olderThanOwn(snap); older {
		// Led until just now: the watch has not yet delivered this
		// replica's last commit. Applying this older version would take
		// back keys acknowledged since; the newer version is on its way.
		r.setInSync(false, fmt.Sprintf("waiting for the keystore Secret at generation %d (this replica's last commit); the watch delivered %d", own, snap.Generation))
		return nil
	}
	r.seen.Store(snap.Generation)
	r.noteTerm(snap.Term)
	d, err := r.deriver(snap.State.Seed)
	if err != nil {
		r.reportRejected(ctx, sec.ResourceVersion, err)
		return nil
	}
	wasInSync, prevApplied := r.inSync.Load(), r.applied.Load()
	err = r.syncTo(ctx, d, snap, r.preempt.Load, true)
	switch {
	case errors.Is(err, errPreempted):
		return nil
	case errors.Is(err, keystore.ErrSeedMismatch):
		r.setInSync(false, "seed mismatch: this walletd's seed is not the replicated seed; nothing applied, nothing deleted")
		key := sec.ResourceVersion + "/seed"
		if r.lastReject.Swap(key) != key {
			r.metrics.rejected.WithLabelValues("seed_mismatch").Inc()
			r.log.Error().Str("event", logging.EventKeystoreSeedMismatch).Int64("generation", snap.Generation).
				Msg("this walletd holds another wallet's seed; refusing to replicate into it (nothing deleted)")
			r.events.warn(kubeevents.ReasonKeystoreSeedMismatch, "walletd's seed differs from the replicated keystore seed: not replicating, nothing deleted; recreate this replica's wallet from the keystore (walletd-init)")
		}
		return err
	case err != nil:
		reason := "applying the keystore to walletd failed: " + err.Error()
		// Log when the failure changes, not on every retry.
		if prev, _ := r.reason.Load().(string); prev != reason {
			r.log.Warn().Str("event", logging.EventKeystoreApplyFailed).Int64("generation", snap.Generation).Err(err).Msg("applying the keystore to walletd failed; retrying")
		}
		r.setInSync(false, reason)
		return err
	}
	r.lastReject.Store("")
	r.lastApplied = snap
	r.sealedKey.Store(snap.KeyID)
	r.applied.Store(snap.Generation)
	r.metrics.appliedGeneration.Set(float64(snap.Generation))
	if snap.Generation != prevApplied && !snap.CommittedAt.IsZero() {
		lag := r.cfg.Now().Sub(snap.CommittedAt)
		r.metrics.lag.Observe(max(lag, 0).Seconds())
	}
	r.setInSync(true, "in sync")
	if !wasInSync || snap.Generation != prevApplied {
		r.log.Info().Str("event", logging.EventKeystoreApplied).Int64("generation", snap.Generation).Int64("term", snap.Term).
			Uint32("fct", snap.State.Next.FCT).Uint32("ec", snap.State.Next.EC).Uint32("id", snap.State.Next.ID).
			Int("imported", len(snap.State.Imported)).Int("removed", len(snap.State.Removed)).
			Msg("walletd in sync with the keystore")
	}
	return nil
}

// reportRejected marks the replica not ready for a Secret that fails to
// open, once per resourceVersion: a zerolog line with a stable event and a
// Warning Event on the pod. Nothing is applied or deleted.
func (r *Replicator) reportRejected(ctx context.Context, rv string, err error) {
	r.setInSync(false, "keystore rejected: "+err.Error())
	key := rv + "/" + err.Error()
	if r.lastReject.Swap(key) == key {
		return
	}
	reason := "corrupt"
	if errors.Is(err, keystore.ErrTampered) {
		reason = "tampered"
	} else if errors.Is(err, keystore.ErrWrongKey) {
		reason = "wrong_key"
	}
	r.metrics.rejected.WithLabelValues(reason).Inc()
	r.log.Error().Str("event", logging.EventKeystoreRejected).Str("reason", reason).Str("resourceVersion", rv).Err(err).
		Msg("refusing the keystore Secret: not applied, nothing deleted")
	// Queued: the Event is written off this path, so an unreachable API
	// server does not hold up the reconciler (or a promotion waiting for it).
	r.events.warn(kubeevents.ReasonKeystoreRejected, "keystore Secret %s (resourceVersion %s) refused: %v; nothing applied, nothing deleted", r.cfg.Store.Name(), rv, err)
}

// verify spot-checks an in-sync follower's walletd (spotCheck). It
// reports whether all is well; if not, the view of walletd is dropped and
// the caller reconciles (a full rebuild and replay).
func (r *Replicator) verify(ctx context.Context) bool {
	if role(r.role.Load()) != roleFollower {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if role(r.role.Load()) != roleFollower || r.local == nil || r.lastApplied == nil || !r.inSync.Load() {
		return true
	}
	if err := r.spotCheck(ctx, r.lastApplied.State); err != nil {
		r.local = nil
		r.setInSync(false, "walletd no longer holds the keystore: "+err.Error())
		return false
	}
	// A write walletd finished after this pod's sidecar died leading (a
	// long import still running when the process was killed) lands after
	// the restarted sidecar reconciled as a follower; nothing else would
	// take it back.
	if extra, err := r.unaccountedKeys(ctx, r.lastApplied.State); err == nil && extra > 0 {
		r.log.Warn().Str("event", logging.EventKeystoreWalletdUnaccounted).Int("keys", extra).
			Msg("walletd holds keys the keystore does not account for (a write walletd finished after its sidecar stopped waiting); taking them back")
		r.local = nil
		r.setInSync(false, fmt.Sprintf("walletd holds %d keys the keystore does not account for", extra))
		return false
	}
	return true
}

// spotCheck looks up the newest derived key of each kind that st holds
// (not removed): a walletd restarted on an emptied or another wallet file,
// or unreachable, fails it. Caller holds mu.
func (r *Replicator) spotCheck(ctx context.Context, st *keystore.State) error {
	d, err := r.deriver(st.Seed)
	if err != nil {
		return nil
	}
	for _, kind := range keystore.Kinds {
		for i := int64(st.Next.Get(kind)) - 1; i >= 0; i-- {
			k, err := d.Key(kind, uint32(i))
			if err != nil || st.IsRemoved(k.Public) {
				continue
			}
			if kind == keystore.ID {
				_, err = r.cfg.Walletd.IdentityKey(ctx, k.Public)
			} else {
				_, err = r.cfg.Walletd.Address(ctx, k.Public)
			}
			if err != nil {
				r.log.Warn().Str("event", logging.EventKeystoreWalletdChanged).Str("kind", string(kind)).Str("public", k.Public).Err(err).
					Msg("walletd lost a replicated key (restarted on another wallet, or unreachable); replaying")
				return fmt.Errorf("%s key #%d: %w", kind, i, err)
			}
			break
		}
	}
	return nil
}
