package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

// Counters are walletd's next derivation index per kind: every derived key
// with a lower index has been handed out (and possibly removed since).
type Counters struct {
	FCT uint32 `json:"fct"`
	EC  uint32 `json:"ec"`
	ID  uint32 `json:"id"`
}

// Get returns the counter of kind.
func (c Counters) Get(k Kind) uint32 {
	switch k {
	case FCT:
		return c.FCT
	case EC:
		return c.EC
	default:
		return c.ID
	}
}

// Set sets the counter of kind.
func (c *Counters) Set(k Kind, v uint32) {
	switch k {
	case FCT:
		c.FCT = v
	case EC:
		c.EC = v
	default:
		c.ID = v
	}
}

// Max is the per-kind maximum of c and o.
func (c Counters) Max(o Counters) Counters {
	return Counters{FCT: max(c.FCT, o.FCT), EC: max(c.EC, o.EC), ID: max(c.ID, o.ID)}
}

// Imported is a key that was imported, not derived: only its secret can
// bring it back, so the secret is replicated.
type Imported struct {
	Kind   Kind           `json:"kind"`
	Public string         `json:"public"`
	Secret walletd.Secret `json:"secret"`
}

// Removed is a key removed from the wallet; it stays removed on every
// replica even when replaying its derivation brings it back.
type Removed struct {
	Kind   Kind   `json:"kind"`
	Public string `json:"public"`
}

// State is the replicated keystore. Derived keys are not stored: the seed
// and the counters reproduce them.
type State struct {
	Seed     walletd.Secret `json:"seed"`
	Next     Counters       `json:"next"`
	Imported []Imported     `json:"imported,omitempty"`
	Removed  []Removed      `json:"removed,omitempty"`
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Imported = slices.Clone(s.Imported)
	c.Removed = slices.Clone(s.Removed)
	return &c
}

// Equal reports whether s and o hold the same keystore.
func (s *State) Equal(o *State) bool {
	return s.Seed == o.Seed && s.Next == o.Next && slices.Equal(s.Imported, o.Imported) && slices.Equal(s.Removed, o.Removed)
}

// IsRemoved reports whether public was removed.
func (s *State) IsRemoved(public string) bool {
	return slices.ContainsFunc(s.Removed, func(r Removed) bool { return r.Public == public })
}

// EachHeldDerived calls fn with every derived key below the counters that
// is not removed: the derived keys a replica's walletd must hold.
func (s *State) EachHeldDerived(d *Deriver, fn func(Kind, walletd.Key)) error {
	removed := make(map[string]bool, len(s.Removed))
	for _, r := range s.Removed {
		removed[r.Public] = true
	}
	for _, kind := range Kinds {
		err := d.Each(kind, 0, s.Next.Get(kind), func(_ uint32, k walletd.Key) bool {
			if !removed[k.Public] {
				fn(kind, k)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *State) addImported(kind Kind, k walletd.Key) {
	s.unremove(k.Public)
	if slices.ContainsFunc(s.Imported, func(i Imported) bool { return i.Public == k.Public }) {
		return
	}
	s.Imported = append(s.Imported, Imported{Kind: kind, Public: k.Public, Secret: k.Secret})
}

func (s *State) unremove(public string) {
	s.Removed = slices.DeleteFunc(s.Removed, func(r Removed) bool { return r.Public == public })
}

func (s *State) remove(kind Kind, public string) {
	s.Imported = slices.DeleteFunc(s.Imported, func(i Imported) bool { return i.Public == public })
	if !s.IsRemoved(public) {
		s.Removed = append(s.Removed, Removed{Kind: kind, Public: public})
	}
}

// Errors of Apply.
var (
	// ErrDerivationMismatch: a generate-* result is not the key derived at
	// (or shortly after) the counter; the state must be rebuilt from a
	// wallet-backup.
	ErrDerivationMismatch = errors.New("generated key is not the derivation at the counter")
	// ErrNotKeystoreWrite: the method does not change the keystore.
	ErrNotKeystoreWrite = errors.New("not a keystore write")
	// ErrBadResult: walletd's result or the request's params do not decode.
	ErrBadResult = errors.New("undecodable keystore write")
)

// ErrAlreadyIssued: a generate-* returned a key the keystore already
// holds, or held and removed: a derivation below the counter, an imported
// key or a removed one. It was handed out before, so it must not be handed
// out again: the write is refused, whatever walletd's state.
var ErrAlreadyIssued = errors.New("generated key was handed out before")

// SkipWindow bounds how far past the counter a generated key may lie. A
// walletd can be ahead of the replicated counter by the keys it generated
// whose commit failed (never acknowledged to a client); they are skipped.
const SkipWindow = 1024

// Change says what Apply did, for logs and metrics (no secrets).
type Change struct {
	Kind Kind
	// Public is the key generated, imported or removed (the first one for
	// a batch import).
	Public string
	// Index is the derivation index of a generated key.
	Index uint32
	// Skipped counts indices between the counter and Index: keys walletd
	// generated that were never committed.
	Skipped uint32
	Count   int
}

// GenerateKind is the kind a generate-* method derives.
func GenerateKind(method string) (Kind, bool) {
	switch method {
	case walletd.MethodGenerateFactoidAddress:
		return FCT, true
	case walletd.MethodGenerateECAddress:
		return EC, true
	case walletd.MethodGenerateIdentityKey:
		return ID, true
	}
	return "", false
}

// CheckGenerated refuses (ErrAlreadyIssued) a generate-* result of kind
// that s already accounts for: a derivation below s's counter of that kind,
// an imported key or a removed one. An undecodable result is ErrBadResult.
// This holds whatever the derivation says about the key, so a walletd whose
// counter is behind the keystore (or a derivation that disagrees with
// walletd's) can never make a key be acknowledged twice.
func (s *State) CheckGenerated(d *Deriver, kind Kind, result json.RawMessage) error {
	var k walletd.Key
	if err := json.Unmarshal(result, &k); err != nil || k.Public == "" {
		return fmt.Errorf("generate %s: %w", kind, ErrBadResult)
	}
	if s.IsRemoved(k.Public) || slices.ContainsFunc(s.Imported, func(i Imported) bool { return i.Public == k.Public }) {
		return fmt.Errorf("generate %s: %s is in the keystore: %w", kind, k.Public, ErrAlreadyIssued)
	}
	if i, found, err := d.IndexOf(kind, k.Public, 0, s.Next.Get(kind)); err != nil {
		return fmt.Errorf("generate %s: %w", kind, err)
	} else if found {
		return fmt.Errorf("generate %s: %s is index %d, below the counter %d: %w", kind, k.Public, i, s.Next.Get(kind), ErrAlreadyIssued)
	}
	return nil
}

// Apply changes s by the successful walletd write method(params) → result.
// A generate-* result must be the derivation at the counter (or up to
// SkipWindow after it); otherwise ErrDerivationMismatch. Errors carry no
// secret.
func (s *State) Apply(d *Deriver, method string, params, result json.RawMessage) (Change, error) {
	if kind, ok := GenerateKind(method); ok {
		var k walletd.Key
		if err := json.Unmarshal(result, &k); err != nil || k.Public == "" {
			return Change{}, fmt.Errorf("%s: %w", method, ErrBadResult)
		}
		next := s.Next.Get(kind)
		idx, found, err := d.IndexOf(kind, k.Public, next, next+SkipWindow)
		if err != nil {
			return Change{}, fmt.Errorf("%s: %w", method, err)
		}
		if !found {
			return Change{}, fmt.Errorf("%s: %s at counter %d: %w", method, k.Public, next, ErrDerivationMismatch)
		}
		want, _ := d.Key(kind, idx)
		if want.Secret != k.Secret {
			return Change{}, fmt.Errorf("%s: %s: secret differs from the derivation: %w", method, k.Public, ErrDerivationMismatch)
		}
		// The skipped indices were generated by a walletd whose commits
		// failed and were taken back: nobody received them, and a follower
		// replaying the counter must not keep them.
		if err := d.Each(kind, next, idx, func(_ uint32, sk walletd.Key) bool { s.remove(kind, sk.Public); return true }); err != nil {
			return Change{}, fmt.Errorf("%s: %w", method, err)
		}
		s.Next.Set(kind, idx+1)
		s.unremove(k.Public)
		return Change{Kind: kind, Public: k.Public, Index: idx, Skipped: idx - next, Count: 1}, nil
	}
	switch method {
	case walletd.MethodImportAddresses, walletd.MethodImportIdentityKeys, walletd.MethodImportKoinify:
		var keys []walletd.Key
		switch method {
		case walletd.MethodImportAddresses:
			var r struct {
				Addresses []walletd.Key `json:"addresses"`
			}
			if err := json.Unmarshal(result, &r); err != nil {
				return Change{}, fmt.Errorf("%s: %w", method, ErrBadResult)
			}
			keys = r.Addresses
		case walletd.MethodImportIdentityKeys:
			var r struct {
				Keys []walletd.Key `json:"keys"`
			}
			if err := json.Unmarshal(result, &r); err != nil {
				return Change{}, fmt.Errorf("%s: %w", method, ErrBadResult)
			}
			keys = r.Keys
		default:
			var k walletd.Key
			if err := json.Unmarshal(result, &k); err != nil {
				return Change{}, fmt.Errorf("%s: %w", method, ErrBadResult)
			}
			keys = []walletd.Key{k}
		}
		ch := Change{Count: len(keys)}
		for i, k := range keys {
			// Trust the secret, not walletd's public string: the public
			// key is recomputed from it.
			kind, parsed, err := KeyFromSecret(k.Secret)
			if err != nil {
				return Change{}, fmt.Errorf("%s: key %d: %w", method, i, err)
			}
			if parsed.Public != k.Public {
				return Change{}, fmt.Errorf("%s: key %d: public key does not match its secret: %w", method, i, ErrBadResult)
			}
			s.addImported(kind, parsed)
			if i == 0 {
				ch.Kind, ch.Public = kind, parsed.Public
			}
		}
		return ch, nil
	case walletd.MethodRemoveAddress, walletd.MethodRemoveIdentityKey:
		var p struct {
			Address string `json:"address"`
			Public  string `json:"public"`
		}
		if err := json.Unmarshal(params, &p); err != nil {
			return Change{}, fmt.Errorf("%s: %w", method, ErrBadResult)
		}
		pub := p.Address
		if method == walletd.MethodRemoveIdentityKey {
			pub = p.Public
		}
		kind, ok := KindOfPublic(pub)
		if !ok {
			return Change{}, fmt.Errorf("%s: not a public key: %w", method, ErrBadResult)
		}
		s.remove(kind, pub)
		return Change{Kind: kind, Public: pub, Count: 1}, nil
	}
	return Change{}, fmt.Errorf("%s: %w", method, ErrNotKeystoreWrite)
}

// FromBackup rebuilds a state from a wallet-backup, keeping prev's removed
// keys that are still absent and never lowering prev's counters. Keys that
// are derivations of the seed raise the counters; all others are imported.
// Derived indices are searched up to the largest of the counter and the
// number of keys of that kind, plus SkipWindow.
func FromBackup(d *Deriver, b *walletd.Backup, prev *State) (*State, error) {
	s := &State{Seed: b.Seed}
	if prev != nil {
		if prev.Seed != b.Seed {
			return nil, ErrSeedMismatch
		}
		s.Next = prev.Next
	}
	byKind := map[Kind][]walletd.Key{}
	present := map[string]bool{}
	for _, k := range append(slices.Clone(b.Addresses), b.IdentityKeys...) {
		kind, parsed, err := KeyFromSecret(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("wallet-backup: %w", err)
		}
		byKind[kind] = append(byKind[kind], parsed)
		present[parsed.Public] = true
	}
	for _, kind := range Kinds {
		keys := byKind[kind]
		limit := max(s.Next.Get(kind), uint32(len(keys))) + SkipWindow
		index := map[string]uint32{}
		if err := d.Each(kind, 0, limit, func(i uint32, k walletd.Key) bool { index[k.Public] = i; return true }); err != nil {
			return nil, err
		}
		for _, k := range keys {
			if i, ok := index[k.Public]; ok {
				if i+1 > s.Next.Get(kind) {
					s.Next.Set(kind, i+1)
				}
				continue
			}
			s.addImported(kind, k)
		}
	}
	if prev != nil {
		for _, r := range prev.Removed {
			if !present[r.Public] {
				s.Removed = append(s.Removed, r)
			}
		}
		return s, nil
	}
	// No earlier state (the Secret is created from this walletd, perhaps
	// again after it was deleted): a derived key below the counter that
	// walletd lacks was removed. Recorded, so no replica restores it.
	for _, kind := range Kinds {
		if err := d.Each(kind, 0, s.Next.Get(kind), func(_ uint32, k walletd.Key) bool {
			if !present[k.Public] {
				s.remove(kind, k.Public)
			}
			return true
		}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ErrSeedMismatch: a walletd's seed is not the replicated seed.
var ErrSeedMismatch = errors.New("walletd seed differs from the replicated seed")

// Adopt moves the counters up to ahead: a walletd that generated keys past
// the keystore (a deposed leader whose commits failed) is promoted, and no
// one may hand those indices out again. An adopted index whose key walletd
// no longer holds (it was rolled back or removed as never acknowledged) is
// recorded as removed, so no replica restores a key nobody received.
func (s *State) Adopt(d *Deriver, ahead Counters, holds func(public string) bool) error {
	for _, k := range Kinds {
		err := d.Each(k, s.Next.Get(k), ahead.Get(k), func(_ uint32, key walletd.Key) bool {
			if !holds(key.Public) {
				s.remove(k, key.Public)
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("adopt %s: %w", k, err)
		}
		if ahead.Get(k) > s.Next.Get(k) {
			s.Next.Set(k, ahead.Get(k))
		}
	}
	return nil
}
