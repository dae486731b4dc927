// Package e2e tests the whole walletd side as an operator runs it: sidecar
// processes in walletd mode, real walletd replicas, a real API server.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

var (
	kube    *testenv.Kube
	sidecar string
	workDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		fmt.Println("e2e: needs the real API server and walletd; skipped in -short runs")
		return m.Run()
	}
	var err error
	workDir, err = os.MkdirTemp("", "factom-sidecar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	if sidecar, err = testenv.BuildSidecarBinary(workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kube, err = testenv.StartKube(filepath.Join(workDir, "kube"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer kube.Stop()
	return m.Run()
}

// newCluster starts three walletd pods with their sidecars; each test gets a
// fresh keystore Secret and Lease, so tests do not see each other's keys.
func newCluster(t *testing.T, opts testenv.ClusterOptions) *testenv.Cluster {
	t.Helper()
	if kube == nil {
		t.Skip("needs the real API server; runs without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	resetKeystore(t)
	opts.Dir = t.TempDir()
	opts.Sidecar = sidecar
	c, err := testenv.StartCluster(ctx, kube, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, p := range c.Pods {
				t.Logf("--- %s sidecar log (tail)\n%s", p.Name, tailString(p.Sidecar.Logs(), 4000))
			}
		}
	})
	return c
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
