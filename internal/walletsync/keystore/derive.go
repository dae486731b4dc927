package keystore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/FactomProject/factom"
	bip32 "github.com/FactomProject/go-bip32"
	bip39 "github.com/FactomProject/go-bip39"
	bip44 "github.com/FactomProject/go-bip44"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

// Kind is a class of key walletd derives from the seed.
type Kind string

// The key kinds; each has its own BIP44 coin type and counter.
const (
	FCT Kind = "fct" // m/44'/131'/0'/0/i
	EC  Kind = "ec"  // m/44'/132'/0'/0/i
	ID  Kind = "id"  // m/44'/281'/0'/0/i
)

// Kinds lists every kind in a fixed order.
var Kinds = []Kind{FCT, EC, ID}

func (k Kind) coin() uint32 {
	switch k {
	case FCT:
		return bip44.TypeFactomFactoids
	case EC:
		return bip44.TypeFactomEntryCredits
	default:
		return bip44.TypeFactomIdentity
	}
}

// KindOfPublic classifies a public key string (FA..., EC..., idpub...).
func KindOfPublic(public string) (Kind, bool) {
	switch factom.AddressStringType(public) {
	case factom.FactoidPub:
		return FCT, true
	case factom.ECPub:
		return EC, true
	}
	if factom.IdentityKeyStringType(public) == factom.IDPub {
		return ID, true
	}
	return "", false
}

// KeyFromSecret parses a secret (Fs..., Es..., idsec...) into its kind and
// key pair. The error never contains the secret.
func KeyFromSecret(secret walletd.Secret) (Kind, walletd.Key, error) {
	s := secret.Reveal()
	switch factom.AddressStringType(s) {
	case factom.FactoidSec:
		a, err := factom.GetFactoidAddress(s)
		if err != nil {
			return "", walletd.Key{}, fmt.Errorf("factoid secret: invalid")
		}
		return FCT, walletd.Key{Public: a.String(), Secret: walletd.Secret(a.SecString())}, nil
	case factom.ECSec:
		a, err := factom.GetECAddress(s)
		if err != nil {
			return "", walletd.Key{}, fmt.Errorf("entry credit secret: invalid")
		}
		return EC, walletd.Key{Public: a.PubString(), Secret: walletd.Secret(a.SecString())}, nil
	}
	if factom.IdentityKeyStringType(s) == factom.IDSec {
		k, err := factom.GetIdentityKey(s)
		if err != nil {
			return "", walletd.Key{}, fmt.Errorf("identity secret: invalid")
		}
		return ID, walletd.Key{Public: k.PubString(), Secret: walletd.Secret(k.SecString())}, nil
	}
	return "", walletd.Key{}, fmt.Errorf("secret of unknown kind")
}

// Deriver derives walletd's BIP44 keys from one mnemonic. It computes the
// BIP39 seed (2048 PBKDF2 rounds) and the m/44'/coin'/0'/0 chain keys once,
// so deriving index i costs one child step instead of the whole path from
// the mnemonic: replaying or checking 10,000 keys stays cheap.
//
// The arithmetic is walletd's, not the factom library's as linked into the
// sidecar: walletd (wallet/v2) is built with go-bip32
// v0.3.6-0.20161206200006-3b593af1c415, which left-pads every private key
// to 32 bytes, while the sidecar's module graph resolves go-bip32 v0.3.5,
// which drops a leading zero byte. The two disagree whenever some key on
// the path has a leading zero byte (≈1 in 256 per key): at the last step
// v0.3.5 yields no key where walletd hands out the padded one, and at a
// hardened step (44', coin') the 31-byte parent feeds a different HMAC, so
// v0.3.5 derives a different chain altogether (every key of that kind
// differs). Results are tested against a real walletd over many seeds,
// including seeds with such keys.
type Deriver struct {
	mu     sync.Mutex
	chains map[Kind]chainKey
	cache  map[Kind][]walletd.Key
}

// chainKey is m/44'/coin'/0'/0 with its public key computed once: the
// library recomputes it (a secp256k1 scalar multiplication, ≈2 ms here) for
// every child.
type chainKey struct {
	key, chainCode, pub []byte
}

// ErrInvalidIndex: BIP32 yields no usable key at this index: the child
// private key is zero, which happens with probability 2^-256. walletd's
// go-bip32 refuses it and its generate-* fails at that index for good (the
// counter does not move). Kept so scans stay correct in that case.
var ErrInvalidIndex = errors.New("no usable key at this index")

// NewDeriver prepares derivation for mnemonic. The error never contains it.
func NewDeriver(mnemonic walletd.Secret) (*Deriver, error) {
	m, err := walletd.ParseMnemonic(mnemonic)
	if err != nil {
		return nil, fmt.Errorf("seed: not a valid 12-word mnemonic")
	}
	seed := bip39.NewSeed(m, "")
	// Master key exactly as go-bip32 NewMasterKey (same in both versions).
	mac := hmac.New(sha512.New, []byte("Bitcoin seed"))
	mac.Write(seed)
	sum := mac.Sum(nil)
	master := chainKey{key: sum[:32], chainCode: sum[32:]}
	if !validPrivate(master.key) {
		return nil, fmt.Errorf("seed: master key: invalid")
	}
	d := &Deriver{chains: map[Kind]chainKey{}, cache: map[Kind][]walletd.Key{}}
	for _, k := range Kinds {
		key := master
		// walletd derives with account = bip32.FirstHardenedChild, chain 0
		// (wallet.DBSeed.Next*), i.e. m/44'/coin'/0'/0.
		for _, idx := range []uint32{bip44.Purpose, k.coin(), bip32.FirstHardenedChild, 0} {
			sec, cc, ok := key.derive(idx)
			if !ok {
				return nil, fmt.Errorf("seed: derive %s chain: invalid key", k)
			}
			key = chainKey{key: sec, chainCode: cc}
		}
		key.pub = publicKey(key.key)
		d.chains[k] = key
	}
	return d, nil
}

// Key returns the key walletd's generate-* hands out at index i of kind.
func (d *Deriver) Key(kind Kind, i uint32) (walletd.Key, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.cache[kind]; int(i) < len(c) {
		return c[i], nil
	}
	chain, ok := d.chains[kind]
	if !ok {
		return walletd.Key{}, fmt.Errorf("derive: unknown kind %q", kind)
	}
	// Fill the cache up to i: callers walk indices in order, and a dense
	// cache keeps lookups by index O(1).
	for j := uint32(len(d.cache[kind])); j <= i; j++ {
		var k walletd.Key
		if sec, ok := chain.child(j); ok {
			var err error
			if k, err = keyFromRaw(kind, sec); err != nil {
				return walletd.Key{}, fmt.Errorf("derive %s #%d: %w", kind, j, err)
			}
		}
		d.cache[kind] = append(d.cache[kind], k)
	}
	if k := d.cache[kind][i]; k.Public != "" {
		return k, nil
	}
	return walletd.Key{}, fmt.Errorf("derive %s #%d: %w", kind, i, ErrInvalidIndex)
}

func keyFromRaw(kind Kind, sec []byte) (walletd.Key, error) {
	switch kind {
	case FCT:
		a, err := factom.MakeFactoidAddress(sec)
		if err != nil {
			return walletd.Key{}, err
		}
		return walletd.Key{Public: a.String(), Secret: walletd.Secret(a.SecString())}, nil
	case EC:
		a, err := factom.MakeECAddress(sec)
		if err != nil {
			return walletd.Key{}, err
		}
		return walletd.Key{Public: a.PubString(), Secret: walletd.Secret(a.SecString())}, nil
	default:
		k, err := factom.MakeIdentityKey(sec)
		if err != nil {
			return walletd.Key{}, err
		}
		return walletd.Key{Public: k.PubString(), Secret: walletd.Secret(k.SecString())}, nil
	}
}

// Each calls fn with every key of kind at indices [from, to), skipping the
// indices that derive no key (as walletd does), until fn returns false.
func (d *Deriver) Each(kind Kind, from, to uint32, fn func(i uint32, k walletd.Key) bool) error {
	for i := from; i < to; i++ {
		k, err := d.Key(kind, i)
		if errors.Is(err, ErrInvalidIndex) {
			continue
		}
		if err != nil {
			return err
		}
		if !fn(i, k) {
			return nil
		}
	}
	return nil
}

// IndexOf searches indices [from, to) of kind for public and returns its
// index.
func (d *Deriver) IndexOf(kind Kind, public string, from, to uint32) (uint32, bool, error) {
	var index uint32
	found := false
	err := d.Each(kind, from, to, func(i uint32, k walletd.Key) bool {
		index, found = i, k.Public == public
		return !found
	})
	if err != nil || !found {
		return 0, false, err
	}
	return index, true, nil
}

// child is the key at non-hardened index i of the chain; ok is false where
// walletd cannot use it (see ErrInvalidIndex).
func (c chainKey) child(i uint32) ([]byte, bool) {
	key, _, ok := c.derive(i)
	return key, ok
}

// derive is BIP32 CKDpriv step for step as walletd's go-bip32
// (v0.3.6-0.20161206200006-3b593af1c415: Key.NewChildKey, addPrivateKeys,
// validatePrivateKey) does it: hardened children hash 0x00 | the 32-byte
// parent key, others the parent's compressed public key; the child key is
// (IL + parent) mod n, left-padded to 32 bytes; only a zero key is refused
// (the library does not check IL < n either).
func (c chainKey) derive(i uint32) (key, chainCode []byte, ok bool) {
	var data []byte
	if i >= bip32.FirstHardenedChild {
		data = make([]byte, 0, 1+len(c.key)+4)
		data = append(data, 0)
		data = append(data, c.key...)
	} else {
		pub := c.pub
		if pub == nil {
			pub = publicKey(c.key)
		}
		data = make([]byte, 0, len(pub)+4)
		data = append(data, pub...)
	}
	data = binary.BigEndian.AppendUint32(data, i)
	mac := hmac.New(sha512.New, c.chainCode)
	mac.Write(data)
	sum := mac.Sum(nil)
	var a, b big.Int
	a.SetBytes(sum[:32])
	b.SetBytes(c.key)
	a.Add(&a, &b)
	a.Mod(&a, secp256k1N)
	key = a.FillBytes(make([]byte, 32))
	if !validPrivate(key) {
		return nil, nil, false
	}
	return key, sum[32:], true
}

// validPrivate is walletd's go-bip32 validatePrivateKey: 32 bytes, not
// zero, below the curve order.
func validPrivate(key []byte) bool {
	return len(key) == 32 && !bytes.Equal(key, make([]byte, 32)) && bytes.Compare(key, secp256k1N.Bytes()) < 0
}

// publicKey is the compressed secp256k1 public key of a 32-byte private
// key (go-bip32's publicKeyForPrivateKey, identical in both versions).
func publicKey(key []byte) []byte {
	return (&bip32.Key{Key: key, IsPrivate: true}).PublicKey().Key
}

var secp256k1N, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
