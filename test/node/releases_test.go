package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// TestTwoHelmReleasesInOneNamespace installs the chart twice into one
// namespace: each release elects its own leader over its own Lease and
// keystore, and each passes helm test (through its own Services).
func TestTwoHelmReleasesInOneNamespace(t *testing.T) {
	n := needNode(t)
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "factom-two"
	d := &deployment{node: n, ns: ns}
	t.Cleanup(func() { d.remove(t) })
	releases := []string{"alpha", "beta"}
	for _, rel := range releases {
		// One factomd each keeps two releases within the node's share of
		// CPU; the wallet keeps its three replicas.
		if out, err := n.Helm(ctx, "install", rel, filepath.Join(root, "manifests/helm/factom-sidecar"),
			"--namespace", ns, "--create-namespace", "--set", "bridge.replicas=1",
			"--values", filepath.Join(root, "manifests/helm/factom-sidecar/values-local.yaml"),
			"--values", filepath.Join(root, "test/node/helm-values.yaml")); err != nil {
			t.Fatalf("helm install %s: %v\n%s", rel, err, out)
		}
	}
	for _, rel := range releases {
		t.Run("helm test "+rel, func(t *testing.T) {
			out, err := n.Helm(ctx, "test", rel, "--namespace", ns, "--logs", "--timeout", "8m")
			if err != nil {
				logs, _ := n.Kubectl(ctx, "logs", "-n", ns, rel+"-test")
				t.Fatalf("helm test %s: %v\n%s\ntest pod log:\n%s", rel, err, out, logs)
			}
			if !strings.Contains(out, "ok: the write read back through "+rel+"-wallet-read") {
				t.Errorf("helm test %s output:\n%s", rel, out)
			}
		})
	}
	t.Run("one leader per release, each holding its own Lease", func(t *testing.T) {
		for _, rel := range releases {
			sel := "app.kubernetes.io/instance=" + rel + ",app.kubernetes.io/name=factom-wallet,factom.io/role=leader"
			pods, err := n.WaitPods(ctx, ns, sel, 1, 2*time.Minute, func(p *corev1.Pod) bool { return PodReady(p) })
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			lease, err := n.Client.CoordinationV1().Leases(ns).Get(ctx, rel+"-walletd-leader", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			holder := ""
			if lease.Spec.HolderIdentity != nil {
				holder = *lease.Spec.HolderIdentity
			}
			if holder != pods[0].Name || !strings.HasPrefix(holder, rel+"-wallet-") {
				t.Errorf("%s: Lease held by %q, leader pod %s", rel, holder, pods[0].Name)
			}
			if _, err := n.Client.CoreV1().Secrets(ns).Get(ctx, rel+"-wallet-keystore", metav1.GetOptions{}); err != nil {
				t.Errorf("%s: keystore Secret: %v", rel, err)
			}
		}
	})
}
