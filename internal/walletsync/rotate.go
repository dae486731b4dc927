package walletsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/filereload"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// Sealing-key rotation. The store seals with the current key and opens
// with the current or any previous one. When the key files change, a
// follower retries the Secret at once (a key it lacked may be there now),
// and the leader re-seals the Secret with the current key at its next
// check between writes, so a rotation finishes without a client write.

// defaultKeyReloadPeriod: how often the key files are re-read. A mounted
// Secret reaches the pod within the kubelet's sync period (about a
// minute), so this adds little.
const defaultKeyReloadPeriod = 10 * time.Second

func (r *Replicator) runKeyReload(ctx context.Context) {
	if r.cfg.KeyFiles == nil {
		return
	}
	filereload.Every(ctx, r.cfg.KeyReloadPeriod, r.cfg.KeyFiles.Reload, r.log, filereload.Events{Reloaded: logging.EventKeystoreKeysReloaded, Failed: logging.EventKeystoreKeysReloadFailed},
		"the keys read before stay in force", r.keysChanged)
}

func (r *Replicator) keysChanged() {
	ring := r.cfg.Store.Keyring()
	r.log.Info().Str("event", logging.EventKeystoreKeysChanged).Str("keyId", ring.Current().ID()).Strs("keyIds", ring.IDs()).
		Msg("sealing keys reloaded: new versions are sealed with keyId; any of keyIds opens")
	r.lastReject.Store("") // a refusal for a missing key is worth reporting again
	r.signal()
}

// KeyStatus is the sealing-key part of /status: the key new versions are
// sealed with, every key that opens, and the key of the version this
// replica last applied or committed.
func (r *Replicator) KeyStatus() map[string]any {
	ring := r.cfg.Store.Keyring()
	sealed, _ := r.sealedKey.Load().(string)
	return map[string]any{
		"keystoreKeyId":       ring.Current().ID(),
		"keystoreKeyIds":      ring.IDs(),
		"keystoreSealedKeyId": sealed,
	}
}

// resealLocked writes the committed state again, sealed with the current
// key, when the Secret is sealed with another (a rotation in progress). It
// changes nothing but the seal and the generation; a failure is retried at
// the next check. Caller holds mu, and no write is prepared.
func (r *Replicator) resealLocked(ctx context.Context, term int64) {
	cur := r.cfg.Store.Keyring().Current().ID()
	if r.snap.KeyID == cur && !r.stale {
		return
	}
	err := r.reloadIfStaleLocked(ctx, term)
	if err == nil && r.snap.KeyID == cur {
		return
	}
	from := r.snap.KeyID
	var snap *store.Snapshot
	if err == nil {
		snap, err = r.cfg.Store.Commit(ctx, r.snap, term, r.snap.State)
	}
	if err != nil {
		if errors.Is(err, store.ErrFenced) {
			r.fence(term, store.StoredTerm(err))
		} else {
			r.stale = true
		}
		r.log.Warn().Str("event", logging.EventKeystoreResealFailed).Str("fromKeyId", from).Str("keyId", cur).Err(err).
			Msg("re-sealing the keystore with the current key failed; retrying at the next check")
		return
	}
	r.setSnap(snap)
	r.applied.Store(snap.Generation)
	r.seen.Store(snap.Generation)
	r.metrics.appliedGeneration.Set(float64(snap.Generation))
	r.log.Info().Str("event", logging.EventKeystoreResealed).Str("fromKeyId", from).Str("keyId", cur).Int64("generation", snap.Generation).
		Msg("keystore re-sealed with the current key")
}

// reloadIfStaleLocked reads the Secret again after a re-seal whose outcome
// is unknown (walletd was not touched, so nothing needs taking back).
func (r *Replicator) reloadIfStaleLocked(ctx context.Context, term int64) error {
	if !r.stale {
		return nil
	}
	snap, err := r.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("reload keystore: %w", err)
	}
	if snap.Term != term {
		r.fence(term, snap.Term)
		return fmt.Errorf("reload keystore under term %d, stored term %d: %w", term, snap.Term, store.ErrFenced)
	}
	r.setSnap(snap)
	r.stale = false
	return nil
}
