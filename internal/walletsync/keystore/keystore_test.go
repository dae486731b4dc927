package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/FactomProject/factom"
	bip32 "github.com/FactomProject/go-bip32"
	bip39 "github.com/FactomProject/go-bip39"
	bip44 "github.com/FactomProject/go-bip44"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

func testMnemonic(t testing.TB, b byte) walletd.Secret {
	t.Helper()
	m, err := bip39.NewMnemonic(bytes.Repeat([]byte{b}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return walletd.Secret(m)
}

func testDeriver(t testing.TB, seed walletd.Secret) *Deriver {
	t.Helper()
	d, err := NewDeriver(seed)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The factom library as linked here (go-bip32 v0.3.5) agrees with walletd
// wherever no key on the path has a leading zero byte; seed 1's FCT chain
// has one only at index 644 (below).
func TestDeriverMatchesFactomLibrary(t *testing.T) {
	seed := testMnemonic(t, 1)
	d := testDeriver(t, seed)
	for _, i := range []uint32{0, 1, 2, 17, 643, 645} {
		fa, err := factom.MakeBIP44FactoidAddress(seed.Reveal(), bip32.FirstHardenedChild, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		ec, err := factom.MakeBIP44ECAddress(seed.Reveal(), bip32.FirstHardenedChild, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		id, err := factom.MakeBIP44IdentityKey(seed.Reveal(), bip32.FirstHardenedChild, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			kind        Kind
			pub, secret string
		}{{FCT, fa.String(), fa.SecString()}, {EC, ec.PubString(), ec.SecString()}, {ID, id.PubString(), id.SecString()}} {
			got, err := d.Key(c.kind, i)
			if err != nil {
				t.Fatal(err)
			}
			if got.Public != c.pub || got.Secret.Reveal() != c.secret {
				t.Errorf("%s #%d: derived %s, library %s", c.kind, i, got.Public, c.pub)
			}
			if k, ok := KindOfPublic(got.Public); !ok || k != c.kind {
				t.Errorf("KindOfPublic(%s) = %q", got.Public, k)
			}
			kind, parsed, err := KeyFromSecret(got.Secret)
			if err != nil || kind != c.kind || parsed.Public != c.pub {
				t.Errorf("KeyFromSecret: %v %q %s", err, kind, parsed.Public)
			}
		}
	}
}

// Where the child key has a leading zero byte, go-bip32 v0.3.5 (linked
// here) yields 31 bytes and the library refuses the key; walletd's go-bip32
// pads it to 32 bytes and hands it out. The deriver must yield walletd's
// key: the same number, padded.
func TestDeriverPadsLikeWalletd(t *testing.T) {
	seed := testMnemonic(t, 1)
	d := testDeriver(t, seed)
	if _, err := factom.MakeBIP44FactoidAddress(seed.Reveal(), bip32.FirstHardenedChild, 0, 644); err == nil {
		t.Fatal("library accepts FCT #644 of seed 1: the test no longer covers a 31-byte key")
	}
	raw, err := bip44.NewKeyFromMnemonic(seed.Reveal(), bip44.TypeFactomFactoids, bip32.FirstHardenedChild, 0, 644)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Key) != 31 {
		t.Fatalf("library child key has %d bytes", len(raw.Key))
	}
	want, err := factom.MakeFactoidAddress(append([]byte{0}, raw.Key...))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Key(FCT, 644)
	if err != nil {
		t.Fatalf("FCT #644: %v", err)
	}
	if got.Public != want.String() || got.Secret.Reveal() != want.SecString() {
		t.Fatalf("FCT #644: derived %s, want the padded key %s", got.Public, want.String())
	}
	if i, ok, err := d.IndexOf(FCT, got.Public, 600, 700); err != nil || !ok || i != 644 {
		t.Fatalf("IndexOf: %d %v %v", i, ok, err)
	}
}

func BenchmarkDerive(b *testing.B) {
	seed := testMnemonic(b, 1)
	d := testDeriver(b, seed)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = d.Key(EC, uint32(i))
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := walletd.Secret("Fs1KWJrpLdfucvmYwN2nWrwepLn8ercpMbzXshd1g8zyhKXLVLWj")
	k := walletd.Key{Public: "FA", Secret: s}
	for _, out := range []string{s.String(), strings.TrimSpace(fmtAll(k)), fmtAll(s)} {
		if strings.Contains(out, "Fs1K") {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApply(t *testing.T) {
	seed := testMnemonic(t, 1)
	d := testDeriver(t, seed)
	other := testDeriver(t, testMnemonic(t, 2))
	key := func(kind Kind, i uint32) walletd.Key {
		k, err := d.Key(kind, i)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	otherFCT, _ := other.Key(FCT, 0)

	s := &State{Seed: seed}
	for i, m := range []string{walletd.MethodGenerateFactoidAddress, walletd.MethodGenerateFactoidAddress} {
		ch, err := s.Apply(d, m, nil, mustJSON(t, key(FCT, uint32(i))))
		if err != nil || ch.Index != uint32(i) || ch.Skipped != 0 {
			t.Fatalf("generate #%d: %+v %v", i, ch, err)
		}
	}
	if s.Next.FCT != 2 {
		t.Fatalf("counter %d, want 2", s.Next.FCT)
	}

	t.Run("a key generated past the counter skips the uncommitted ones", func(t *testing.T) {
		s := s.Clone()
		ch, err := s.Apply(d, walletd.MethodGenerateECAddress, nil, mustJSON(t, key(EC, 3)))
		if err != nil || ch.Skipped != 3 || s.Next.EC != 4 {
			t.Fatalf("%+v %v next=%d", ch, err, s.Next.EC)
		}
		// The skipped keys were never acknowledged: recorded as removed, so
		// no follower replaying the counter keeps them.
		for i := uint32(0); i < 3; i++ {
			if !s.IsRemoved(key(EC, i).Public) {
				t.Errorf("skipped EC #%d is not recorded as removed", i)
			}
		}
		if s.IsRemoved(key(EC, 3).Public) {
			t.Error("the generated key is recorded as removed")
		}
	})
	t.Run("a key below the counter is a mismatch", func(t *testing.T) {
		s := s.Clone()
		_, err := s.Apply(d, walletd.MethodGenerateFactoidAddress, nil, mustJSON(t, key(FCT, 0)))
		if !errors.Is(err, ErrDerivationMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a key of another seed is a mismatch", func(t *testing.T) {
		s := s.Clone()
		_, err := s.Apply(d, walletd.MethodGenerateFactoidAddress, nil, mustJSON(t, otherFCT))
		if !errors.Is(err, ErrDerivationMismatch) {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(err.Error(), otherFCT.Secret.Reveal()) {
			t.Fatal("secret in error")
		}
	})
	t.Run("a derived public key with a wrong secret is a mismatch", func(t *testing.T) {
		s := s.Clone()
		k := key(FCT, 2)
		k.Secret = otherFCT.Secret
		_, err := s.Apply(d, walletd.MethodGenerateFactoidAddress, nil, mustJSON(t, k))
		if !errors.Is(err, ErrDerivationMismatch) {
			t.Fatalf("got %v", err)
		}
	})

	// Import, then remove, then import again.
	res := mustJSON(t, map[string]any{"addresses": []walletd.Key{otherFCT}})
	if _, err := s.Apply(d, walletd.MethodImportAddresses, nil, res); err != nil {
		t.Fatal(err)
	}
	if len(s.Imported) != 1 || s.Imported[0].Public != otherFCT.Public || s.Imported[0].Kind != FCT {
		t.Fatalf("imported %+v", s.Imported)
	}
	if _, err := s.Apply(d, walletd.MethodRemoveAddress, mustJSON(t, map[string]string{"address": otherFCT.Public}), mustJSON(t, map[string]bool{"success": true})); err != nil {
		t.Fatal(err)
	}
	if len(s.Imported) != 0 || !s.IsRemoved(otherFCT.Public) {
		t.Fatalf("after remove: %+v %+v", s.Imported, s.Removed)
	}
	if _, err := s.Apply(d, walletd.MethodImportAddresses, nil, res); err != nil {
		t.Fatal(err)
	}
	if len(s.Imported) != 1 || s.IsRemoved(otherFCT.Public) {
		t.Fatalf("after re-import: %+v %+v", s.Imported, s.Removed)
	}
	idk, _ := other.Key(ID, 5)
	if _, err := s.Apply(d, walletd.MethodImportIdentityKeys, nil, mustJSON(t, map[string]any{"keys": []walletd.Key{idk}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(d, walletd.MethodRemoveIdentityKey, mustJSON(t, map[string]string{"public": key(ID, 0).Public}), nil); err != nil {
		t.Fatal(err)
	}
	if !s.IsRemoved(key(ID, 0).Public) {
		t.Fatal("identity key not recorded as removed")
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}

	t.Run("an import whose public key does not match its secret is refused", func(t *testing.T) {
		s := s.Clone()
		bad := walletd.Key{Public: key(FCT, 0).Public, Secret: otherFCT.Secret}
		_, err := s.Apply(d, walletd.MethodImportAddresses, nil, mustJSON(t, map[string]any{"addresses": []walletd.Key{bad}}))
		if !errors.Is(err, ErrBadResult) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a read method is not a keystore write", func(t *testing.T) {
		_, err := s.Clone().Apply(d, "all-addresses", nil, mustJSON(t, map[string]any{}))
		if !errors.Is(err, ErrNotKeystoreWrite) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFromBackup(t *testing.T) {
	seed := testMnemonic(t, 3)
	d := testDeriver(t, seed)
	other := testDeriver(t, testMnemonic(t, 4))
	var b walletd.Backup
	b.Seed = seed
	for i := uint32(0); i < 3; i++ {
		k, _ := d.Key(FCT, i)
		b.Addresses = append(b.Addresses, k)
	}
	k, _ := d.Key(EC, 4) // 0..3 removed earlier
	b.Addresses = append(b.Addresses, k)
	imp, _ := other.Key(EC, 0)
	b.Addresses = append(b.Addresses, imp)
	idk, _ := d.Key(ID, 0)
	b.IdentityKeys = append(b.IdentityKeys, idk)

	s, err := FromBackup(d, &b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Next != (Counters{FCT: 3, EC: 5, ID: 1}) {
		t.Errorf("counters %+v", s.Next)
	}
	if len(s.Imported) != 1 || s.Imported[0].Public != imp.Public {
		t.Errorf("imported %+v", s.Imported)
	}
	// A keystore made from a walletd alone (createFirst, also after the
	// Secret was deleted) records the derived keys walletd lacks below the
	// counter as removed: no replica may restore them.
	for i := uint32(0); i < 4; i++ {
		if !s.IsRemoved(mustKey(t, d, EC, i).Public) {
			t.Errorf("EC #%d, absent below the counter, is not recorded as removed", i)
		}
	}
	if len(s.Removed) != 4 {
		t.Errorf("removed %d keys, want the 4 EC holes", len(s.Removed))
	}
	prev := &State{Seed: seed, Next: Counters{FCT: 9}, Removed: []Removed{{FCT, mustKey(t, d, FCT, 7).Public}, {FCT, mustKey(t, d, FCT, 0).Public}}}
	s, err = FromBackup(d, &b, prev)
	if err != nil {
		t.Fatal(err)
	}
	if s.Next.FCT != 9 || len(s.Removed) != 1 || s.Removed[0].Public != prev.Removed[0].Public {
		t.Errorf("with prev: %+v %+v", s.Next, s.Removed)
	}
	if _, err := FromBackup(d, &b, &State{Seed: testMnemonic(t, 9)}); !errors.Is(err, ErrSeedMismatch) {
		t.Errorf("other seed: %v", err)
	}
}

func mustKey(t testing.TB, d *Deriver, kind Kind, i uint32) walletd.Key {
	t.Helper()
	k, err := d.Key(kind, i)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// 1 in 256 of walletd's random seeds has entropy starting with a zero byte;
// walletd uses them, so the replicator must too (the factom library as
// linked here refuses them).
func TestSeedWithZeroLeadingEntropy(t *testing.T) {
	m, err := bip39.NewMnemonic(append([]byte{0}, bytes.Repeat([]byte{7}, 15)...))
	if err != nil {
		t.Fatal(err)
	}
	seed := walletd.Secret(m)
	if _, err := NewDeriver(seed); err != nil {
		t.Fatalf("NewDeriver: %v", err)
	}
	if err := (&State{Seed: seed}).Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
