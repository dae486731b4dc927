package manifests_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func renderChart(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "factom", chartDir, "--namespace", "factom"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decode(t, render(t, "helm", args...))
}

func statefulSetSpec(t *testing.T, objs []*unstructured.Unstructured, name string) corev1.PodSpec {
	t.Helper()
	sts := objectsByKind(t, objs, "StatefulSet")[name]
	if sts == nil {
		t.Fatalf("no StatefulSet %s", name)
	}
	spec, _ := podSpec(t, sts)
	return spec
}

// With the default values both StatefulSets prefer one pod per node and
// spread over zones (so three wallet pods land on three nodes where there
// are three, and still schedule on one); "required" makes both hard.
func TestChartSpreadsEachStatefulSetOverNodesAndZones(t *testing.T) {
	for _, mode := range []string{"preferred", "required"} {
		objs := renderChart(t, "bridge.scheduling.mode="+mode, "wallet.scheduling.mode="+mode)
		for _, name := range []string{"factom-bridge", "factom-wallet"} {
			spec := statefulSetSpec(t, objs, name)
			sel := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "factom"}
			aa := spec.Affinity.PodAntiAffinity
			var term corev1.PodAffinityTerm
			switch {
			case mode == "preferred" && len(aa.PreferredDuringSchedulingIgnoredDuringExecution) == 1 && aa.RequiredDuringSchedulingIgnoredDuringExecution == nil:
				term = aa.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
			case mode == "required" && len(aa.RequiredDuringSchedulingIgnoredDuringExecution) == 1 && aa.PreferredDuringSchedulingIgnoredDuringExecution == nil:
				term = aa.RequiredDuringSchedulingIgnoredDuringExecution[0]
			default:
				t.Fatalf("%s, %s: anti-affinity %+v", name, mode, aa)
			}
			if term.TopologyKey != "kubernetes.io/hostname" || !reflect.DeepEqual(term.LabelSelector.MatchLabels, sel) {
				t.Errorf("%s, %s: anti-affinity term %+v", name, mode, term)
			}
			want := corev1.ScheduleAnyway
			if mode == "required" {
				want = corev1.DoNotSchedule
			}
			if len(spec.TopologySpreadConstraints) != 1 {
				t.Fatalf("%s, %s: spread %+v", name, mode, spec.TopologySpreadConstraints)
			}
			tsc := spec.TopologySpreadConstraints[0]
			if tsc.TopologyKey != "topology.kubernetes.io/zone" || tsc.WhenUnsatisfiable != want || tsc.MaxSkew != 1 || !reflect.DeepEqual(tsc.LabelSelector.MatchLabels, sel) {
				t.Errorf("%s, %s: spread %+v", name, mode, tsc)
			}
		}
	}
	spec := statefulSetSpec(t, renderChart(t, "wallet.scheduling.mode=none"), "factom-wallet")
	if spec.Affinity != nil || spec.TopologySpreadConstraints != nil {
		t.Errorf("mode none: affinity %+v, spread %+v", spec.Affinity, spec.TopologySpreadConstraints)
	}
}

func TestChartSchedulingValuesReachThePods(t *testing.T) {
	objs := renderChart(t, "wallet.scheduling.nodeSelector.disk=ssd", "wallet.scheduling.priorityClassName=high",
		"wallet.scheduling.tolerations[0].key=dedicated", "wallet.scheduling.tolerations[0].operator=Exists",
		"imagePullSecrets[0].name=regcred", "wallet.storageClass=fast", "bridge.storageClass=-")
	spec := statefulSetSpec(t, objs, "factom-wallet")
	if spec.NodeSelector["disk"] != "ssd" || spec.PriorityClassName != "high" || len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "dedicated" {
		t.Errorf("wallet pod spec: nodeSelector %v, priorityClass %q, tolerations %v", spec.NodeSelector, spec.PriorityClassName, spec.Tolerations)
	}
	for _, name := range []string{"factom-bridge", "factom-wallet"} {
		if s := statefulSetSpec(t, objs, name); len(s.ImagePullSecrets) != 1 || s.ImagePullSecrets[0].Name != "regcred" {
			t.Errorf("%s: imagePullSecrets %v", name, s.ImagePullSecrets)
		}
	}
	for name, want := range map[string]any{"factom-wallet": "fast", "factom-bridge": ""} {
		sts := objectsByKind(t, objs, "StatefulSet")[name]
		vcts, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
		got, ok, _ := unstructured.NestedFieldNoCopy(vcts[0].(map[string]any), "spec", "storageClassName")
		if !ok || got != want {
			t.Errorf("%s: storageClassName %v (set %v), want %q", name, got, ok, want)
		}
	}
}

// extraArgs and extraEnv reach every container, each only its own.
func TestChartExtraArgsAndEnvReachEveryContainer(t *testing.T) {
	set := []string{"sidecar.extraArgs[0]=--all-sidecars"}
	containers := map[string]string{"bridge": "factom-bridge/factomd", "bridge.sidecar": "factom-bridge/sidecar",
		"wallet": "factom-wallet/walletd", "wallet.sidecar": "factom-wallet/sidecar", "wallet.init": "factom-wallet/walletd-init"}
	for key := range containers {
		flag := "--only-" + strings.ReplaceAll(key, ".", "-")
		set = append(set, key+".extraArgs[0]="+flag, key+".extraEnv[0].name=ONLY_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_")), key+".extraEnv[0].value=x")
	}
	objs := renderChart(t, set...)
	for key, where := range containers {
		sts, name, _ := strings.Cut(where, "/")
		spec := statefulSetSpec(t, objs, sts)
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			own := c.Name == name
			if slices.Contains(c.Args, "--only-"+strings.ReplaceAll(key, ".", "-")) != own {
				t.Errorf("%s: container %s/%s args %q", key, sts, c.Name, c.Args)
			}
			if _, ok := envOf(c)["ONLY_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))]; ok != own {
				t.Errorf("%s: container %s/%s env %v", key, sts, c.Name, c.Env)
			}
			isSidecar := c.Name == "sidecar" || c.Name == "walletd-init"
			if slices.Contains(c.Args, "--all-sidecars") != isSidecar {
				t.Errorf("sidecar.extraArgs: container %s/%s args %q", sts, c.Name, c.Args)
			}
		}
	}
}

// Each part has its own switch; the keystore key can be an existing Secret
// under any key.
func TestChartTogglesRemoveWhatTheyName(t *testing.T) {
	count := func(objs []*unstructured.Unstructured) map[string]int {
		out := map[string]int{}
		for _, o := range objs {
			if o.GetAnnotations()["helm.sh/hook"] == "" {
				out[o.GetKind()]++
			}
		}
		return out
	}
	all := count(renderChart(t))
	for _, tc := range []struct {
		set  string
		gone map[string]int
	}{
		{"bridge.enabled=false", map[string]int{"StatefulSet": 1, "Service": 2, "PodDisruptionBudget": 1, "NetworkPolicy": 1}},
		{"wallet.enabled=false", map[string]int{"StatefulSet": 1, "Service": 3, "PodDisruptionBudget": 1, "NetworkPolicy": 1, "ServiceAccount": 1, "Role": 1, "RoleBinding": 1}},
		{"networkPolicy.enabled=false", map[string]int{"NetworkPolicy": 2}},
		{"podDisruptionBudget.enabled=false", map[string]int{"PodDisruptionBudget": 2}},
		{"rbac.create=false", map[string]int{"Role": 1, "RoleBinding": 1}},
		{"serviceAccount.create=false", map[string]int{"ServiceAccount": 1}},
	} {
		got := count(renderChart(t, tc.set))
		for k, n := range all {
			if all[k]-got[k] != tc.gone[k] {
				t.Errorf("%s: %d %s left of %d, want %d removed", tc.set, got[k], k, n, tc.gone[k])
			}
		}
	}
	spec := statefulSetSpec(t, renderChart(t, "keystoreKey.existingSecret=my-key", "keystoreKey.secretKey=hex"), "factom-wallet")
	var vol *corev1.SecretVolumeSource
	for _, v := range spec.Volumes {
		if v.Name == "keystore-key" {
			vol = v.Secret
		}
	}
	if vol == nil || vol.SecretName != "my-key" || len(vol.Items) != 1 || vol.Items[0].Key != "hex" || vol.Items[0].Path != "key" {
		t.Errorf("keystore-key volume %+v, want my-key's hex as key", vol)
	}
	spec = statefulSetSpec(t, renderChart(t, "bridge.enabled=false", "wallet.factomd=factomd.example:8088"), "factom-wallet")
	if !strings.Contains(strings.Join(spec.Containers[0].Args, " "), "-s=factomd.example:8088") {
		t.Errorf("walletd args %v, want the given factomd", spec.Containers[0].Args)
	}
}
