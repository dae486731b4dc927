package walletsync_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// One API server for the package: integration tests share it and run in
// order; each starts from a deleted keystore Secret.
var kube *testenv.Kube

const testSecret = "factom-wallet-keystore"

var testPods = []string{"factom-wallet-0", "factom-wallet-1", "factom-wallet-2"}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(runWithKube(m))
}

func runWithKube(m *testing.M) int {
	dir, err := os.MkdirTemp("", "walletsync-kube-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kube, err = testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "start kube:", err)
		return 1
	}
	defer kube.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kube.CreateNamespace(ctx, testenv.KubeTestNamespace); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The shipped Role is what the sidecar gets: the tests' replicators
	// use the plain user it binds, so a missing verb fails here.
	if err := kube.ApplyManifest(ctx, filepath.Join(root, "manifests", "base", "rbac.yaml"), testenv.KubeTestNamespace); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, p := range testPods {
		if _, err := kube.CreatePod(ctx, testenv.KubeTestNamespace, p, map[string]string{"app.kubernetes.io/name": "factom-wallet"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

func userClient(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(kube.UserConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func adminClient(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
