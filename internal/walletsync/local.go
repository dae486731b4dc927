package walletsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

// localView is what this replica's walletd holds, as far as the replicator
// knows: built from one wallet-backup, then kept up to date with the
// replicator's own writes (it is walletd's only writer while following).
// It is dropped, and rebuilt, after any walletd error and every resync
// period, so a walletd that restarted or was changed by hand is noticed.
type localView struct {
	next    keystore.Counters
	present map[string]keystore.Kind
	builtAt time.Time
}

// errSeedMismatch: this walletd's seed is not the replicated one.
var errSeedMismatch = keystore.ErrSeedMismatch

// buildLocal reads walletd's keystore and works out its counters: for each
// kind, one past the highest index whose derivation walletd holds,
// searching to SkipWindow past the larger of the replicated counter and the
// highest index found (a walletd may be ahead of the Secret by keys a
// deposed leader generated but never committed).
func buildLocal(ctx context.Context, w *walletd.Client, d *keystore.Deriver, st *keystore.State, now time.Time) (*localView, error) {
	b, err := w.WalletBackup(ctx)
	if err != nil {
		return nil, err
	}
	if b.Seed != st.Seed {
		return nil, errSeedMismatch
	}
	v := &localView{present: map[string]keystore.Kind{}, builtAt: now}
	for _, k := range append(b.Addresses, b.IdentityKeys...) {
		kind, ok := keystore.KindOfPublic(k.Public)
		if !ok {
			return nil, fmt.Errorf("walletd holds a key of unknown kind")
		}
		v.present[k.Public] = kind
	}
	for _, kind := range keystore.Kinds {
		var next uint32
		for i := uint32(0); i < max(st.Next.Get(kind), next)+keystore.SkipWindow; i++ {
			k, err := d.Key(kind, i)
			if errors.Is(err, keystore.ErrInvalidIndex) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if _, ok := v.present[k.Public]; ok {
				next = i + 1
			}
		}
		// Removed derived keys leave holes walletd's counter has passed;
		// the replicated counter covers them when they are below it.
		v.next.Set(kind, next)
	}
	return v, nil
}

// replay brings walletd to st: generate-* until every counter reaches the
// replicated one (each result checked against the derivation), import the
// imported keys walletd lacks, remove the removed keys it holds. stop is
// polled between calls so a promotion can take over a long replay.
func (r *Replicator) replay(ctx context.Context, d *keystore.Deriver, v *localView, st *keystore.State, stop func() bool) error {
	w := r.cfg.Walletd
	for _, kind := range keystore.Kinds {
		for v.next.Get(kind) < st.Next.Get(kind) {
			if stop() {
				return errPreempted
			}
			var k walletd.Key
			var err error
			switch kind {
			case keystore.FCT:
				k, err = w.GenerateFactoidAddress(ctx)
			case keystore.EC:
				k, err = w.GenerateECAddress(ctx)
			default:
				k, err = w.GenerateIdentityKey(ctx)
			}
			if err != nil {
				return fmt.Errorf("replay %s #%d: %w", kind, v.next.Get(kind), err)
			}
			from := v.next.Get(kind)
			idx, found, err := d.IndexOf(kind, k.Public, from, from+keystore.SkipWindow)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("replay %s #%d: walletd generated %s: %w", kind, from, k.Public, keystore.ErrDerivationMismatch)
			}
			v.next.Set(kind, idx+1)
			v.present[k.Public] = kind
			r.metrics.replayed.WithLabelValues("generate").Inc()
		}
	}

	var addrs, ids []walletd.Secret
	for _, imp := range st.Imported {
		if _, ok := v.present[imp.Public]; ok {
			continue
		}
		if imp.Kind == keystore.ID {
			ids = append(ids, imp.Secret)
		} else {
			addrs = append(addrs, imp.Secret)
		}
	}
	const batch = 200
	for len(addrs) > 0 {
		n := min(batch, len(addrs))
		keys, err := w.ImportAddresses(ctx, addrs[:n]...)
		if err != nil {
			return fmt.Errorf("replay imports: %w", err)
		}
		for _, k := range keys {
			if kind, ok := keystore.KindOfPublic(k.Public); ok {
				v.present[k.Public] = kind
			}
		}
		r.metrics.replayed.WithLabelValues("import").Add(float64(n))
		addrs = addrs[n:]
	}
	for len(ids) > 0 {
		n := min(batch, len(ids))
		keys, err := w.ImportIdentityKeys(ctx, ids[:n]...)
		if err != nil {
			return fmt.Errorf("replay identity imports: %w", err)
		}
		for _, k := range keys {
			v.present[k.Public] = keystore.ID
		}
		r.metrics.replayed.WithLabelValues("import").Add(float64(n))
		ids = ids[n:]
	}

	for _, rm := range st.Removed {
		if _, ok := v.present[rm.Public]; !ok {
			continue
		}
		if stop() {
			return errPreempted
		}
		var err error
		if rm.Kind == keystore.ID {
			err = w.RemoveIdentityKey(ctx, rm.Public)
		} else {
			err = w.RemoveAddress(ctx, rm.Public)
		}
		if err != nil {
			return fmt.Errorf("replay removal of %s: %w", rm.Public, err)
		}
		delete(v.present, rm.Public)
		r.metrics.replayed.WithLabelValues("remove").Inc()
	}
	return nil
}

var errPreempted = errors.New("replay preempted by a promotion")
