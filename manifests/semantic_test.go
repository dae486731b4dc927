package manifests_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// helmOnlyLabels are the standard labels only a Helm release can carry:
// the release (instance), the chart and its version, the manager. The
// kustomize base carries the others (name, part-of, component).
var helmOnlyLabels = []string{"app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"}

// A deliberate difference between the chart with default values and the
// kustomize base (or its components): what it is and why. apply rewrites
// an object of either rendering so the difference disappears.
type deliberate struct {
	what, why string
	apply     func(obj map[string]any) (keep bool)
}

var sidecarImage = regexp.MustCompile(`^factom-sidecar:.*$`)

var deliberateDifferences = []deliberate{
	{
		what: "the sidecar image tag (and the injector's --sidecar-image)",
		why:  "the chart defaults it to its appVersion; the base says latest and the overlays set the tag",
		apply: func(obj map[string]any) bool {
			eachContainer(obj, func(c map[string]any) {
				if img, _ := c["image"].(string); sidecarImage.MatchString(img) {
					c["image"] = "factom-sidecar"
				}
				// The injector's image of the injected containers, likewise.
				if args, ok := c["args"].([]any); ok {
					for i, a := range args {
						if s, _ := a.(string); strings.HasPrefix(s, "--sidecar-image=factom-sidecar:") {
							args[i] = "--sidecar-image=factom-sidecar"
						}
					}
				}
			})
			return true
		},
	},
	{
		what: "the helm test Pod",
		why:  "a helm.sh/hook object exists only in a Helm release (helm test); kustomize has no counterpart",
		apply: func(obj map[string]any) bool {
			ann, _, _ := unstructured.NestedStringMap(obj, "metadata", "annotations")
			return ann["helm.sh/hook"] == ""
		},
	},
}

// comparable is each object by kind/name, normalised: the namespace is
// the installer's, Helm-only labels are dropped from every label map and
// selector, and the deliberate differences are applied.
func comparable(objs []*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		c := o.DeepCopy()
		c.SetNamespace("")
		normaliseLabels(c.Object, "")
		keep := true
		for _, d := range deliberateDifferences {
			keep = keep && d.apply(c.Object)
		}
		if keep {
			out[c.GetKind()+"/"+c.GetName()] = c.Object
		}
	}
	return out
}

// normaliseLabels walks v and drops helmOnlyLabels from every map held
// under a labels, matchLabels or selector key.
func normaliseLabels(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		if key == "labels" || key == "matchLabels" || key == "selector" {
			for _, l := range helmOnlyLabels {
				delete(x, l)
			}
		}
		for k, e := range x {
			normaliseLabels(e, k)
		}
	case []any:
		for _, e := range x {
			normaliseLabels(e, key)
		}
	}
}

func eachContainer(obj map[string]any, f func(map[string]any)) {
	for _, path := range [][]string{{"spec", "template", "spec"}, {"spec"}} {
		spec, ok, _ := unstructured.NestedMap(obj, path...)
		if !ok {
			continue
		}
		for _, list := range []string{"initContainers", "containers"} {
			cs, _ := spec[list].([]any)
			for _, c := range cs {
				if m, ok := c.(map[string]any); ok {
					f(m)
				}
			}
		}
		_ = unstructured.SetNestedMap(obj, spec, path...)
		return
	}
}

// The chart with default values (release "factom") is the kustomize base:
// the same kinds and names, containers, probes, volumes and RBAC rules,
// after dropping the Helm-only labels and the deliberate differences
// listed above.
func TestHelmChartRendersTheKustomizeBase(t *testing.T) {
	base := comparable(decode(t, render(t, "kustomize", "build", "manifests/base")))
	chart := comparable(decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "factom")))
	sameObjects(t, "the kustomize base", base, "the chart", chart)
	if t.Failed() {
		var list []string
		for _, d := range deliberateDifferences {
			list = append(list, d.what+" ("+d.why+")")
		}
		t.Logf("differences on purpose, already normalised: %s", strings.Join(list, "; "))
	}
}

// The normalisation has teeth: a probe, a rule or a selector that differs
// is still a difference.
func TestNormalisationKeepsWhatMatters(t *testing.T) {
	base := decode(t, render(t, "kustomize", "build", "manifests/base"))
	for _, tc := range []struct {
		name   string
		change func(o *unstructured.Unstructured)
	}{
		{"a readiness probe path", func(o *unstructured.Unstructured) {
			if o.GetKind() == "StatefulSet" && o.GetName() == "factom-bridge" {
				cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				_ = unstructured.SetNestedField(cs[0].(map[string]any), "/other", "readinessProbe", "httpGet", "path")
				_ = unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
			}
		}},
		{"a Role rule", func(o *unstructured.Unstructured) {
			if o.GetKind() == "Role" {
				_ = unstructured.SetNestedSlice(o.Object, []any{}, "rules")
			}
		}},
		{"a Service selector", func(o *unstructured.Unstructured) {
			if o.GetKind() == "Service" && o.GetName() == "factom-wallet" {
				_ = unstructured.SetNestedField(o.Object, "follower", "spec", "selector", "factom.io/role")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var changed []*unstructured.Unstructured
			for _, o := range base {
				c := o.DeepCopy()
				tc.change(c)
				changed = append(changed, c)
			}
			a, b := comparable(base), comparable(changed)
			differ := false
			for k := range a {
				if !reflect.DeepEqual(a[k], b[k]) {
					differ = true
				}
			}
			if !differ {
				t.Fatalf("changing %s left the normalised renderings equal", tc.name)
			}
		})
	}
}
