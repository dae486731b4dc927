package manifests_test

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func container(spec corev1.PodSpec, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// The sidecar components inject into StatefulSets the project did not
// write (test/thirdparty: their own names, labels, ports, probes and
// volumes): factomd's probes ask the sidecar on a numeric port, walletd
// gets walletd-init with its own mounts and the sidecar with the proxy,
// and the API server accepts the result.
func TestSidecarComponentsInjectAThirdPartyDeployment(t *testing.T) {
	objs := decode(t, render(t, "kustomize", "build", "test/thirdparty"))
	bridge := statefulSetSpec(t, objs, "community-factomd")
	if len(bridge.Containers) != 2 || bridge.Containers[0].Name != "node" || bridge.Containers[1].Name != "sidecar" {
		t.Fatalf("factomd pod containers %v, want node then sidecar", names(bridge.Containers))
	}
	node := bridge.Containers[0]
	for kind, p := range map[string]*corev1.Probe{"readiness": node.ReadinessProbe, "liveness": node.LivenessProbe, "startup": node.StartupProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.IntValue() != 8099 || !strings.HasSuffix(p.HTTPGet.Path, "z") {
			t.Errorf("factomd %s probe %+v, want an httpGet on 8099", kind, p)
		}
	}
	wallet := statefulSetSpec(t, objs, "community-walletd")
	if names(wallet.InitContainers) != "walletd-init" || names(wallet.Containers) != "wallet,sidecar" {
		t.Fatalf("walletd pod: init %s, containers %s", names(wallet.InitContainers), names(wallet.Containers))
	}
	init, walletd := wallet.InitContainers[0], wallet.Containers[0]
	for _, m := range walletd.VolumeMounts {
		found := false
		for _, im := range init.VolumeMounts {
			found = found || (im.Name == m.Name && im.MountPath == m.MountPath && im.SubPath == m.SubPath)
		}
		if !found {
			t.Errorf("walletd-init does not mount %s at %s as walletd does", m.Name, m.MountPath)
		}
	}
	sidecar := container(wallet, "sidecar")
	ports := map[string]int32{}
	for _, p := range sidecar.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["proxy"] != 8189 || ports["sidecar"] != 8099 {
		t.Errorf("sidecar ports %v", ports)
	}
	// Every setting the sidecar reads from an annotation is one the
	// fixture's pod template sets.
	sts := objectsByKind(t, objs, "StatefulSet")["community-walletd"]
	annotations, _, _ := unstructured.NestedStringMap(sts.Object, "spec", "template", "metadata", "annotations")
	read := 0
	for _, c := range []corev1.Container{init, *sidecar} {
		for _, e := range c.Env {
			if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || !strings.HasPrefix(e.ValueFrom.FieldRef.FieldPath, "metadata.annotations[") {
				continue
			}
			read++
			key := strings.TrimSuffix(strings.TrimPrefix(e.ValueFrom.FieldRef.FieldPath, "metadata.annotations['"), "']")
			if annotations[key] == "" {
				t.Errorf("container %s reads %s from annotation %s, which the pod template does not set", c.Name, e.Name, key)
			}
		}
	}
	if read < 6 {
		t.Errorf("the walletd containers read %d settings from annotations, want at least 6", read)
	}
	for _, o := range objs {
		spec, ok := podSpec(t, o)
		if !ok {
			continue
		}
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
				if p != nil {
					if err := probePortDeclared(c, p); err != nil {
						t.Errorf("%s, container %s: %v", o.GetName(), c.Name, err)
					}
				}
			}
		}
	}
	dryRunApply(t, "thirdparty-component", objs)
}

func names(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

// A chart that adds the sidecar with the chart's named templates
// (manifests/testdata/sidecar-library, the community deployment again)
// gets the containers, probes and volumes the components give.
func TestChartNamedTemplatesGiveWhatTheComponentsGive(t *testing.T) {
	byComponent := decode(t, render(t, "kustomize", "build", "test/thirdparty"))
	byTemplates := decode(t, render(t, "helm", "template", "community", "manifests/testdata/sidecar-library"))
	for _, name := range []string{"community-factomd", "community-walletd"} {
		c, w := statefulSetSpec(t, byComponent, name), statefulSetSpec(t, byTemplates, name)
		if !reflect.DeepEqual(c.InitContainers, w.InitContainers) {
			t.Errorf("%s: init containers differ\ncomponent: %+v\ntemplates: %+v", name, c.InitContainers, w.InitContainers)
		}
		if !reflect.DeepEqual(c.Containers, w.Containers) {
			t.Errorf("%s: containers differ\ncomponent: %+v\ntemplates: %+v", name, c.Containers, w.Containers)
		}
		cv, wv := map[string]corev1.Volume{}, map[string]corev1.Volume{}
		for _, v := range c.Volumes {
			cv[v.Name] = v
		}
		for _, v := range w.Volumes {
			wv[v.Name] = v
		}
		if !reflect.DeepEqual(cv, wv) {
			t.Errorf("%s: volumes differ\ncomponent: %+v\ntemplates: %+v", name, c.Volumes, w.Volumes)
		}
	}
}
