package inject_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// statefulSets decodes the StatefulSets of a manifest rendering.
func statefulSets(t *testing.T, data []byte) map[string]*appsv1.StatefulSet {
	t.Helper()
	objs, err := testenv.DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.StatefulSet{}
	for _, o := range objs {
		if o.GetKind() != "StatefulSet" {
			continue
		}
		var sts appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &sts); err != nil {
			t.Fatal(err)
		}
		out[sts.Name] = &sts
	}
	return out
}

// fixture is the community-shaped deployment of test/thirdparty, as its
// operator has it: nothing injected.
func fixture(t *testing.T) map[string]*appsv1.StatefulSet {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, f := range []string{"factomd.yaml", "walletd.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, "test/thirdparty/community", f))
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, data...), "\n---\n"...)
	}
	return statefulSets(t, all)
}

// podOf is the pod the StatefulSet controller would create: the template,
// named after the ordinal, with the claim volumes added.
func podOf(sts *appsv1.StatefulSet, ordinal int) *corev1.Pod {
	name := fmt.Sprintf("%s-%d", sts.Name, ordinal)
	pod := &corev1.Pod{ObjectMeta: *sts.Spec.Template.ObjectMeta.DeepCopy(), Spec: *sts.Spec.Template.Spec.DeepCopy()}
	pod.Name = name
	for _, c := range sts.Spec.VolumeClaimTemplates {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name + "-" + name}}})
	}
	return pod
}

func create(t *testing.T, ns string, pod *corev1.Pod) (*corev1.Pod, error) {
	t.Helper()
	return clients.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
}

func containerNames(cs []corev1.Container) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

// The API server calls the webhook for the third-party StatefulSets' pods
// and stores them with the sidecar; a pod created again from an injected
// spec comes back unchanged.
func TestWebhookInjectsTheThirdPartyPods(t *testing.T) {
	needKube(t)
	for name, want := range map[string][2]string{"community-factomd": {"", "node,sidecar"}, "community-walletd": {"walletd-init", "wallet,sidecar"}} {
		t.Run(name, func(t *testing.T) {
			sts := fixture(t)[name]
			got, err := create(t, injectNS, podOf(sts, 0))
			if err != nil {
				t.Fatal(err)
			}
			if containerNames(got.Spec.InitContainers) != want[0] || containerNames(got.Spec.Containers) != want[1] {
				t.Fatalf("stored pod: init %q, containers %q; want %q, %q", containerNames(got.Spec.InitContainers), containerNames(got.Spec.Containers), want[0], want[1])
			}
			for _, p := range []*corev1.Probe{got.Spec.Containers[0].ReadinessProbe, got.Spec.Containers[0].LivenessProbe} {
				if name == "community-factomd" && (p == nil || p.HTTPGet == nil || p.HTTPGet.Port.IntValue() != 8099) {
					t.Errorf("factomd probe %+v, want the sidecar's port 8099", p)
				}
			}
			again := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: got.Name + "-again", Labels: got.Labels, Annotations: got.Annotations}, Spec: *got.Spec.DeepCopy()}
			again.Spec.NodeName = ""
			stored, err := create(t, injectNS, again)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored.Spec.Containers, got.Spec.Containers) || !reflect.DeepEqual(stored.Spec.InitContainers, got.Spec.InitContainers) || !reflect.DeepEqual(stored.Spec.Volumes, got.Spec.Volumes) {
				t.Errorf("an injected pod was changed by the webhook again: containers %q", containerNames(stored.Spec.Containers))
			}
		})
	}
}

// A pod that asks for injection without a required setting is refused
// by the API server with the webhook's reason; one that does not ask
// passes unchanged.
func TestWebhookRefusesAPodWithAMissingSetting(t *testing.T) {
	needKube(t)
	pod := podOf(fixture(t)["community-walletd"], 1)
	delete(pod.Annotations, "factom.io/lease-name")
	_, err := create(t, injectNS, pod)
	if err == nil || !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "factom.io/inject=walletd needs the annotation(s) factom.io/lease-name") {
		t.Fatalf("create: %v; want a refusal naming factom.io/lease-name", err)
	}
	t.Logf("refused as expected: %v", err)
	plain := podOf(fixture(t)["community-walletd"], 2)
	delete(plain.Annotations, "factom.io/inject")
	got, err := create(t, injectNS, plain)
	if err != nil {
		t.Fatal(err)
	}
	if containerNames(got.Spec.Containers) != "wallet" || len(got.Spec.InitContainers) != 0 {
		t.Errorf("a pod without factom.io/inject was changed: %q", containerNames(got.Spec.Containers))
	}
}

// The kustomize components and the webhook give the same init containers,
// containers (probes, env, ports, mounts, resources) and volumes for the
// same annotations. Both pods go through the API server's defaulting; the
// component's in a namespace the webhook does not select.
func TestWebhookAndComponentsGiveTheSamePods(t *testing.T) {
	needKube(t)
	kustomize, err := testenv.Binary("kustomize")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := testenv.RepoRoot()
	rendered, err := exec.Command(kustomize, "build", filepath.Join(root, "test/thirdparty")).Output()
	if err != nil {
		t.Fatalf("kustomize build test/thirdparty: %v", err)
	}
	component := statefulSets(t, rendered)
	for name, sts := range fixture(t) {
		t.Run(name, func(t *testing.T) {
			// No token volume: its name is random per pod.
			web, comp := podOf(sts, 3), podOf(component[name], 3)
			web.Spec.AutomountServiceAccountToken, comp.Spec.AutomountServiceAccountToken = new(false), new(false)
			byWebhook, err := create(t, injectNS, web)
			if err != nil {
				t.Fatal(err)
			}
			byComponent, err := create(t, plainNS, comp)
			if err != nil {
				t.Fatal(err)
			}
			w, c := byWebhook.Spec, byComponent.Spec
			if !reflect.DeepEqual(w.InitContainers, c.InitContainers) {
				t.Errorf("init containers differ\nwebhook:   %+v\ncomponent: %+v", w.InitContainers, c.InitContainers)
			}
			if len(w.Containers) != len(c.Containers) {
				t.Fatalf("containers: webhook %q, component %q", containerNames(w.Containers), containerNames(c.Containers))
			}
			for i := range w.Containers {
				if !reflect.DeepEqual(w.Containers[i], c.Containers[i]) {
					t.Errorf("container %s differs\nwebhook:   %+v\ncomponent: %+v", w.Containers[i].Name, w.Containers[i], c.Containers[i])
				}
			}
			if !reflect.DeepEqual(volumesByName(w.Volumes), volumesByName(c.Volumes)) {
				t.Errorf("volumes differ\nwebhook:   %+v\ncomponent: %+v", w.Volumes, c.Volumes)
			}
		})
	}
}

func volumesByName(vs []corev1.Volume) map[string]corev1.Volume {
	out := map[string]corev1.Volume{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out
}

// A renewed certificate (cert-manager rewrites the files) is served
// without a restart.
func TestWebhookServesARenewedCertificate(t *testing.T) {
	needKube(t)
	if err := writeServingCert(7); err != nil {
		t.Fatal(err)
	}
	err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		conn, err := tls.Dial("tcp", webhookAddr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			return false, err
		}
		defer conn.Close()
		serial := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		return serial == 7, fmt.Errorf("serving certificate serial %d, want 7", serial)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The API server still calls it (it trusts the CA, not the leaf).
	if got, err := create(t, injectNS, factomdProbePod("after-renewal")); err != nil || len(got.Spec.Containers) != 2 {
		t.Fatalf("after the renewal: %v", err)
	}
}
