package manifests_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// helm runs bin/helm with its state in a temporary directory and returns
// its combined output and error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := toolCommand(t, "helm", args...)
	home := t.TempDir()
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestChartPassesHelmLintStrict(t *testing.T) {
	for _, values := range [][]string{nil, {"--values", chartDir + "/values-local.yaml", "--values", "test/node/helm-values.yaml"}} {
		out, err := helm(t, append([]string{"lint", "--strict", chartDir, "--kube-version", helmKubeVersion}, values...)...)
		if err != nil {
			t.Errorf("helm lint --strict %v: %v\n%s", values, err, out)
		}
	}
}

// values.schema.json refuses a wrong type with a message that names the
// value and the type it wants, before anything renders.
func TestChartSchemaRefusesWrongTypes(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"wallet.replicas=three", "at '/wallet/replicas': got string, want integer"},
		{"bridge.enabled=maybe", "at '/bridge/enabled': got string, want boolean"},
		{"wallet.scheduling.mode=sometimes", "at '/wallet/scheduling/mode': value must be one of 'preferred', 'required', 'none'"},
		{"sidecar.image=factom-sidecar:latest", "at '/sidecar/image': got string, want object"},
		{"keystoreKey.value=not-hex", "at '/keystoreKey/value'"},
	} {
		out, err := helm(t, "template", "factom", chartDir, "--kube-version", helmKubeVersion, "--set", tc.set)
		if err == nil || !strings.Contains(out, "values don't meet the specifications of the schema") || !strings.Contains(out, tc.want) {
			t.Errorf("--set %s: err %v, output %q; want a schema refusal with %q", tc.set, err, out, tc.want)
		}
	}
}

func objectsByKind(t *testing.T, objs []*unstructured.Unstructured, kind string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() == kind {
			out[o.GetName()] = o
		}
	}
	return out
}

func role(t *testing.T, objs []*unstructured.Unstructured) rbacv1.Role {
	t.Helper()
	roles := objectsByKind(t, objs, "Role")
	if len(roles) != 1 {
		t.Fatalf("%d Roles, want 1", len(roles))
	}
	var r rbacv1.Role
	for _, o := range roles {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

// Names, the Lease, the Secrets and the Role's resourceNames follow the
// release (or fullnameOverride) and wallet.replicas.
func TestChartNamesFollowTheRelease(t *testing.T) {
	for _, tc := range []struct {
		release string
		set     []string
		prefix  string
		pods    []string
	}{
		{"alpha", nil, "alpha", []string{"alpha-wallet-0", "alpha-wallet-1", "alpha-wallet-2"}},
		{"beta", []string{"fullnameOverride=gamma", "wallet.replicas=5"}, "gamma", []string{"gamma-wallet-0", "gamma-wallet-1", "gamma-wallet-2", "gamma-wallet-3", "gamma-wallet-4"}},
	} {
		t.Run(tc.release, func(t *testing.T) {
			args := []string{"template", tc.release, chartDir, "--namespace", "ns"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			objs := decode(t, render(t, "helm", args...))
			for _, o := range objs {
				if !strings.HasPrefix(o.GetName(), tc.prefix+"-") {
					t.Errorf("%s %s is not named after %s", o.GetKind(), o.GetName(), tc.prefix)
				}
				if o.GetLabels()["app.kubernetes.io/instance"] != tc.release {
					t.Errorf("%s %s: instance label %q, want %q", o.GetKind(), o.GetName(), o.GetLabels()["app.kubernetes.io/instance"], tc.release)
				}
				for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart"} {
					if o.GetLabels()[l] == "" {
						t.Errorf("%s %s has no %s label", o.GetKind(), o.GetName(), l)
					}
				}
			}
			r := role(t, objs)
			names := map[string][]string{}
			for _, rule := range r.Rules {
				if len(rule.ResourceNames) > 0 {
					names[rule.Resources[0]] = rule.ResourceNames
				}
			}
			want := map[string][]string{"leases": {tc.prefix + "-walletd-leader"}, "pods": tc.pods, "secrets": {tc.prefix + "-wallet-keystore"}}
			if !reflect.DeepEqual(names, want) {
				t.Errorf("Role resourceNames %v, want %v", names, want)
			}
			sts := objectsByKind(t, objs, "StatefulSet")[tc.prefix+"-wallet"]
			if sts == nil {
				t.Fatalf("no StatefulSet %s-wallet", tc.prefix)
			}
			spec, _ := podSpec(t, sts)
			for _, c := range append(spec.InitContainers, spec.Containers[1]) {
				env := envOf(c)
				if env["FACTOM_SIDECAR_LEASE_NAME"] != tc.prefix+"-walletd-leader" || env["FACTOM_SIDECAR_KEYSTORE_SECRET"] != tc.prefix+"-wallet-keystore" {
					t.Errorf("container %s: lease %q, keystore %q", c.Name, env["FACTOM_SIDECAR_LEASE_NAME"], env["FACTOM_SIDECAR_KEYSTORE_SECRET"])
				}
			}
			if got := spec.Volumes[len(spec.Volumes)-1].Secret.SecretName; got != tc.prefix+"-wallet-keystore-key" {
				t.Errorf("keystore key Secret %q", got)
			}
			if spec.ServiceAccountName != tc.prefix+"-sidecar" {
				t.Errorf("ServiceAccount %q", spec.ServiceAccountName)
			}
		})
	}
}

// Two releases in one namespace install side by side on the real API
// server (helm refuses an object another release owns), and their
// selectors never pick the other release's pods. NOTES.txt tells how to
// check leadership and readiness.
func TestTwoReleasesInstallIntoOneNamespace(t *testing.T) {
	needKube(t)
	const ns = "two-releases"
	if err := kube.CreateNamespace(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kube.WriteKubeconfig(kubeconfig, testenv.Admin); err != nil {
		t.Fatal(err)
	}
	selectors := map[string]map[string]string{}
	for _, rel := range []string{"alpha", "beta"} {
		out, err := helm(t, "install", rel, chartDir, "--namespace", ns, "--kubeconfig", kubeconfig,
			"--set", "keystoreKey.create=true", "--set", "keystoreKey.value="+strings.Repeat("ab", 32))
		if err != nil {
			t.Fatalf("helm install %s: %v\n%s", rel, err, out)
		}
		for _, want := range []string{"-l app.kubernetes.io/instance=" + rel + ",factom.io/role=leader", "get lease " + rel + "-walletd-leader", "helm test " + rel,
			"--lease " + rel + "-walletd-leader --keystore-secret " + rel + "-wallet-keystore", "--wallet-selector app.kubernetes.io/instance=" + rel + ",app.kubernetes.io/name=factom-wallet"} {
			if !strings.Contains(out, want) {
				t.Errorf("helm install %s: NOTES lack %q:\n%s", rel, want, out)
			}
		}
		objs := decode(t, render(t, "helm", "template", rel, chartDir, "--namespace", ns))
		sts := objectsByKind(t, objs, "StatefulSet")[rel+"-wallet"]
		sel, _, _ := unstructured.NestedStringMap(sts.Object, "spec", "selector", "matchLabels")
		selectors[rel] = sel
	}
	labels := func(rel string) map[string]string {
		objs := decode(t, render(t, "helm", "template", rel, chartDir, "--namespace", ns))
		sts := objectsByKind(t, objs, "StatefulSet")[rel+"-wallet"]
		l, _, _ := unstructured.NestedStringMap(sts.Object, "spec", "template", "metadata", "labels")
		return l
	}
	matches := func(sel, l map[string]string) bool {
		for k, v := range sel {
			if l[k] != v {
				return false
			}
		}
		return true
	}
	if matches(selectors["alpha"], labels("beta")) || matches(selectors["beta"], labels("alpha")) {
		t.Errorf("one release's wallet selector %v / %v matches the other's pods", selectors["alpha"], selectors["beta"])
	}
	out, err := helm(t, "list", "--namespace", ns, "--kubeconfig", kubeconfig, "--short")
	if err != nil || !slices.Equal(strings.Fields(out), []string{"alpha", "beta"}) {
		t.Errorf("helm list: %q %v, want alpha and beta", out, err)
	}
}
