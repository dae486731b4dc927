package walletsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
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

// replay brings walletd to st, so that it holds exactly the keys st
// accounts for:
//
//  1. generate-* until walletd's counter of each kind reaches st's (each
//     result checked against the derivation). The view's counters are a
//     lower bound inferred from the keys walletd holds; walletd's real
//     counter may be higher (keys removed locally by a write that was never
//     committed, or a crash between walletd's counter and key writes), and
//     then walletd answers with a later index: the view jumps to it.
//  2. restore: import every derivation below st's counter that st does not
//     record as removed and walletd lacks (its secret is derived from the
//     seed). Step 1 proved walletd's counter is at least st's, so
//     importing them never leaves walletd's counter behind a key it holds.
//     A derived key missing locally is never read as "counter is lower".
//  3. import the imported keys walletd lacks (batches of 200), remove the
//     removed keys it holds;
//  4. remove the keys st does not account for (cleanAhead: also derived
//     keys at or past st's counter): keys a write put on walletd whose
//     commit failed, so no client was acknowledged them, or that step 1
//     generated itself. walletd's counter stays where it is, so a removed
//     derived key past the counter is skipped, never handed out.
//
// stop is polled between calls so a promotion can take over a long replay.
func (r *Replicator) replay(ctx context.Context, d *keystore.Deriver, v *localView, st *keystore.State, stop func() bool, cleanAhead bool) error {
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
			if idx != from {
				r.log.Warn().Str("event", logging.EventKeystoreWalletdAhead).Str("kind", string(kind)).Uint32("expected", from).Uint32("index", idx).
					Msg("walletd's counter was past the keys it holds (keys removed locally by an uncommitted write); missing keys below the keystore's counter are restored by import")
			}
			v.next.Set(kind, idx+1)
			v.present[k.Public] = kind
			r.metrics.replayed.WithLabelValues("generate").Inc()
		}
	}

	// want: every key st says walletd must hold.
	want := make(map[string]keystore.Kind, len(st.Imported))
	var addrs []walletd.Secret
	var ids []walletd.Key
	err := st.EachHeldDerived(d, func(kind keystore.Kind, k walletd.Key) {
		want[k.Public] = kind
		if _, ok := v.present[k.Public]; ok {
			return
		}
		if kind == keystore.ID {
			ids = append(ids, k)
		} else {
			addrs = append(addrs, k.Secret)
		}
	})
	if err != nil {
		return err
	}
	if n := len(addrs) + len(ids); n > 0 {
		r.log.Warn().Str("event", logging.EventKeystoreRestore).Int("keys", n).
			Msg("walletd lacks derived keys the keystore holds (removed locally by an uncommitted write); importing them")
		r.metrics.replayed.WithLabelValues("restore").Add(float64(n))
	}
	for _, imp := range st.Imported {
		want[imp.Public] = imp.Kind
		if _, ok := v.present[imp.Public]; ok {
			continue
		}
		if imp.Kind == keystore.ID {
			ids = append(ids, walletd.Key{Public: imp.Public, Secret: imp.Secret})
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
		secrets := make([]walletd.Secret, n)
		for i, k := range ids[:n] {
			secrets[i] = k.Secret
		}
		// Quietly: walletd prints a successful import-identity-keys'
		// secrets to its output.
		if err := w.ImportIdentityKeysQuietly(ctx, secrets...); err != nil {
			return fmt.Errorf("replay identity imports: %w", err)
		}
		for _, k := range ids[:n] {
			v.present[k.Public] = keystore.ID
		}
		r.metrics.replayed.WithLabelValues("import").Add(float64(n))
		ids = ids[n:]
	}

	// Removed keys walletd holds, then keys st does not account for.
	var drop []keystore.Removed
	for _, rm := range st.Removed {
		if _, ok := v.present[rm.Public]; ok {
			drop = append(drop, rm)
		}
	}
	for pub, kind := range v.present {
		if _, ok := want[pub]; ok || st.IsRemoved(pub) {
			continue
		}
		if !cleanAhead {
			if _, derived, err := d.IndexOf(kind, pub, st.Next.Get(kind), v.next.Get(kind)); err != nil {
				return err
			} else if derived {
				continue // walletd is ahead: kept, and adopted by a promotion
			}
		}
		r.log.Warn().Str("event", logging.EventKeystoreUnknownKeyRemoved).Str("kind", string(kind)).Str("public", pub).
			Msg("walletd holds a key the keystore does not (its write was never committed, so never acknowledged); removing it")
		r.metrics.replayed.WithLabelValues("cleanup").Inc()
		drop = append(drop, keystore.Removed{Kind: kind, Public: pub})
	}
	for _, rm := range drop {
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

// syncTo brings this walletd to snap (rebuilding the local view when
// needed). Caller holds mu.
func (r *Replicator) syncTo(ctx context.Context, d *keystore.Deriver, snap *store.Snapshot, stop func() bool, cleanAhead bool) error {
	now := r.cfg.Now()
	if r.local == nil || now.Sub(r.local.builtAt) > r.cfg.ResyncPeriod {
		v, err := buildLocal(ctx, r.cfg.Walletd, d, snap.State, now)
		if err != nil {
			return err
		}
		r.local = v
	}
	if err := r.replay(ctx, d, r.local, snap.State, stop, cleanAhead); err != nil {
		// Whatever happened, walletd's contents are uncertain now.
		r.local = nil
		return err
	}
	return nil
}
