package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

func fmtAll(v any) string { return fmt.Sprintf("%v %+v %#v %s", v, v, v, v) }

func testKey(t testing.TB, b byte) *SealKey {
	t.Helper()
	k, err := NewSealKey(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleState(t testing.TB) *State {
	t.Helper()
	seed := testMnemonic(t, 5)
	other := testDeriver(t, testMnemonic(t, 6))
	imp := mustKey(t, other, FCT, 0)
	d := testDeriver(t, seed)
	return &State{
		Seed:     seed,
		Next:     Counters{FCT: 3, EC: 2, ID: 1},
		Imported: []Imported{{Kind: FCT, Public: imp.Public, Secret: imp.Secret}},
		Removed:  []Removed{{Kind: EC, Public: mustKey(t, d, EC, 0).Public}},
	}
}

// secretsOf lists every secret string a state holds, for leak checks.
func secretsOf(s *State) []string {
	out := []string{s.Seed.Reveal()}
	for _, w := range strings.Fields(s.Seed.Reveal())[:1] {
		_ = w
	}
	for _, i := range s.Imported {
		out = append(out, i.Secret.Reveal())
	}
	return out
}

func TestParseSealKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	want := testKey(t, 0xab).ID()
	for name, in := range map[string][]byte{
		"raw bytes":          raw,
		"hex":                []byte(hex.EncodeToString(raw)),
		"hex with newline":   []byte(hex.EncodeToString(raw) + "\n"),
		"base64":             []byte(base64.StdEncoding.EncodeToString(raw)),
		"base64 url, no pad": []byte(base64.RawURLEncoding.EncodeToString(raw) + "\n"),
	} {
		k, err := ParseSealKey(in)
		if err != nil || k.ID() != want {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range map[string][]byte{
		"short":         []byte("0123"),
		"base64 of 16":  []byte(base64.StdEncoding.EncodeToString(raw[:16])),
		"hex of 31 + z": []byte(hex.EncodeToString(raw[:31]) + "zz"),
	} {
		_, err := ParseSealKey(in)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), string(in)) {
			t.Errorf("%s: key material in error %q", name, err)
		}
	}
	if s := fmtAll(testKey(t, 1)); strings.Contains(s, "\x01\x01") {
		t.Error("key printed")
	}
}

func TestSealOpen(t *testing.T) {
	key := testKey(t, 1)
	s := sampleState(t)
	h := Header{Name: "factom-wallet-keystore", Term: 4, Generation: 17}
	blob, err := Seal(key, h, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range secretsOf(s) {
		if bytes.Contains(blob, []byte(secret)) {
			t.Fatal("plaintext secret in sealed blob")
		}
	}
	got, err := Open(key, h, blob)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(s) {
		t.Fatalf("round trip: %+v", got)
	}

	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		return b
	}
	cases := []struct {
		name string
		key  *SealKey
		h    Header
		blob []byte
		want error
	}{
		{"a flipped ciphertext byte", key, h, flip(len(blob) - 20), ErrTampered},
		{"a flipped tag byte", key, h, flip(len(blob) - 1), ErrTampered},
		{"a flipped nonce byte", key, h, flip(6), ErrTampered},
		{"an edited term", key, Header{Name: h.Name, Term: 5, Generation: 17}, blob, ErrTampered},
		{"an edited generation", key, Header{Name: h.Name, Term: 4, Generation: 16}, blob, ErrTampered},
		{"a blob copied to another Secret", key, Header{Name: "other", Term: 4, Generation: 17}, blob, ErrTampered},
		{"another key", testKey(t, 2), h, blob, ErrWrongKey},
		{"an edited key id", key, h, flip(1), ErrWrongKey},
		{"an unknown version", key, h, append([]byte{9}, blob[1:]...), ErrFormat},
		{"a truncated blob", key, h, blob[:20], ErrFormat},
		{"an empty blob", key, h, nil, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.key, c.h, c.blob)
			if !errors.Is(err, c.want) || !errors.Is(err, ErrRejected) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			for _, secret := range secretsOf(s) {
				if strings.Contains(err.Error(), secret) {
					t.Fatal("secret in error")
				}
			}
		})
	}

	t.Run("authentic but invalid content is rejected", func(t *testing.T) {
		bad := s.Clone()
		bad.Imported[0].Public = bad.Removed[0].Public
		blob, err := Seal(key, h, bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(key, h, blob); !errors.Is(err, ErrContent) {
			t.Fatalf("got %v", err)
		}
		bad = s.Clone()
		bad.Seed = walletd.Secret("not a mnemonic at all")
		blob, _ = Seal(key, h, bad)
		_, err = Open(key, h, blob)
		if !errors.Is(err, ErrContent) || strings.Contains(err.Error(), "mnemonic at all") {
			t.Fatalf("got %v", err)
		}
	})
}

// FuzzOpen: whatever the bytes and header, Open never panics, and any
// input it accepts is a valid keystore. The seed corpus runs in plain
// `go test`.
func FuzzOpen(f *testing.F) {
	key := testKey(f, 1)
	s := sampleState(f)
	h := Header{Name: "factom-wallet-keystore", Term: 4, Generation: 17}
	blob, err := Seal(key, h, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob, h.Name, h.Term, h.Generation)
	f.Add(blob[:len(blob)-1], h.Name, h.Term, h.Generation)
	f.Add(blob, h.Name, h.Term+1, h.Generation)
	f.Add([]byte{}, "", int64(0), int64(0))
	f.Add([]byte{1, 0, 0, 0, 0}, "x", int64(-1), int64(1<<62))
	f.Add(bytes.Repeat([]byte{1}, 64), h.Name, h.Term, h.Generation)
	f.Fuzz(func(t *testing.T, data []byte, name string, term, gen int64) {
		st, err := Open(key, Header{Name: name, Term: term, Generation: gen}, data)
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("error outside ErrRejected: %v", err)
			}
			if strings.Contains(err.Error(), s.Seed.Reveal()) {
				t.Fatal("seed in error")
			}
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("accepted an invalid state: %v", err)
		}
	})
}

// FuzzOpenPlaintext drives the content checks behind authentication: any
// JSON sealed with the right key is either rejected with ErrContent or a
// valid state; never a panic, never a secret in the error.
func FuzzOpenPlaintext(f *testing.F) {
	key := testKey(f, 1)
	h := Header{Name: "n", Term: 1, Generation: 1}
	good := sampleState(f)
	f.Add([]byte(`{"v":1,"seed":"` + good.Seed.Reveal() + `","next":{"fct":1,"ec":0,"id":0}}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"seed":"a b c","imported":[{"kind":"fct","public":"FA1","secret":"Fs1"}]}`))
	f.Add([]byte(`{"v":1,"removed":[{"kind":"zz","public":""}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"v":1,"extra":true}`))
	aead, err := newAEAD(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, plain []byte) {
		blob := make([]byte, prefixSize)
		blob[0] = FormatVersion
		copy(blob[1:5], key.id[:])
		blob = aead.Seal(blob, blob[5:prefixSize], plain, h.aad(FormatVersion, key.id))
		st, err := Open(key, h, blob)
		if err != nil {
			if !errors.Is(err, ErrContent) {
				t.Fatalf("want ErrContent, got %v", err)
			}
			if len(plain) > 8 && strings.Contains(err.Error(), string(plain)) {
				t.Fatal("plaintext echoed in error")
			}
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
