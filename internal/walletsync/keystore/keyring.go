package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
)

// Keys gives the keys a store seals and opens with. A Keyring, a KeyFiles
// (reloaded from disk) and a single SealKey all do.
type Keys interface {
	Keyring() *Keyring
}

// Keyring is the sealing key in use and the previous keys that may still
// open a Secret sealed before a rotation. Seal uses only the current key.
type Keyring struct {
	current  *SealKey
	previous []*SealKey
}

// NewKeyring returns a ring sealing with current and opening with current
// or any of previous (duplicates are dropped).
func NewKeyring(current *SealKey, previous ...*SealKey) *Keyring {
	r := &Keyring{current: current}
	for _, k := range previous {
		if k != nil && r.lookup(k.id) == nil {
			r.previous = append(r.previous, k)
		}
	}
	return r
}

// Keyring makes a single key a ring of one.
func (k *SealKey) Keyring() *Keyring { return NewKeyring(k) }

// Keyring returns r itself.
func (r *Keyring) Keyring() *Keyring { return r }

// Current is the key new versions are sealed with.
func (r *Keyring) Current() *SealKey { return r.current }

// IDs lists the ids of every key that opens, the current one first.
func (r *Keyring) IDs() []string {
	out := []string{r.current.ID()}
	for _, k := range r.previous {
		out = append(out, k.ID())
	}
	return out
}

func (r *Keyring) lookup(id [4]byte) *SealKey {
	if r.current != nil && r.current.id == id {
		return r.current
	}
	for _, k := range r.previous {
		if k.id == id {
			return k
		}
	}
	return nil
}

// Equal reports whether both rings hold the same keys in the same roles.
func (r *Keyring) Equal(o *Keyring) bool {
	return o != nil && slices.Equal(r.IDs(), o.IDs())
}

// SealedKeyID names the key a sealed blob says it was sealed with ("" if
// the blob is too short to say).
func SealedKeyID(blob []byte) string {
	if len(blob) < prefixSize {
		return ""
	}
	return hex.EncodeToString(blob[1:5])
}

// Open opens blob with whichever key of the ring sealed it. Every error
// wraps ErrRejected and contains no secret.
func (r *Keyring) Open(h Header, blob []byte) (*State, error) {
	if len(blob) >= prefixSize && blob[0] == FormatVersion {
		var id [4]byte
		copy(id[:], blob[1:5])
		key := r.lookup(id)
		if key == nil {
			return nil, fmt.Errorf("%w (key id %s, have %s)", ErrWrongKey, hex.EncodeToString(id[:]), strings.Join(r.IDs(), ", "))
		}
		return Open(key, h, blob)
	}
	return Open(r.current, h, blob)
}

// KeyFiles is a keyring read from files: the current key's file and the
// previous keys' files. Reload re-reads them, so a rotation of the key
// Secret mounted as a volume takes effect without a restart.
type KeyFiles struct {
	current  string
	previous []string
	ring     atomic.Pointer[Keyring]
}

// LoadKeyFiles reads the key files. A previous key's file that does not
// exist or is empty holds no key: a manifest can name the file of a Secret
// item that an operator adds only for a rotation.
func LoadKeyFiles(current string, previous []string) (*KeyFiles, error) {
	f := &KeyFiles{current: current, previous: previous}
	ring, err := f.read()
	if err != nil {
		return nil, err
	}
	f.ring.Store(ring)
	return f, nil
}

// Keyring is the ring last read.
func (f *KeyFiles) Keyring() *Keyring { return f.ring.Load() }

// Reload re-reads the files and reports whether the ring changed. On an
// error the ring last read stays in force.
func (f *KeyFiles) Reload() (bool, error) {
	ring, err := f.read()
	if err != nil {
		return false, err
	}
	if ring.Equal(f.ring.Load()) {
		return false, nil
	}
	f.ring.Store(ring)
	return true, nil
}

func (f *KeyFiles) read() (*Keyring, error) {
	cur, err := LoadSealKey(f.current)
	if err != nil {
		return nil, err
	}
	var prev []*SealKey
	for _, path := range f.previous {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) != KeySize && len(bytes.TrimSpace(data)) == 0) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("previous keystore key: %w", err)
		}
		k, err := ParseSealKey(data)
		if err != nil {
			return nil, fmt.Errorf("previous keystore key %s: %w", path, err)
		}
		prev = append(prev, k)
	}
	return NewKeyring(cur, prev...), nil
}
