package leader_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// everyLineIsJSON checks that every line a replica's sidecar (all its
// restarts: the log file is appended to) and its walletd-init printed,
// stdout and stderr together, is one JSON object: what a log pipeline
// reading `kubectl logs -c sidecar` needs. client-go's klog output is
// among them once the API server fails.
func (c *cluster) everyLineIsJSON(t *testing.T) {
	t.Helper()
	for _, r := range c.replicas {
		for _, path := range []string{r.sidecar.LogPath, filepath.Join(r.pod.Dir, "walletd-init.log")} {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			n, fromClientGo := 0, 0
			for sc.Scan() {
				n++
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Errorf("%s line %d is not JSON: %q", filepath.Base(path), n, sc.Text())
					continue
				}
				if m["logger"] == "client-go" {
					fromClientGo++
				}
			}
			f.Close()
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("%s of %s is empty", filepath.Base(path), r.name)
			}
			if strings.HasSuffix(path, "sidecar.log") {
				t.Logf("%s: %d lines, %d from client-go", r.name, n, fromClientGo)
			}
		}
	}
}
