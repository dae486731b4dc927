package walletfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

const mnemonic = "legal winner thank year wave sausage worth useful legal winner thank yellow"

func TestCreateAndReadSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "wallet.db")
	if _, _, err := ReadSeed(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	c := Contents{Seed: walletd.Secret(mnemonic), Next: Counters{FCT: 1, EC: 2, ID: 3},
		Keys: []walletd.Secret{"Fs1KWJrpLdfucvmYwN2nWrwepLn8ercpMbzXshd1g8zyhKXLVLWj"}}
	if err := Create(path, c); err != nil {
		t.Fatal(err)
	}
	seed, next, err := ReadSeed(path)
	if err != nil || seed != c.Seed || next != c.Next {
		t.Fatalf("read back: %v %+v", err, next)
	}
	if err := Create(path, c); !errors.Is(err, os.ErrExist) {
		t.Fatalf("overwrote an existing wallet: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := Create(filepath.Join(dir, "a.db"), Contents{Seed: "not a mnemonic"}); err == nil {
		t.Fatal("accepted a bad seed")
	}
	err := Create(filepath.Join(dir, "b.db"), Contents{Seed: walletd.Secret(mnemonic), Keys: []walletd.Secret{"Fs-not-a-secret"}})
	if err == nil || errors.Is(err, os.ErrExist) {
		t.Fatalf("accepted a bad key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("left a wallet file behind after a failure")
	}
}
