package faults

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/factom-sidecar/factom-sidecar/test/faults/history"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// RuleLeaked is a secret found in a process's output.
const RuleLeaked = "secret in a log"

// secretSet collects secrets from concurrent clients.
type secretSet struct{ testenv.Secrets }

func (s *secretSet) add(vals ...string) { s.Add(vals...) }

// scanLogs reads every log file of every pod (the sidecar's, walletd's own
// output, walletd-init's) and reports each file that holds a secret.
func (s *secretSet) scanLogs(podDirs []string) []history.Violation {
	var v []history.Violation
	for _, dir := range podDirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if n := len(s.Found(string(data))); n > 0 {
				v = append(v, history.Violation{Rule: RuleLeaked, Detail: fmt.Sprintf("%s holds %d secrets", filepath.Join(filepath.Base(dir), filepath.Base(f)), n)})
			}
		}
	}
	return v
}
