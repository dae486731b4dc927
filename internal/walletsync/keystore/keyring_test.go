package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestKeyringOpensWithAnyListedKeyAndSealsWithTheCurrent(t *testing.T) {
	a, b, c := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	s := sampleState(t)
	h := Header{Name: "ks", Term: 2, Generation: 3}
	sealedA, err := Seal(a, h, s)
	if err != nil {
		t.Fatal(err)
	}
	ring := NewKeyring(b, a, a, b)
	if got, want := ring.IDs(), []string{b.ID(), a.ID()}; !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v (duplicates dropped, current first)", got, want)
	}
	if got, err := ring.Open(h, sealedA); err != nil || !got.Equal(s) {
		t.Fatalf("a previous key does not open: %v", err)
	}
	if SealedKeyID(sealedA) != a.ID() {
		t.Fatalf("sealed key id %q, want %s", SealedKeyID(sealedA), a.ID())
	}
	_, err = NewKeyring(b, c).Open(h, sealedA)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), a.ID()) || !strings.Contains(err.Error(), b.ID()+", "+c.ID()) {
		t.Fatalf("a ring without the key: %v", err)
	}
	if _, err := ring.Open(h, sealedA[:10]); !errors.Is(err, ErrFormat) {
		t.Fatalf("a truncated blob: %v", err)
	}
}

func TestKeyFilesReload(t *testing.T) {
	dir := t.TempDir()
	cur, prev := filepath.Join(dir, "key"), filepath.Join(dir, "previous")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hexOf := func(b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, KeySize)) }
	a, b := testKey(t, 0xa1), testKey(t, 0xb2)
	write(cur, hexOf(0xa1))
	f, err := LoadKeyFiles(cur, []string{prev})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Keyring().IDs(); !slices.Equal(got, []string{a.ID()}) {
		t.Fatalf("a missing previous file holds no key: %v", got)
	}
	steps := []struct {
		name      string
		cur, prev string // "-": remove the file
		changed   bool
		ids       []string
		err       string
	}{
		{"unchanged", hexOf(0xa1), "-", false, []string{a.ID()}, ""},
		{"an empty previous file", hexOf(0xa1), "\n", false, []string{a.ID()}, ""},
		{"a new key added as previous", hexOf(0xa1), hexOf(0xb2), true, []string{a.ID(), b.ID()}, ""},
		{"the new key made current", hexOf(0xb2), hexOf(0xa1), true, []string{b.ID(), a.ID()}, ""},
		{"a garbled previous key keeps the last ring", hexOf(0xb2), "secret-ish", false, []string{b.ID(), a.ID()}, "previous keystore key"},
		{"a garbled current key keeps the last ring", "secret-ish", hexOf(0xa1), false, []string{b.ID(), a.ID()}, "keystore key"},
		{"the old key removed", hexOf(0xb2), "-", true, []string{b.ID()}, ""},
	}
	for _, s := range steps {
		write(cur, s.cur)
		if s.prev == "-" {
			_ = os.Remove(prev)
		} else {
			write(prev, s.prev)
		}
		changed, err := f.Reload()
		if s.err == "" && err != nil || s.err != "" && (err == nil || !strings.Contains(err.Error(), s.err)) {
			t.Fatalf("%s: error %v, want %q", s.name, err, s.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret-ish") {
			t.Fatalf("%s: key file content in the error", s.name)
		}
		if changed != s.changed || !slices.Equal(f.Keyring().IDs(), s.ids) {
			t.Fatalf("%s: changed=%v ids=%v, want %v %v", s.name, changed, f.Keyring().IDs(), s.changed, s.ids)
		}
	}
}
