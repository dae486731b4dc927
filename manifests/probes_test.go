package manifests_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The kubelet resolves a probe's named port in the probed container alone
// (findPortByName): a name declared only on another container of the pod
// errors on every period, so readiness never turns true and liveness never
// restarts anything. The API server accepts such a probe, so only this test
// catches it.
func TestEveryNamedProbePortIsDeclaredByItsOwnContainer(t *testing.T) {
	renders := map[string][]byte{
		"helm chart": render(t, "helm", "template", "factom", "manifests/helm/factom-sidecar", "--namespace", "factom",
			"--set", "keystoreKey.create=true", "--set", "keystoreKey.value="+strings.Repeat("ab", 32)),
		"helm chart, LOCAL values and test node images": render(t, "helm", "template", "factom", "manifests/helm/factom-sidecar", "--namespace", "factom",
			"--values", "manifests/helm/factom-sidecar/values-local.yaml", "--values", "test/node/helm-values.yaml"),
	}
	for _, dir := range []string{"manifests/base", "manifests/overlays/local", "manifests/overlays/mainnet", "test/node/overlays/local", "test/thirdparty", "manifests/injector"} {
		renders[dir] = render(t, "kustomize", "build", dir)
	}
	for name, data := range renders {
		probes := 0
		for _, obj := range decode(t, data) {
			spec, ok := podSpec(t, obj)
			if !ok {
				continue
			}
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if p == nil {
						continue
					}
					probes++
					if err := probePortDeclared(c, p); err != nil {
						t.Errorf("%s: %s %s, container %s, %s probe: %v", name, obj.GetKind(), obj.GetName(), c.Name, kind, err)
					}
				}
			}
		}
		if probes == 0 {
			t.Errorf("%s: renders no probe at all", name)
		}
	}
}

// The check itself has teeth: the shape the manifests once shipped (a
// factomd probe naming the sidecar's port) is refused.
func TestProbePortCheckRefusesAnotherContainersPortName(t *testing.T) {
	factomd := corev1.Container{Name: "factomd", Ports: []corev1.ContainerPort{{Name: "api", ContainerPort: 8088}}}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("sidecar")}}}
	if err := probePortDeclared(factomd, probe); err == nil {
		t.Fatal("a probe naming a port its container does not declare was accepted")
	}
	probe.HTTPGet.Port = intstr.FromString("api")
	if err := probePortDeclared(factomd, probe); err != nil {
		t.Fatalf("a probe naming its own container's port was refused: %v", err)
	}
	probe.HTTPGet.Port = intstr.FromInt32(8099)
	if err := probePortDeclared(factomd, probe); err != nil {
		t.Fatalf("a numeric probe port was refused: %v", err)
	}
}

func probePortDeclared(c corev1.Container, p *corev1.Probe) error {
	var port intstr.IntOrString
	switch {
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	case p.GRPC != nil:
		return nil // gRPC probes take a number only
	default:
		return nil // exec probes have no port
	}
	if port.Type == intstr.Int {
		return nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return nil
		}
	}
	return fmt.Errorf("names port %q, which container %s does not declare", port.StrVal, c.Name)
}

// podSpec is the pod template of a workload object, or the spec of a Pod.
func podSpec(t *testing.T, obj *unstructured.Unstructured) (corev1.PodSpec, bool) {
	t.Helper()
	var path []string
	switch obj.GetKind() {
	case "Pod":
		path = []string{"spec"}
	case "StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job":
		path = []string{"spec", "template", "spec"}
	default:
		return corev1.PodSpec{}, false
	}
	m, ok, err := unstructured.NestedMap(obj.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no pod spec: %v", obj.GetKind(), obj.GetName(), err)
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &spec); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return spec, true
}
