package node

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// cluster is the one real node of this test binary, started by TestMain.
var cluster *Node

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	// flag.Parse runs in m.Run; -short is read here the same way.
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return m.Run()
		}
	}
	dir, err := os.MkdirTemp("", "factom-node-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "node tests:", err)
		return 1
	}
	// Up to 30 minutes waiting for another node on this machine, then
	// Start's own budget.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	began := time.Now()
	cluster, err = Start(ctx, dir)
	if err != nil {
		// A real-node test that cannot start its node fails: it never
		// passes as skipped.
		fmt.Fprintln(os.Stderr, "node tests: the real node did not start:", err)
		return 1
	}
	fmt.Printf("node tests: real node %s Ready in %s (state in %s)\n", Name, time.Since(began).Round(100*time.Millisecond), dir)
	code := m.Run()
	cluster.Stop()
	if code == 0 && os.Getenv("FACTOM_SIDECAR_KEEP") == "" {
		_ = os.RemoveAll(dir)
	}
	return code
}

// needNode skips under -short (make unit) and otherwise hands back the
// test binary's node.
func needNode(t *testing.T) *Node {
	t.Helper()
	if testing.Short() {
		t.Skip("runs on the real node; run without -short (make node-test)")
	}
	if cluster == nil {
		t.Fatal("the real node is not running")
	}
	return cluster
}
