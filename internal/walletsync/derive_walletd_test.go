package walletsync_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/FactomProject/factom"
	bip32 "github.com/FactomProject/go-bip32"
	bip39 "github.com/FactomProject/go-bip39"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

// linkedLibraryKey is the key the factom library as linked into the sidecar
// (go-bip32 v0.3.5) derives; ok is false where it refuses the index.
func linkedLibraryKey(seed walletd.Secret, kind keystore.Kind, i uint32) (string, bool) {
	var pub string
	var err error
	switch kind {
	case keystore.FCT:
		var a *factom.FactoidAddress
		if a, err = factom.MakeBIP44FactoidAddress(seed.Reveal(), bip32.FirstHardenedChild, 0, i); err == nil {
			pub = a.String()
		}
	case keystore.EC:
		var a *factom.ECAddress
		if a, err = factom.MakeBIP44ECAddress(seed.Reveal(), bip32.FirstHardenedChild, 0, i); err == nil {
			pub = a.PubString()
		}
	default:
		var k *factom.IdentityKey
		if k, err = factom.MakeBIP44IdentityKey(seed.Reveal(), bip32.FirstHardenedChild, 0, i); err == nil {
			pub = k.PubString()
		}
	}
	return pub, err == nil
}

func randomSeed(t testing.TB) walletd.Secret {
	t.Helper()
	entropy := make([]byte, 16)
	if _, err := rand.Read(entropy); err != nil {
		t.Fatal(err)
	}
	m, err := bip39.NewMnemonic(entropy)
	if err != nil {
		t.Fatal(err)
	}
	return walletd.Secret(m)
}

// TestDerivationMatchesWalletd generates keys of every kind on real walletd
// processes, each on a fresh wallet of its own seed, and compares every one
// (public key and secret) with the replicator's derivation. Besides random
// seeds it picks seeds where a key on the BIP32 path has a leading zero
// byte, found by their disagreement with the factom library as linked into
// the sidecar: one whose whole chain of some kind differs (a hardened
// parent with a leading zero: finding 1 of docs/FAULTS.md, an identity
// chain), and one with such a key among the first indices generated (the
// "31-byte key" indices walletd does hand out, padded).
func TestDerivationMatchesWalletd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs walletd")
	}
	const perKind = 12
	type pick struct {
		seed walletd.Secret
		why  string
	}
	var picks []pick
	for range 3 {
		picks = append(picks, pick{randomSeed(t), "random"})
	}
	zeroLead := make([]byte, 16)
	if _, err := rand.Read(zeroLead[1:]); err != nil {
		t.Fatal(err)
	}
	m, err := bip39.NewMnemonic(zeroLead)
	if err != nil {
		t.Fatal(err)
	}
	picks = append(picks, pick{walletd.Secret(m), "entropy starting with a zero byte"})
	var chainSeed, indexSeed bool
	for n := 0; n < 5000 && !(chainSeed && indexSeed); n++ {
		seed := randomSeed(t)
		d, err := keystore.NewDeriver(seed)
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range keystore.Kinds {
			k0, err := d.Key(kind, 0)
			if err != nil {
				t.Fatal(err)
			}
			lib0, ok0 := linkedLibraryKey(seed, kind, 0)
			lib1, ok1 := linkedLibraryKey(seed, kind, 1)
			k1, _ := d.Key(kind, 1)
			if !chainSeed && ok0 && ok1 && lib0 != k0.Public && lib1 != k1.Public {
				chainSeed = true
				picks = append(picks, pick{seed, fmt.Sprintf("the linked library derives another %s chain", kind)})
				break
			}
			if indexSeed {
				continue
			}
			for i := uint32(0); i < perKind; i++ {
				if _, ok := linkedLibraryKey(seed, kind, i); !ok {
					indexSeed = true
					picks = append(picks, pick{seed, fmt.Sprintf("the linked library refuses %s #%d (31-byte key)", kind, i)})
					break
				}
			}
			if indexSeed {
				break
			}
		}
	}
	if !chainSeed || !indexSeed {
		t.Fatalf("no seed with a leading-zero key found (chain %v, index %v)", chainSeed, indexSeed)
	}

	ctx := context.Background()
	for n, p := range picks {
		t.Run(fmt.Sprintf("seed%d", n), func(t *testing.T) {
			t.Logf("seed %d: %s", n, p.why)
			d, err := keystore.NewDeriver(p.seed)
			if err != nil {
				t.Fatal(err)
			}
			path := walletPath(t, fmt.Sprintf("derive-%d", n))
			if err := walletfile.Create(path, walletfile.Contents{Seed: p.seed}); err != nil {
				t.Fatal(err)
			}
			w := startWalletd(t, path)
			for _, kind := range keystore.Kinds {
				for i := uint32(0); i < perKind; i++ {
					cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					var got walletd.Key
					switch kind {
					case keystore.FCT:
						got, err = w.client.GenerateFactoidAddress(cctx)
					case keystore.EC:
						got, err = w.client.GenerateECAddress(cctx)
					default:
						got, err = w.client.GenerateIdentityKey(cctx)
					}
					cancel()
					if err != nil {
						t.Fatalf("walletd generate %s #%d: %v", kind, i, err)
					}
					want, err := d.Key(kind, i)
					if err != nil {
						t.Fatalf("derive %s #%d: %v (walletd handed out %s)", kind, i, err, got.Public)
					}
					if got.Public != want.Public || got.Secret != want.Secret {
						t.Fatalf("%s #%d: walletd generated %s, derived %s", kind, i, got.Public, want.Public)
					}
				}
			}
		})
	}
}
