package manifests_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// The chart's development key: `helm uninstall` must not delete it, since
// the keystore Secret the sidecar created stays behind and opens only with
// it. Installed and uninstalled for real by helm against the API server.
func TestHelmUninstallKeepsTheDevelopmentKey(t *testing.T) {
	needKube(t)
	const ns = "manifests-helm-keep"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := kube.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kube.WriteKubeconfig(kubeconfig, testenv.Admin); err != nil {
		t.Fatal(err)
	}
	helm, err := testenv.Binary("helm")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, helm, append(args, "--kubeconfig", kubeconfig, "--namespace", ns)...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(cmd.Environ(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	key, previous := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	run("install", "factom", "manifests/helm/factom-sidecar", "--set", "keystoreKey.create=true",
		"--set", "keystoreKey.value="+key, "--set", "keystoreKey.previousValue="+previous)
	cs, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "factom-wallet-keystore-key", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["key"]) != key || string(sec.Data["previous"]) != previous {
		t.Fatalf("key Secret items: %v", keysOf(sec.Data))
	}
	if _, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "factom-wallet", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	run("uninstall", "factom")
	if _, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "factom-wallet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the StatefulSet outlived helm uninstall: %v", err)
	}
	sec, err = cs.CoreV1().Secrets(ns).Get(ctx, "factom-wallet-keystore-key", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("helm uninstall deleted the keystore key: %v", err)
	}
	if string(sec.Data["key"]) != key {
		t.Fatal("the kept key Secret lost its key")
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// wallet.networkPolicy.proxyFrom replaces who may reach the proxy and
// leaves the probe/metrics port to the namespace; the API server accepts
// the result.
func TestProxyNetworkPolicyAdmitsTheLabelledClients(t *testing.T) {
	objs := decode(t, render(t, "helm", "template", "factom", "manifests/helm/factom-sidecar", "--namespace", "manifests-netpol",
		"--set-json", `wallet.networkPolicy.proxyFrom=[{"podSelector":{"matchLabels":{"factom.io/wallet-client":"true"}}},{"namespaceSelector":{"matchLabels":{"factom.io/wallet-client":"true"}}}]`))
	var np *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" && o.GetName() == "factom-wallet" {
			np = o
		}
	}
	if np == nil {
		t.Fatal("no factom-wallet NetworkPolicy")
	}
	rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	got := map[string]string{}
	for _, r := range rules {
		rule := r.(map[string]any)
		ports, _, _ := unstructured.NestedSlice(rule, "ports")
		from, _, _ := unstructured.NestedSlice(rule, "from")
		for _, p := range ports {
			got[fmt.Sprint(p.(map[string]any)["port"])] = fmt.Sprint(from)
		}
	}
	if want := "factom.io/wallet-client"; !strings.Contains(got["8189"], want) || !strings.Contains(got["8189"], "namespaceSelector") || strings.Contains(got["8099"], want) {
		t.Fatalf("ingress by port: %v", got)
	}
	if _, ok := got["8089"]; ok {
		t.Fatal("walletd's own port is admitted")
	}
	dryRunApply(t, "manifests-netpol", objs)
}
