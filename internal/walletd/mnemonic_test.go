package walletd

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/FactomProject/factom"
	bip39 "github.com/FactomProject/go-bip39"
)

func TestParseMnemonic(t *testing.T) {
	// Entropy with a leading zero byte: a valid mnemonic that the factom
	// library as linked here (go-bip39 v0.3.5) refuses.
	zeroLead := append([]byte{0}, bytes.Repeat([]byte{0x5a}, 15)...)
	m, err := bip39.NewMnemonic(zeroLead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := factom.ParseMnemonic(m); err == nil {
		t.Fatal("factom.ParseMnemonic accepts it: the test no longer covers the library's bug")
	}
	if got, err := ParseMnemonic(Secret(m)); err != nil || got != m {
		t.Fatalf("leading-zero entropy: %q %v", got, err)
	}
	if got, err := ParseMnemonic(Secret("  " + strings.ToUpper(strings.ReplaceAll(m, " ", "  ")) + "\n")); err != nil || got != m {
		t.Fatalf("not normalised: %v", err)
	}

	// Agrees with the library on random seeds whose entropy does not start
	// with a zero byte, valid and with one word changed.
	for range 200 {
		e := make([]byte, 16)
		if _, err := rand.Read(e); err != nil {
			t.Fatal(err)
		}
		if e[0] == 0 {
			e[0] = 1
		}
		m, err := bip39.NewMnemonic(e)
		if err != nil {
			t.Fatal(err)
		}
		words := strings.Fields(m)
		words[11] = bip39.WordList[(bip39.ReverseWordMap[words[11]]+1)%2048]
		for _, c := range []string{m, strings.Join(words, " ")} {
			_, libErr := factom.ParseMnemonic(c)
			_, err := ParseMnemonic(Secret(c))
			if (libErr == nil) != (err == nil) {
				t.Fatalf("library %v, ParseMnemonic %v", libErr, err)
			}
		}
	}

	for _, bad := range []string{"", "abandon", strings.Repeat("abandon ", 11) + "zzzz", strings.Repeat("abandon ", 13)} {
		if _, err := ParseMnemonic(Secret(bad)); !errors.Is(err, ErrBadMnemonic) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
