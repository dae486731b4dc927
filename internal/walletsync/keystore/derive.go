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
// so deriving index i costs one child step instead of the factom library's
// whole path from the mnemonic (MakeBIP44*Address): replaying or checking
// 10,000 keys stays cheap. Results equal the library's (tested).
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

// ErrInvalidIndex: BIP32 yields no usable key at this index for walletd.
// The libraries walletd uses drop leading zero bytes of a child key, and
// walletd then refuses it ("secret key portion must be 32 bytes"); its
// generate-* fails at that index for good (the counter does not move), so
// no replica can ever hand out a key there.
var ErrInvalidIndex = errors.New("no usable key at this index")

// NewDeriver prepares derivation for mnemonic. The error never contains it.
func NewDeriver(mnemonic walletd.Secret) (*Deriver, error) {
	m, err := factom.ParseMnemonic(mnemonic.Reveal())
	if err != nil {
		return nil, fmt.Errorf("seed: not a valid 12-word mnemonic")
	}
	seed, err := bip39.NewSeedWithErrorChecking(m, "")
	if err != nil {
		return nil, fmt.Errorf("seed: not a valid 12-word mnemonic")
	}
	master, err := bip32.NewMasterKey(seed)
	if err != nil {
		return nil, fmt.Errorf("seed: master key: %w", err)
	}
	d := &Deriver{chains: map[Kind]chainKey{}, cache: map[Kind][]walletd.Key{}}
	for _, k := range Kinds {
		key := master
		// walletd derives with account = bip32.FirstHardenedChild, chain 0
		// (wallet.DBSeed.Next*), i.e. m/44'/coin'/0'/0.
		for _, idx := range []uint32{bip44.Purpose, k.coin(), bip32.FirstHardenedChild, 0} {
			if key, err = key.NewChildKey(idx); err != nil {
				return nil, fmt.Errorf("seed: derive %s chain: %w", k, err)
			}
		}
		d.chains[k] = chainKey{key: key.Key, chainCode: key.ChainCode, pub: key.PublicKey().Key}
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

// IndexOf searches indices [from, to) of kind for public and returns its
// index.
func (d *Deriver) IndexOf(kind Kind, public string, from, to uint32) (uint32, bool, error) {
	for i := from; i < to; i++ {
		k, err := d.Key(kind, i)
		if errors.Is(err, ErrInvalidIndex) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		if k.Public == public {
			return i, true, nil
		}
	}
	return 0, false, nil
}

// child is BIP32 CKDpriv for a non-hardened index, step for step as
// go-bip32 v0.3.5 (Key.NewChildKey, addPrivateKeys, validatePrivateKey)
// does it, so it yields the same bytes and the same failures; ok is false
// where walletd cannot use the key (see ErrInvalidIndex).
func (c chainKey) child(i uint32) ([]byte, bool) {
	data := make([]byte, 0, len(c.pub)+4)
	data = append(data, c.pub...)
	data = binary.BigEndian.AppendUint32(data, i)
	mac := hmac.New(sha512.New, c.chainCode)
	mac.Write(data)
	il := mac.Sum(nil)[:32]
	var a, b big.Int
	a.SetBytes(il)
	b.SetBytes(c.key)
	a.Add(&a, &b)
	a.Mod(&a, secp256k1N)
	key := a.Bytes()
	keyInt, _ := binary.ReadVarint(bytes.NewBuffer(key))
	if keyInt == 0 || bytes.Compare(key, secp256k1N.Bytes()) >= 0 {
		return nil, false
	}
	if len(key) != 32 {
		return nil, false
	}
	return key, true
}

var secp256k1N, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
