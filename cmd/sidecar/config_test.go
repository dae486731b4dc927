package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/health"
	"github.com/factom-sidecar/factom-sidecar/internal/kube"
	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
)

// Every configuration has one shape: RegisterFlags, a Validate without
// I/O, and Load where flags name files.
var (
	_ config.Section = (*health.Config)(nil)
	_ config.Section = (*leader.Config)(nil)
	_ config.Section = (*kube.Flags)(nil)
	_ config.Section = (*kube.PodFlags)(nil)
	_ config.Loader  = (*walletsync.Flags)(nil)
	_ config.Loader  = (*walletsync.KeyFlags)(nil)
	_ config.Loader  = (*proxySecurity)(nil)
)

// The defaults every mode takes from the pod's environment come through
// the lookup run is given, not from the process environment.
func TestModesReadTheEnvironmentThroughRunsLookup(t *testing.T) {
	lookup := envOf("POD_NAMESPACE", "wallets-from-lookup", "POD_NAME", "factom-wallet-7", "POD_IP", "10.9.8.7")
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{"walletd", []string{
			"--namespace (env FACTOM_SIDECAR_NAMESPACE, default wallets-from-lookup)",
			"--pod-name (env FACTOM_SIDECAR_POD_NAME, default factom-wallet-7)",
			"--kubeconfig (env FACTOM_SIDECAR_KUBECONFIG, default \"\")",
		}},
		{"walletd-init", []string{
			"--namespace (env FACTOM_SIDECAR_NAMESPACE, default wallets-from-lookup)",
			"--keystore-secret (env FACTOM_SIDECAR_KEYSTORE_SECRET, default factom-wallet-keystore)",
		}},
		{"factomd", []string{"--pod-ip (env FACTOM_SIDECAR_POD_IP, default 10.9.8.7)"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{tc.mode, "--help"}, &stdout, &stderr, lookup); code != exitOK {
			t.Fatalf("%s --help: exit %d: %s", tc.mode, code, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%s --help lacks %q:\n%s", tc.mode, w, stdout.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"walletd-init", "--help"}, &stdout, &stderr, lookup); code != exitOK || strings.Contains(stdout.String(), "--pod-name") {
		t.Errorf("walletd-init takes no --pod-name:\n%s", stdout.String())
	}
}

// Only main reads the process environment; everything else gets run's
// lookup.
func TestOnlyMainReadsTheProcessEnvironment(t *testing.T) {
	for _, root := range []string{".", "../../internal"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == "main.go" {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
					t.Errorf("%s reads the environment with os.%s; take the lookup run is given", path, sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
