package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/factom-sidecar/factom-sidecar/internal/history"
)

// RuleLeaked is a secret found in a process's output.
const RuleLeaked = "secret in a log"

// secretSet collects secrets from concurrent clients.
type secretSet struct {
	mu  sync.Mutex
	set map[string]bool
}

func (s *secretSet) add(vals ...string) {
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

// scanLogs reads every log file of every pod (the sidecar's, walletd's own
// output, walletd-init's) and reports each file that holds a secret.
func (s *secretSet) scanLogs(podDirs []string) []history.Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v []history.Violation
	for _, dir := range podDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			text := string(data)
			n := 0
			for secret := range s.set {
				if strings.Contains(text, secret) {
					n++
				}
			}
			if n > 0 {
				v = append(v, history.Violation{Rule: RuleLeaked, Detail: fmt.Sprintf("%s holds %d secrets", filepath.Join(filepath.Base(dir), filepath.Base(f)), n)})
			}
		}
	}
	return v
}
