package walletsync

import (
	"context"
	"fmt"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

// unaccountedKeys counts the keys the leader's walletd holds that st does
// not account for. A write walletd finished after its sidecar stopped
// waiting leaves them: a leader's sidecar killed during a long import is
// restarted, takes the lease again and promotes while the old import is
// still running on walletd, which goes on adding keys after promotion
// reconciled. No client was acknowledged those keys, so they are taken
// back like any uncommitted write, once two checks in a row saw them.
// Only public keys are compared. Caller holds mu.
func (r *Replicator) unaccountedKeys(ctx context.Context, st *keystore.State) (int, error) {
	want, err := r.accountedFor(st)
	if err != nil {
		return 0, err
	}
	addrs, err := r.cfg.Walletd.AllAddresses(ctx)
	if err != nil {
		return 0, fmt.Errorf("list walletd's addresses: %w", err)
	}
	ids, err := r.cfg.Walletd.AllIdentityKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("list walletd's identity keys: %w", err)
	}
	// A key counts only when the previous check saw it unaccounted too: a
	// write walletd has made whose commit is still on its way (a path that
	// did not go through Prepare) is accounted for by the next check.
	seen := make(map[string]bool)
	extra := 0
	for _, k := range append(addrs, ids...) {
		if !want[k.Public] {
			seen[k.Public] = true
			if r.unaccounted[k.Public] {
				extra++
			}
		}
	}
	r.unaccounted = seen
	return extra, nil
}

// accountedFor is the set of public keys st says walletd holds, kept for
// the snapshot it was computed from: deriving every key on each periodic
// check would cost a leader with thousands of keys for nothing. Caller
// holds mu.
func (r *Replicator) accountedFor(st *keystore.State) (map[string]bool, error) {
	if r.accounted != nil && r.accountedState == st {
		return r.accounted, nil
	}
	d, err := r.deriver(st.Seed)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(st.Imported))
	if err := st.EachHeldDerived(d, func(_ keystore.Kind, k walletd.Key) { want[k.Public] = true }); err != nil {
		return nil, err
	}
	for _, k := range st.Imported {
		want[k.Public] = true
	}
	r.accounted, r.accountedState = want, st
	return want, nil
}
