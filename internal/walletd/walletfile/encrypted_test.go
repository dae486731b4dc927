package walletfile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/FactomProject/factom"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

func TestEncryptedWalletFile(t *testing.T) {
	dir := t.TempDir()
	const pass = "correct horse battery staple"
	rawSec := make([]byte, 32)
	if _, err := rand.Read(rawSec); err != nil {
		t.Fatal(err)
	}
	a, err := factom.MakeFactoidAddress(rawSec)
	if err != nil {
		t.Fatal(err)
	}
	secret := walletd.Secret(a.SecString())
	c := Contents{Seed: walletd.Secret(mnemonic), Next: Counters{FCT: 1, EC: 2, ID: 3}, Keys: []walletd.Secret{secret}, Passphrase: pass}
	enc, plain := filepath.Join(dir, "enc.db"), filepath.Join(dir, "plain.db")
	if err := Create(enc, c); err != nil {
		t.Fatal(err)
	}
	c.Passphrase = ""
	if err := Create(plain, c); err != nil {
		t.Fatal(err)
	}
	seed, next, err := ReadSeedWith(enc, pass)
	if err != nil || seed != c.Seed || next != c.Next {
		t.Fatalf("read back: %v %+v", err, next)
	}
	seed, next, err = ReadSeed(plain)
	if err != nil || seed != c.Seed || next != c.Next {
		t.Fatalf("read back: %v %+v", err, next)
	}
	raw, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	_, _, sec, _ := parse(secret)
	for _, clearText := range [][]byte{[]byte("legal winner"), sec} {
		if bytes.Contains(raw, clearText) {
			t.Fatalf("the encrypted file holds %q in the clear", clearText[:4])
		}
	}
	for _, c := range []struct {
		name, path string
		pass       walletd.Secret
		want       error
	}{
		{"an encrypted file without a passphrase", enc, "", ErrEncrypted},
		{"an encrypted file with a wrong passphrase", enc, "not it", ErrWrongPassphrase},
		{"a plain file with a passphrase", plain, pass, ErrNotEncrypted},
	} {
		_, _, err := ReadSeedWith(c.path, c.pass)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "not it")) {
			t.Errorf("%s: the passphrase is in the error", c.name)
		}
	}
}
