package node

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// TestInjectedThirdPartyDeployment runs a deployment the project did not
// write (test/thirdparty, on a LOCAL network: test/node/thirdparty) in a
// namespace that opts in to `sidecar injector`, installed by the chart:
// the webhook adds the sidecar, the bridge pods turn Ready through it,
// exactly one wallet pod leads, and writes through its Service work.
func TestInjectedThirdPartyDeployment(t *testing.T) {
	n := needNode(t)
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	injector := &deployment{node: n, ns: "factom-injector"}
	t.Cleanup(func() { injector.remove(t) })
	if out, err := n.Helm(ctx, "install", "factom", filepath.Join(root, "manifests/helm/factom-sidecar"),
		"--namespace", injector.ns, "--create-namespace", "--values", filepath.Join(root, "test/node/helm-values.yaml"),
		"--set", "bridge.enabled=false,wallet.enabled=false,injector.enabled=true,injector.replicas=1"); err != nil {
		t.Fatalf("helm install (injector only): %v\n%s", err, out)
	}
	if _, err := n.WaitPods(ctx, injector.ns, "app.kubernetes.io/name=factom-injector", 1, 3*time.Minute, PodReady); err != nil {
		t.Fatalf("injector: %v", err)
	}
	d := &deployment{node: n, ns: "factom-community"}
	t.Cleanup(func() { d.remove(t) })
	apply := func() string {
		out, err := n.Kubectl(ctx, "apply", "-k", filepath.Join(root, "test/node/thirdparty"))
		if err != nil {
			t.Fatalf("kubectl apply -k test/node/thirdparty: %v\n%s", err, out)
		}
		return out
	}
	apply()
	injected := func(p *corev1.Pod) bool {
		_, ok := ContainerStatus(p, "sidecar")
		return ok && PodReady(p)
	}
	t.Run("factomd pods become Ready through the injected sidecar", func(t *testing.T) {
		if _, err := n.WaitPods(ctx, d.ns, "app=factomd,release=community", 2, 6*time.Minute, func(p *corev1.Pod) bool {
			return injected(p) && sidecarHeight(p) >= 3
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("walletd pods become Ready after walletd-init, one leader", func(t *testing.T) {
		if _, err := n.WaitPods(ctx, d.ns, "app=walletd,release=community", 3, 6*time.Minute, injected); err != nil {
			t.Fatal(err)
		}
		if _, err := n.WaitPods(ctx, d.ns, "app=walletd,release=community,factom.io/role=leader", 1, time.Minute, PodReady); err != nil {
			t.Fatal(err)
		}
		d.waitEndpoints(t, "community-walletd-proxy", 1, time.Minute)
	})
	t.Run("a write through the proxy Service is read back from every replica", func(t *testing.T) {
		var a Address
		if err := Call(ctx, d.serviceURL(t, "community-walletd-proxy"), "generate-ec-address", nil, &a); err != nil {
			t.Fatalf("write: %v", err)
		}
		d.waitReadBack(t, "community-walletd-read", a.Public)
	})
	t.Run("re-applying the deployment changes no pod", func(t *testing.T) {
		// kubectl may report "configured" (client-side apply patches
		// defaulted fields back); what must not change is the pod template
		// (the StatefulSet's generation) and the pods themselves.
		before := map[string]string{}
		generations := map[string]int64{}
		for _, name := range []string{"community-factomd", "community-walletd"} {
			sts, err := n.Client.AppsV1().StatefulSets(d.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			generations[name] = sts.Generation
		}
		pods, err := n.Client.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: "release=community"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			before[p.Name] = string(p.UID)
		}
		diff, _ := n.Kubectl(ctx, "diff", "-k", filepath.Join(root, "test/node/thirdparty"))
		t.Logf("kubectl diff before applying again:\n%s", diff)
		t.Logf("kubectl apply again:\n%s", apply())
		for name, g := range generations {
			sts, err := n.Client.AppsV1().StatefulSets(d.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sts.Generation != g {
				t.Errorf("%s: generation %d → %d: the re-apply changed its pod template", name, g, sts.Generation)
			}
		}
		after, err := n.Client.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: "release=community"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range after.Items {
			sidecars := 0
			for _, c := range p.Spec.Containers {
				if c.Name == "sidecar" {
					sidecars++
				}
			}
			if before[p.Name] != string(p.UID) || sidecars != 1 {
				t.Errorf("pod %s: replaced (%v) or %d sidecars", p.Name, before[p.Name] != string(p.UID), sidecars)
			}
		}
	})
	if t.Failed() {
		t.Logf("%s", n.PodProblems(ctx, d.ns))
	}
}
