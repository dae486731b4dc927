package walletsync

import (
	"context"

	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

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
