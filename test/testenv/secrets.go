package testenv

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"sync"
)

// Secrets collects the secret strings a test or a fault run has seen
// (seeds, private keys, passwords), from concurrent clients, so that
// outputs can be checked to hold none of them.
type Secrets struct {
	mu  sync.Mutex
	set map[string]bool
}

// Add records vals; empty strings are ignored.
func (s *Secrets) Add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = map[string]bool{}
	}
	for _, v := range vals {
		if v != "" {
			s.set[v] = true
		}
	}
}

// Found returns the length of each recorded secret text contains (never
// the secret itself, so a report cannot leak it).
func (s *Secrets) Found(text string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lens []int
	for v := range s.set {
		if strings.Contains(text, v) {
			lens = append(lens, len(v))
		}
	}
	return lens
}

// AddKey records a binary key (a sealing key) in every text form it could
// leak in: hex and base64 (standard and URL alphabets, padded or not).
func (s *Secrets) AddKey(raw []byte) {
	s.Add(hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw))
}

// ReplaceFile replaces path by a rename, as a Secret volume update swaps
// files: a reader sees the old content or the new one, never a mix.
func ReplaceFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
