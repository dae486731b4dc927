package manifests_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

var kube *testenv.Kube

// helmKubeVersion is the version of the API server the tests run (tools/k8s).
const helmKubeVersion = "1.37.2"

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "manifests-kube-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kube, err = testenv.StartKube(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start kube-apiserver:", err)
		return 1
	}
	defer kube.Stop()
	return m.Run()
}

func needKube(t *testing.T) {
	t.Helper()
	if kube == nil {
		t.Skip("needs the real API server; runs without -short")
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// render runs a cached tool from bin/ and returns its stdout.
func render(t *testing.T, tool string, args ...string) []byte {
	t.Helper()
	if tool == "helm" && len(args) > 0 && args[0] == "template" {
		// The API server's version: a helm built without release ldflags
		// assumes v1.20, below the chart's kubeVersion.
		args = append(args, "--kube-version", helmKubeVersion)
	}
	cmd := toolCommand(t, tool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// toolCommand is a command of a cached tool from bin/, run in the
// repository root; tests that need one skip under -short.
func toolCommand(t *testing.T, tool string, args ...string) *exec.Cmd {
	t.Helper()
	if testing.Short() {
		t.Skipf("runs bin/%s; runs without -short", tool)
	}
	bin, err := testenv.Binary(tool)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot(t)
	return cmd
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("rendered no objects")
	}
	return objs
}

// dryRunApply server-side-applies every object with dryRun=All: the API
// server runs defaulting, validation and admission, and stores nothing.
// Namespaces are created for real first: a namespaced object cannot be
// admitted into a namespace that does not exist.
func dryRunApply(t *testing.T, defaultNamespace string, objs []*unstructured.Unstructured) {
	t.Helper()
	needKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	namespaces := map[string]bool{defaultNamespace: true}
	for _, obj := range objs {
		if obj.GetNamespace() != "" {
			namespaces[obj.GetNamespace()] = true
		}
		if obj.GetKind() == "Namespace" {
			namespaces[obj.GetName()] = true
		}
	}
	for ns := range namespaces {
		if err := kube.CreateNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	if err := kube.ApplyObjects(ctx, objs, testenv.ApplyOptions{DefaultNamespace: defaultNamespace, DryRun: true}); err != nil {
		t.Error(err)
	}
}

func kinds(objs []*unstructured.Unstructured) map[string]int {
	out := map[string]int{}
	for _, o := range objs {
		out[o.GetKind()]++
	}
	return out
}

// The dry run has teeth: an object the API server's validation rejects is
// reported by kind and name.
func TestDryRunReportsARefusedObject(t *testing.T) {
	needKube(t)
	objs := decode(t, []byte(`apiVersion: v1
kind: Service
metadata:
  name: broken
spec:
  ports:
  - port: 70000
`))
	err := kube.ApplyObjects(t.Context(), objs, testenv.ApplyOptions{DefaultNamespace: "default", DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "Service default/broken") {
		t.Fatalf("dry run of an invalid Service: err = %v, want a refusal naming it", err)
	}
}

func TestEveryOverlayIsAcceptedByTheAPIServer(t *testing.T) {
	for _, dir := range []string{"manifests/base", "manifests/overlays/local", "manifests/overlays/mainnet"} {
		t.Run(dir, func(t *testing.T) {
			objs := decode(t, render(t, "kustomize", "build", dir))
			k := kinds(objs)
			for _, want := range []string{"StatefulSet", "Service", "ServiceAccount", "Role", "RoleBinding", "PodDisruptionBudget", "NetworkPolicy"} {
				if k[want] == 0 {
					t.Errorf("%s renders no %s", dir, want)
				}
			}
			dryRunApply(t, "manifests-base", objs)
		})
	}
}

func TestHelmChartIsAcceptedByTheAPIServer(t *testing.T) {
	objs := decode(t, render(t, "helm", "template", "factom", "manifests/helm/factom-sidecar",
		"--namespace", "manifests-helm", "--set", "keystoreKey.create=true", "--set", "keystoreKey.value="+strings.Repeat("ab", 32)))
	dryRunApply(t, "manifests-helm", objs)
}

// The operator-rbac component is the chart's operatorRole.create, object
// for object.
func TestOperatorRBACComponentRendersWhatTheChartRenders(t *testing.T) {
	component := comparable(decode(t, render(t, "kustomize", "build", "manifests/testdata/operator-rbac-overlay")))
	chart := comparable(decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "factom", "--set", "operatorRole.create=true")))
	sameObjects(t, "the base with the operator-rbac component", component, "the chart with operatorRole.create", chart)
}

// The proxy-tls component is the chart's wallet.proxyTLS with a
// cert-manager issuer, object for object.
func TestProxyTLSComponentRendersWhatTheChartRenders(t *testing.T) {
	component := comparable(decode(t, render(t, "kustomize", "build", "manifests/testdata/proxy-tls-overlay")))
	chart := comparable(decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "factom",
		"--set", "wallet.proxyTLS.secretName=factom-wallet-proxy-tls",
		"--set", "wallet.proxyTLS.certManager.issuerRef.kind=ClusterIssuer",
		"--set", "wallet.proxyTLS.certManager.issuerRef.name=factom-ca")))
	sameObjects(t, "the base with the proxy-tls component", component, "the chart with wallet.proxyTLS", chart)
}

// The proxy-auth component is the chart's wallet.proxyAuthSecret, object
// for object.
func TestProxyAuthComponentRendersWhatTheChartRenders(t *testing.T) {
	component := comparable(decode(t, render(t, "kustomize", "build", "manifests/testdata/proxy-auth-overlay")))
	chart := comparable(decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "factom", "--set", "wallet.proxyAuthSecret=factom-wallet-proxy-auth")))
	sameObjects(t, "the base with the proxy-auth component", component, "the chart with wallet.proxyAuthSecret", chart)
}
