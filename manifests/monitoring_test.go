package manifests_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

const chartDir = "manifests/helm/factom-sidecar"

// sameObjects reports every object that is in one rendering and not the
// other, or differs between them.
func sameObjects(t *testing.T, aName string, a map[string]map[string]any, bName string, b map[string]map[string]any) {
	t.Helper()
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		x, inA := a[k]
		y, inB := b[k]
		switch {
		case !inA:
			t.Errorf("%s: rendered by %s, not by %s", k, bName, aName)
		case !inB:
			t.Errorf("%s: rendered by %s, not by %s", k, aName, bName)
		case !reflect.DeepEqual(x, y):
			xj, _ := json.MarshalIndent(x, "", " ")
			yj, _ := json.MarshalIndent(y, "", " ")
			t.Errorf("%s differs\n%s: %s\n%s: %s", k, aName, around(xj, yj), bName, around(yj, xj))
		}
	}
}

// around is a's text near its first difference from b: a rendered
// dashboard is too long to print whole.
func around(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from, to := max(i-300, 0), min(i+300, len(a))
	return fmt.Sprintf("...%s... (byte %d of %d)", a[from:to], i, len(a))
}

// The kustomize component is the chart's monitoring, object for object:
// its copies of the rules and the dashboard are the chart's files.
func TestMonitoringComponentRendersWhatTheChartRenders(t *testing.T) {
	component := comparable(decode(t, render(t, "kustomize", "build", "manifests/testdata/monitoring-overlay")))
	chart := comparable(decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "factom", "--set", "metrics.enabled=true")))
	sameObjects(t, "the base with the monitoring component", component, "the chart with metrics.enabled=true", chart)
	if t.Failed() {
		t.Log("after editing the chart's files/, run `make monitoring-component`")
	}
}

// Monitoring is opt-in: the default chart has none of it (the base test
// holds the default chart to the kustomize base), and each value turns on
// what it names.
func TestMonitoringValuesTurnOnWhatTheyName(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want map[string]int
	}{
		{"metrics.enabled=false", map[string]int{}},
		{"metrics.enabled=true", map[string]int{"Service": 2, "ServiceMonitor": 1, "PrometheusRule": 1, "ConfigMap": 1, "NetworkPolicy": 1}},
		{"metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true", map[string]int{"Service": 2, "ServiceMonitor": 1, "PrometheusRule": 1, "NetworkPolicy": 1}},
		{"metrics.enabled=true,metrics.podMonitor.enabled=true", map[string]int{"PodMonitor": 1, "PrometheusRule": 1, "ConfigMap": 1, "NetworkPolicy": 1}},
		{"metrics.enabled=true,metrics.dashboard.enabled=false,metrics.networkPolicy.enabled=false", map[string]int{"Service": 2, "ServiceMonitor": 1, "PrometheusRule": 1}},
		{"metrics.service.enabled=true", map[string]int{"Service": 2}},
	} {
		t.Run(tc.set, func(t *testing.T) {
			got := map[string]int{}
			for _, o := range decode(t, render(t, "helm", "template", "factom", chartDir, "--set", tc.set)) {
				if o.GetLabels()["app.kubernetes.io/component"] == "metrics" || o.GetAPIVersion() == "monitoring.coreos.com/v1" || o.GetKind() == "ConfigMap" {
					got[o.GetKind()]++
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("monitoring objects %v, want %v", got, tc.want)
			}
		})
	}
}

var monitoringGV = schema.GroupVersion{Group: "monitoring.coreos.com", Version: "v1"}

// applyMonitoringCRDs installs the prometheus-operator CRDs (a copy of the
// operator module's own) and waits until the API server serves them.
func applyMonitoringCRDs(t *testing.T) {
	t.Helper()
	needKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var crds []*unstructured.Unstructured
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "manifests/testdata/crds/*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("CRD files %v (%v), want 3", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, decode(t, data)...)
	}
	if err := kube.ApplyObjects(ctx, crds, testenv.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(kube.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(kube.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	err = testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		for _, c := range crds {
			obj, err := dyn.Resource(crdGVR).Get(ctx, c.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			established := false
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					established = true
				}
			}
			if !established {
				return false, fmt.Errorf("CRD %s not established", c.GetName())
			}
		}
		res, err := dc.ServerResourcesForGroupVersion(monitoringGV.String())
		if err != nil {
			return false, err
		}
		if len(res.APIResources) < len(crds) {
			return false, fmt.Errorf("%s serves %d resources, want %d", monitoringGV, len(res.APIResources), len(crds))
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// What an operator installs with the monitoring values, and the component,
// pass the API server's validation against the operator's own schemas.
func TestMonitoringObjectsAreAcceptedByTheAPIServer(t *testing.T) {
	applyMonitoringCRDs(t)
	renders := map[string][]byte{
		"helm serviceMonitor+prometheusRule": render(t, "helm", "template", "factom", chartDir, "--namespace", "manifests-monitoring",
			"--set", "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true"),
		"helm metrics.enabled": render(t, "helm", "template", "factom", chartDir, "--namespace", "manifests-monitoring",
			"--set", "metrics.enabled=true"),
		"helm podMonitor": render(t, "helm", "template", "factom", chartDir, "--namespace", "manifests-monitoring",
			"--set", "metrics.enabled=true,metrics.podMonitor.enabled=true"),
		"kustomize component": render(t, "kustomize", "build", "manifests/testdata/monitoring-overlay"),
	}
	for name, data := range renders {
		t.Run(name, func(t *testing.T) {
			objs := decode(t, data)
			custom := 0
			for _, o := range objs {
				if o.GroupVersionKind().GroupVersion() == monitoringGV {
					custom++
				}
			}
			if custom == 0 {
				t.Fatal("renders no monitoring.coreos.com object")
			}
			dryRunApply(t, "manifests-monitoring", objs)
		})
	}
}

// The schema check has teeth: a ServiceMonitor whose port is a number
// (the schema wants a port name) is refused.
func TestDryRunRefusesAServiceMonitorOffItsSchema(t *testing.T) {
	applyMonitoringCRDs(t)
	objs := decode(t, []byte(`apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: broken
spec:
  selector: {}
  endpoints:
    - port: 8099
`))
	err := kube.ApplyObjects(t.Context(), objs, testenv.ApplyOptions{DefaultNamespace: "default", DryRun: true})
	if err == nil {
		t.Fatal("dry run of a ServiceMonitor with a numeric port: accepted, want refused")
	}
	t.Logf("refused as expected: %v", err)
}
