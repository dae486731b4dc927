package walletsync_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// buildSidecar builds the sidecar command once per test binary.
func buildSidecar(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sidecar")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/sidecar")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sidecar: %v\n%s", err, b)
	}
	return out
}

// TestWalletdInitCommand runs `sidecar walletd-init` as the init container
// would, with the sidecar's RBAC: replicas starting together share one new
// seed; a wallet of another seed is refused with exit code 1 and left as
// it was; the first leader promotes over the keystore walletd-init made.
func TestWalletdInitCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the API server and walletd")
	}
	deleteSecret(t)
	ctx := context.Background()
	bin := buildSidecar(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := kube.WriteKubeconfig(kubeconfig, testenv.Sidecar); err != nil {
		t.Fatal(err)
	}
	key := newSealKey(t)
	keyFile := filepath.Join(dir, "key")
	// The hex form of the key file.
	if err := os.WriteFile(keyFile, []byte(hexKey(t, key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	seen := &secrets{}
	run := func(walletPath string, keyArgs ...string) (int, string) {
		if keyArgs == nil {
			keyArgs = []string{"--keystore-key-file", keyFile}
		}
		args := append([]string{"walletd-init", "--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig,
			"--namespace", testenv.KubeTestNamespace, "--wallet-path", walletPath, "--timeout", "30s"}, keyArgs...)
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}

	pathA, pathB := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	code, out := run(pathA)
	if code != 0 || !strings.Contains(out, `"outcome":"created_keystore"`) {
		t.Fatalf("first walletd-init: exit %d\n%s", code, out)
	}
	code, outB := run(pathB)
	if code != 0 || !strings.Contains(outB, `"outcome":"created"`) {
		t.Fatalf("second walletd-init: exit %d\n%s", code, outB)
	}
	seedA, _, err := walletfile.ReadSeed(pathA)
	if err != nil {
		t.Fatal(err)
	}
	seedB, _, _ := walletfile.ReadSeed(pathB)
	seen.add(seedA.Reveal())
	if seedA != seedB {
		t.Fatal("replicas got different seeds")
	}

	// The first leader promotes over the term-0 keystore walletd-init made.
	w := startWalletd(t, pathA)
	rep := newReplica(t, testPods[0], key, w)
	if err := rep.r.Promote(ctx, 1); err != nil {
		t.Fatalf("promote over walletd-init's keystore: %v", err)
	}
	res, err := write(t, rep, 1, walletd.MethodGenerateFactoidAddress, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen.addKeys(generated(t, res))
	b, _ := w.client.WalletBackup(ctx)
	if b.Seed != seedA {
		t.Fatal("walletd does not use the wallet-init seed")
	}

	// A wallet file of another seed: refused, exit 1, unchanged.
	foreign := filepath.Join(dir, "foreign.db")
	if err := walletfile.Create(foreign, walletfile.Contents{Seed: walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow")}); err != nil {
		t.Fatal(err)
	}
	seen.add("legal winner thank year wave sausage worth useful legal winner thank yellow")
	before, _ := os.ReadFile(foreign)
	code, outF := run(foreign)
	if code != 1 || !strings.Contains(outF, `"event":"walletd_init_failed"`) || !strings.Contains(outF, "another seed") {
		t.Fatalf("foreign wallet: exit %d\n%s", code, outF)
	}
	after, _ := os.ReadFile(foreign)
	if string(before) != string(after) {
		t.Fatal("walletd-init changed a foreign wallet file")
	}
	// An existing wallet with the replicated seed: left alone, exit 0.
	if code, out := run(pathB); code != 0 || !strings.Contains(out, `"outcome":"exists"`) {
		t.Fatalf("existing wallet: exit %d\n%s", code, out)
	}
	// Mid-rotation: a pod whose key file already holds the next key opens
	// the Secret, still sealed with the old one, by its previous key; without
	// it walletd-init refuses, naming key ids only.
	next := newSealKey(t)
	seen.AddKey(testKeyBytes[key])
	seen.AddKey(testKeyBytes[next])
	nextFile := filepath.Join(dir, "next")
	if err := os.WriteFile(nextFile, []byte(hexKey(t, next)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, outN := run(filepath.Join(dir, "n.db"), "--keystore-key-file", nextFile)
	if code != 1 || !strings.Contains(outN, "sealed with another key") || !strings.Contains(outN, key.ID()) {
		t.Fatalf("next key alone: exit %d\n%s", code, outN)
	}
	code, outR := run(filepath.Join(dir, "r.db"), "--keystore-key-file", nextFile, "--keystore-previous-key-file", keyFile)
	if code != 0 || !strings.Contains(outR, `"outcome":"created"`) {
		t.Fatalf("next key with the old one as previous: exit %d\n%s", code, outR)
	}
	for _, o := range []string{out, outB, outF, outN, outR, rep.logs.String()} {
		seen.check(t, "walletd-init output", o)
	}
}
