package walletsync

import (
	"context"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// bumpTerm fences the keystore under term and, when the election says
// which transition this is, records it in the leader history in the same
// write (kubectl factom history reads it).
func (r *Replicator) bumpTerm(ctx context.Context, snap *store.Snapshot, term int64, next *keystore.State) (*store.Snapshot, error) {
	t, ok := leader.TransitionFrom(ctx)
	if !ok || t.Term != term {
		return r.cfg.Store.BumpTerm(ctx, snap, term, next)
	}
	return r.cfg.Store.BumpTermRecording(ctx, snap, term, next, t, r.cfg.Now())
}
