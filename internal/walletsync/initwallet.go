package walletsync

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"

	bip39 "github.com/FactomProject/go-bip39"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// InitOutcome says what InitWallet did.
type InitOutcome string

// The outcomes.
const (
	// InitCreated: a wallet file was written from the replicated keystore.
	InitCreated InitOutcome = "created"
	// InitCreatedKeystore: there was no keystore yet; a new seed was
	// created in the Secret and the wallet file written from it.
	InitCreatedKeystore InitOutcome = "created_keystore"
	// InitExistsSameSeed: the wallet file exists and holds the replicated seed.
	InitExistsSameSeed InitOutcome = "exists"
	// InitExistsNoKeystore: the wallet file exists and there is no keystore
	// yet; the first leader creates it from its walletd.
	InitExistsNoKeystore InitOutcome = "exists_no_keystore"
)

// ErrWalletSeedMismatch: the wallet file holds another seed than the
// keystore. Nothing is changed.
var ErrWalletSeedMismatch = errors.New("the wallet file holds another seed than the replicated keystore; refusing to use it (nothing changed: move the file away to recreate it from the keystore)")

// InitResult is InitWallet's report (no secrets).
type InitResult struct {
	Outcome    InitOutcome
	Generation int64
	Keys       int
	Next       keystore.Counters
}

// InitWallet prepares walletd's wallet file at path before walletd first
// starts (the walletd-init init container):
//
//   - no wallet file, keystore present: write the file with the replicated
//     seed, the counters and every key (derived and imported, minus
//     removed) in one transaction, so walletd starts in sync without
//     replaying thousands of generate-* calls;
//   - no wallet file, no keystore: create the keystore with a new random
//     seed (term 0) if createKeystore, so every replica starting at once
//     shares one seed (a concurrent creator wins; its seed is used);
//   - wallet file present: its seed must equal the keystore's, else
//     ErrWalletSeedMismatch; nothing is changed either way.
func InitWallet(ctx context.Context, st *store.Store, path string, createKeystore bool) (InitResult, error) {
	return InitWalletEncrypted(ctx, st, path, createKeystore, "")
}

// InitWalletEncrypted is InitWallet for walletd -encrypted: the file is
// written in walletd's encrypted format under passphrase, and an existing
// file must open with it (empty passphrase: a plain file, as InitWallet).
func InitWalletEncrypted(ctx context.Context, st *store.Store, path string, createKeystore bool, passphrase walletd.Secret) (InitResult, error) {
	seed, _, err := walletfile.ReadSeedWith(path, passphrase)
	switch {
	case err == nil:
		snap, lerr := st.Load(ctx)
		if errors.Is(lerr, store.ErrNotFound) {
			return InitResult{Outcome: InitExistsNoKeystore}, nil
		}
		if lerr != nil {
			return InitResult{}, fmt.Errorf("walletd-init: %w", lerr)
		}
		if snap.State.Seed != seed {
			return InitResult{}, fmt.Errorf("walletd-init: %s: %w", path, ErrWalletSeedMismatch)
		}
		return InitResult{Outcome: InitExistsSameSeed, Generation: snap.Generation, Next: snap.State.Next}, nil
	case !errors.Is(err, os.ErrNotExist):
		return InitResult{}, fmt.Errorf("walletd-init: %w", err)
	}

	outcome := InitCreated
	snap, err := st.Load(ctx)
	if errors.Is(err, store.ErrNotFound) && createKeystore {
		fresh, nerr := newSeed()
		if nerr != nil {
			return InitResult{}, fmt.Errorf("walletd-init: %w", nerr)
		}
		snap, err = st.Create(ctx, 0, &keystore.State{Seed: fresh})
		outcome = InitCreatedKeystore
		if errors.Is(err, store.ErrConflict) {
			snap, err = st.Load(ctx)
			outcome = InitCreated
		}
	}
	if err != nil {
		return InitResult{}, fmt.Errorf("walletd-init: %w", err)
	}
	c, err := WalletContents(snap.State)
	if err != nil {
		return InitResult{}, fmt.Errorf("walletd-init: %w", err)
	}
	c.Passphrase = passphrase
	if err := walletfile.Create(path, c); err != nil {
		return InitResult{}, fmt.Errorf("walletd-init: %w", err)
	}
	return InitResult{Outcome: outcome, Generation: snap.Generation, Keys: len(c.Keys), Next: snap.State.Next}, nil
}

func newSeed() (walletd.Secret, error) {
	entropy := make([]byte, 16) // 12 words, as walletd's own NewRandomSeed
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("new seed: %w", err)
	}
	m, err := bip39.NewMnemonic(entropy)
	if err != nil {
		return "", fmt.Errorf("new seed: %w", err)
	}
	return walletd.Secret(m), nil
}

// WalletContents is the wallet file that holds st: the seed, the
// counters, every derived key below them except removed ones, and every
// imported key.
func WalletContents(st *keystore.State) (walletfile.Contents, error) {
	d, err := keystore.NewDeriver(st.Seed)
	if err != nil {
		return walletfile.Contents{}, err
	}
	c := walletfile.Contents{Seed: st.Seed, Next: walletfile.Counters{FCT: st.Next.FCT, EC: st.Next.EC, ID: st.Next.ID}}
	if err := st.EachHeldDerived(d, func(_ keystore.Kind, k walletd.Key) { c.Keys = append(c.Keys, k.Secret) }); err != nil {
		return walletfile.Contents{}, err
	}
	for _, imp := range st.Imported {
		c.Keys = append(c.Keys, imp.Secret)
	}
	return c, nil
}
