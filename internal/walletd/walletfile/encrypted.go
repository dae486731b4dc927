package walletfile

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/scrypt"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

// An encrypted wallet (factom-walletd -encrypted) is the same bolt file
// with every value sealed, as factomd's database/securedb writes it:
//
//	bucket "EncyptedDBMetaData" key "EncyptedDBMetaData" (the misspelling
//	    is walletd's): uint32 BE len | salt (30 random bytes) |
//	    uint32 BE len | challenge
//	every other value: uint32 BE len | nonce (12) | AES-256-GCM ciphertext
//	key = scrypt(passphrase, salt, N=16384, r=8, p=1, 32 bytes)
//	challenge = the sealed bytes "Challenge" (checks the passphrase)
//
// Bucket names and keys (public keys) stay in the clear.
var (
	bucketMeta     = []byte("EncyptedDBMetaData")
	challengePlain = []byte("Challenge")
)

// Errors of an encrypted wallet file. None contains the passphrase.
var (
	// ErrEncrypted: the file is encrypted and no passphrase was given.
	ErrEncrypted = errors.New("the wallet file is encrypted (factom-walletd -encrypted): give its passphrase (--walletd-passphrase-file)")
	// ErrNotEncrypted: a passphrase was given for a file that is not encrypted.
	ErrNotEncrypted = errors.New("the wallet file is not encrypted, but a passphrase was given: walletd -encrypted cannot open it (move the file away to recreate it encrypted from the keystore)")
	// ErrWrongPassphrase: the passphrase does not open the file.
	ErrWrongPassphrase = errors.New("the passphrase does not open the encrypted wallet file")
)

type valueSealer struct{ aead cipher.AEAD }

func newValueSealer(passphrase walletd.Secret, salt []byte) (*valueSealer, error) {
	key, err := scrypt.Key([]byte(passphrase.Reveal()), salt, 16384, 8, 1, 32)
	if err != nil {
		return nil, fmt.Errorf("wallet passphrase: key derivation: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("wallet passphrase: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("wallet passphrase: %w", err)
	}
	return &valueSealer{aead: aead}, nil
}

// raw is nonce | ciphertext, as securedb.Encrypt returns it.
func (s *valueSealer) raw(plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal wallet value: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, nil), nil
}

func (s *valueSealer) openRaw(ct []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ct) < n {
		return nil, errors.New("sealed wallet value too short")
	}
	return s.aead.Open(nil, ct[:n], ct[n:], nil)
}

// seal is a value as walletd stores it: length-prefixed.
func (s *valueSealer) seal(plain []byte) ([]byte, error) {
	ct, err := s.raw(plain)
	if err != nil {
		return nil, err
	}
	return append(be32(len(ct)), ct...), nil
}

func (s *valueSealer) open(v []byte) ([]byte, error) {
	ct, _, err := lengthPrefixed(v)
	if err != nil {
		return nil, err
	}
	plain, err := s.openRaw(ct)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

func be32(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }

func lengthPrefixed(v []byte) (field, rest []byte, err error) {
	if len(v) < 4 {
		return nil, nil, errors.New("wallet file: truncated length-prefixed value")
	}
	n := binary.BigEndian.Uint32(v[:4])
	if uint64(n) > uint64(len(v)-4) {
		return nil, nil, errors.New("wallet file: truncated length-prefixed value")
	}
	return v[4 : 4+n], v[4+n:], nil
}

// newEncryption writes the metadata record of a new encrypted file and
// returns its sealer. Caller is inside an update transaction.
func newEncryption(tx *bolt.Tx, passphrase walletd.Secret) (*valueSealer, error) {
	salt := make([]byte, 30)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("wallet salt: %w", err)
	}
	s, err := newValueSealer(passphrase, salt)
	if err != nil {
		return nil, err
	}
	challenge, err := s.raw(challengePlain)
	if err != nil {
		return nil, err
	}
	b, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return nil, err
	}
	meta := append(append(be32(len(salt)), salt...), append(be32(len(challenge)), challenge...)...)
	return s, b.Put(bucketMeta, meta)
}

// encryption returns the sealer of an existing file: nil for a plain file
// read without a passphrase. Caller is inside a transaction.
func encryption(tx *bolt.Tx, passphrase walletd.Secret) (*valueSealer, error) {
	b := tx.Bucket(bucketMeta)
	var meta []byte
	if b != nil {
		meta = b.Get(bucketMeta)
	}
	switch {
	case meta == nil && passphrase == "":
		return nil, nil
	case meta == nil:
		return nil, ErrNotEncrypted
	case passphrase == "":
		return nil, ErrEncrypted
	}
	salt, rest, err := lengthPrefixed(meta)
	if err != nil {
		return nil, err
	}
	challenge, _, err := lengthPrefixed(rest)
	if err != nil {
		return nil, err
	}
	s, err := newValueSealer(passphrase, salt)
	if err != nil {
		return nil, err
	}
	plain, err := s.openRaw(challenge)
	if err != nil || subtle.ConstantTimeCompare(plain, challengePlain) != 1 {
		return nil, ErrWrongPassphrase
	}
	return s, nil
}
