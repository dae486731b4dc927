package keystore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/FactomProject/factom"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

// KeySize is the sealing key's size: AES-256.
const KeySize = 32

// SealKey is the key that seals the keystore. It never prints.
type SealKey struct {
	key [KeySize]byte
	id  [4]byte
}

func (k *SealKey) String() string { return "sealkey:" + k.ID() }

// ID names the key without revealing it (the first 4 bytes of a SHA-256
// of a domain string and the key), so an operator can tell which key
// sealed a keystore.
func (k *SealKey) ID() string { return hex.EncodeToString(k.id[:]) }

// NewSealKey wraps 32 raw bytes.
func NewSealKey(raw []byte) (*SealKey, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("keystore key: want %d bytes, got %d", KeySize, len(raw))
	}
	k := &SealKey{}
	copy(k.key[:], raw)
	sum := sha256.Sum256(append([]byte("factom-sidecar keystore key id\x00"), raw...))
	copy(k.id[:], sum[:4])
	return k, nil
}

// ParseSealKey reads a key in any of the accepted encodings: exactly 32
// raw bytes, or 64 hex digits, or base64 (standard or URL alphabet, padded
// or not) of 32 bytes; surrounding whitespace is ignored for the text
// forms. The error never contains key material.
func ParseSealKey(data []byte) (*SealKey, error) {
	if len(data) == KeySize {
		return NewSealKey(data)
	}
	text := strings.TrimSpace(string(data))
	if len(text) == 2*KeySize {
		if raw, err := hex.DecodeString(text); err == nil {
			return NewSealKey(raw)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(text); err == nil && len(raw) == KeySize {
			return NewSealKey(raw)
		}
	}
	return nil, fmt.Errorf("keystore key: want 32 raw bytes, 64 hex digits or base64 of 32 bytes (got %d bytes)", len(data))
}

// LoadSealKey reads the key file.
func LoadSealKey(path string) (*SealKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore key: %w", err)
	}
	return ParseSealKey(data)
}

// Header is what the sealed payload is bound to besides the key: a blob
// moved to another Secret, or a term or generation edited next to it, fails
// authentication.
type Header struct {
	Name       string
	Term       int64
	Generation int64
}

// FormatVersion is the sealed format's version byte.
const FormatVersion byte = 1

const (
	nonceSize = 12
	// prefix: version (1) | key id (4) | nonce (12).
	prefixSize = 1 + 4 + nonceSize
)

// Errors of Open. Each is wrapped with a reason that names no secret.
var (
	// ErrRejected is the root of every Open failure: the payload must not
	// be applied.
	ErrRejected = errors.New("keystore rejected")
	// ErrTampered: authentication failed (wrong bytes, term, generation or
	// Secret name).
	ErrTampered = fmt.Errorf("%w: authentication failed (tampered or corrupt payload, or term/generation edited)", ErrRejected)
	// ErrWrongKey: sealed with another key.
	ErrWrongKey = fmt.Errorf("%w: sealed with another key", ErrRejected)
	// ErrFormat: not a sealed keystore of a known version.
	ErrFormat = fmt.Errorf("%w: unknown or truncated format", ErrRejected)
	// ErrContent: authentic but not a valid keystore.
	ErrContent = fmt.Errorf("%w: invalid content", ErrRejected)
)

func (h Header) aad(version byte, keyID [4]byte) []byte {
	var b bytes.Buffer
	b.WriteString("factom-sidecar/keystore\x00")
	b.WriteByte(version)
	b.Write(keyID[:])
	b.WriteString(h.Name)
	b.WriteByte(0)
	_ = binary.Write(&b, binary.BigEndian, h.Term)
	_ = binary.Write(&b, binary.BigEndian, h.Generation)
	return b.Bytes()
}

type payload struct {
	Version int `json:"v"`
	*State
}

// Seal encrypts s with AES-256-GCM under key, bound to h.
func Seal(key *SealKey, h Header, s *State) ([]byte, error) {
	plain, err := json.Marshal(payload{Version: 1, State: s})
	if err != nil {
		return nil, fmt.Errorf("seal: encode: %w", err)
	}
	defer clear(plain)
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, prefixSize, prefixSize+len(plain)+aead.Overhead())
	out[0] = FormatVersion
	copy(out[1:5], key.id[:])
	if _, err := rand.Read(out[5:prefixSize]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return aead.Seal(out, out[5:prefixSize], plain, h.aad(FormatVersion, key.id)), nil
}

func newAEAD(key *SealKey) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key.key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

// Open authenticates and decrypts blob sealed for h and checks the
// content. Every error wraps ErrRejected and contains no secret.
func Open(key *SealKey, h Header, blob []byte) (*State, error) {
	if len(blob) < prefixSize+16 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrFormat, len(blob))
	}
	if blob[0] != FormatVersion {
		return nil, fmt.Errorf("%w (version %d, want %d)", ErrFormat, blob[0], FormatVersion)
	}
	var id [4]byte
	copy(id[:], blob[1:5])
	if id != key.id {
		return nil, fmt.Errorf("%w (key id %s, have %s)", ErrWrongKey, hex.EncodeToString(id[:]), key.ID())
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, blob[5:prefixSize], blob[prefixSize:], h.aad(blob[0], id))
	if err != nil {
		return nil, ErrTampered
	}
	defer clear(plain)
	p := payload{State: &State{}}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		// json errors can quote the offending value: say only where.
		return nil, fmt.Errorf("%w: not a keystore document", ErrContent)
	}
	if p.Version != 1 {
		return nil, fmt.Errorf("%w: payload version %d", ErrContent, p.Version)
	}
	if err := p.State.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContent, err)
	}
	return p.State, nil
}

// Validate checks what authentication cannot, cheaply (it runs on every
// version a follower opens): a mnemonic with a valid checksum, secrets and
// public keys of the kinds they claim (base58 checksums), no duplicates.
// That an imported public key belongs to its secret was checked by the
// leader when it applied the import (KeyFromSecret), and walletd derives
// the public key from the secret itself on import anyway. Errors contain
// no secret.
func (s *State) Validate() error {
	if _, err := walletd.ParseMnemonic(s.Seed); err != nil {
		return fmt.Errorf("seed: not a valid 12-word mnemonic")
	}
	seen := map[string]bool{}
	for i, k := range s.Imported {
		kind, ok := KindOfPublic(k.Public)
		if !ok || kind != k.Kind || secretKind(k.Secret) != k.Kind {
			return fmt.Errorf("imported key %d: public key, secret and kind do not agree", i)
		}
		if seen[k.Public] {
			return fmt.Errorf("imported key %d: duplicate %s", i, k.Public)
		}
		seen[k.Public] = true
	}
	for i, r := range s.Removed {
		kind, ok := KindOfPublic(r.Public)
		if !ok || kind != r.Kind {
			return fmt.Errorf("removed key %d: not a public key of kind %q", i, r.Kind)
		}
	}
	return nil
}

func secretKind(s walletd.Secret) Kind {
	str := s.Reveal()
	switch factom.AddressStringType(str) {
	case factom.FactoidSec:
		return FCT
	case factom.ECSec:
		return EC
	}
	if factom.IdentityKeyStringType(str) == factom.IDSec {
		return ID
	}
	return ""
}
