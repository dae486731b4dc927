package walletd

import (
	"crypto/sha256"
	"errors"
	"strings"

	bip39 "github.com/FactomProject/go-bip39"
)

// ErrBadMnemonic: not a 12-word BIP39 mnemonic with a valid checksum. It
// never carries the mnemonic.
var ErrBadMnemonic = errors.New("not a valid 12-word mnemonic")

// ParseMnemonic checks a 12-word BIP39 mnemonic (English word list,
// checksum) and returns it normalised as walletd uses it: lower case, words
// separated by one space.
//
// factom.ParseMnemonic cannot be used for this: linked into the sidecar it
// runs go-bip39 v0.3.5, whose checksum check drops leading zero bytes of
// the entropy and so refuses every valid mnemonic whose entropy starts with
// a zero byte (1 in 256 of walletd's random seeds). walletd is built with a
// go-bip39 that pads them and accepts such seeds.
func ParseMnemonic(mnemonic Secret) (string, error) {
	words := strings.Fields(strings.ToLower(mnemonic.Reveal()))
	if len(words) != 12 {
		return "", ErrBadMnemonic
	}
	// 12 words × 11 bits = 128 bits of entropy followed by a 4-bit
	// checksum: the first 4 bits of SHA-256(entropy).
	var bits [17]byte // 132 bits, left-aligned
	pos := 0
	for _, w := range words {
		idx, ok := bip39.ReverseWordMap[w]
		if !ok {
			return "", ErrBadMnemonic
		}
		for b := 10; b >= 0; b-- {
			if idx>>b&1 == 1 {
				bits[pos/8] |= 0x80 >> (pos % 8)
			}
			pos++
		}
	}
	sum := sha256.Sum256(bits[:16])
	if sum[0]>>4 != bits[16]>>4 {
		return "", ErrBadMnemonic
	}
	return strings.Join(words, " "), nil
}
