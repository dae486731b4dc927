package inject

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func walletPod(annotations map[string]string) *corev1.Pod {
	a := map[string]string{
		AnnotationInject: ModeWalletd, AnnotationLeaseName: "l", AnnotationKeystoreSecret: "ks",
		AnnotationFactomdURL: "http://factomd:8088", AnnotationWalletPath: "/var/wallet/w.db",
	}
	for k, v := range annotations {
		if v == "-" {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "w-0", Annotations: a}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "wallet", Image: "walletd", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/var/wallet"}}}},
		Volumes:    []corev1.Volume{{Name: "data"}},
	}}
}

func TestParseSettingsRefusesWithTheReason(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   map[string]string
		want  string
		asked bool
	}{
		{"no annotation: not asked", map[string]string{AnnotationInject: "-"}, "", false},
		{"complete walletd settings", nil, "", true},
		{"missing lease and keystore Secret", map[string]string{AnnotationLeaseName: "-", AnnotationKeystoreSecret: " "}, "factom.io/inject=walletd needs the annotation(s) factom.io/lease-name, factom.io/keystore-secret", true},
		{"unknown mode", map[string]string{AnnotationInject: "bitcoind"}, `factom.io/inject="bitcoind": want factomd or walletd`, true},
		{"factomd URL without scheme", map[string]string{AnnotationFactomdURL: "factomd:8088"}, `factom.io/factomd-url="factomd:8088": want http://host:port`, true},
		{"wallet file on the root filesystem", map[string]string{AnnotationWalletPath: "/tmp/w.db"}, `factom.io/wallet-path="/tmp/w.db" is on no volume container wallet`, true},
		{"relative wallet path", map[string]string{AnnotationWalletPath: "w.db"}, "want an absolute path", true},
		{"wallet path beside the mount, not in it", map[string]string{AnnotationWalletPath: "/var/wallet2/w.db"}, "is on no volume", true},
		{"empty key Secret", map[string]string{AnnotationKeystoreKeySecret: ""}, "factom.io/keystore-key-secret is empty", true},
		{"factomd without peer Service", map[string]string{AnnotationInject: ModeFactomd}, "factom.io/inject=factomd needs the annotation(s) factom.io/peer-service, factom.io/max-lag", true},
		{"factomd with a bad max lag", map[string]string{AnnotationInject: ModeFactomd, AnnotationPeerService: "p", AnnotationMaxLag: "two"}, `factom.io/max-lag="two": want a number of blocks`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, asked, err := ParseSettings(walletPod(tc.set))
			if asked != tc.asked {
				t.Fatalf("asked = %v, want %v", asked, tc.asked)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestInjectIsIdempotent(t *testing.T) {
	pod := walletPod(map[string]string{AnnotationKeystoreKeySecret: "my-key"})
	s, _, err := ParseSettings(pod)
	if err != nil {
		t.Fatal(err)
	}
	if !Inject(pod, s, Image{Name: "sidecar:1"}) {
		t.Fatal("a fresh pod was not injected")
	}
	once := pod.DeepCopy()
	if Inject(pod, s, Image{Name: "sidecar:1"}) {
		t.Fatal("an injected pod was injected again")
	}
	if len(pod.Spec.Containers) != 2 || len(pod.Spec.InitContainers) != 1 || len(pod.Spec.Volumes) != 2 || pod.String() != once.String() {
		t.Fatalf("second injection changed the pod: %d containers, %d init, %d volumes", len(pod.Spec.Containers), len(pod.Spec.InitContainers), len(pod.Spec.Volumes))
	}
	if got := pod.Spec.Volumes[1].Secret.SecretName; got != "my-key" {
		t.Errorf("key Secret %q, want my-key", got)
	}
	init := pod.Spec.InitContainers[0]
	if init.VolumeMounts[0].Name != "data" || init.VolumeMounts[0].MountPath != "/var/wallet" {
		t.Errorf("walletd-init mounts %v, want walletd's data mount first", init.VolumeMounts)
	}
}

// The factomd container's probes ask the sidecar on a numeric port: the
// kubelet resolves a named port in the probed container alone.
func TestFactomdProbesUseTheSidecarsNumericPort(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationInject: ModeFactomd, AnnotationPeerService: "peers", AnnotationMaxLag: "4"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "node", ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}}}}}
	s, _, err := ParseSettings(pod)
	if err != nil {
		t.Fatal(err)
	}
	Inject(pod, s, Image{Name: "sidecar:1"})
	node := pod.Spec.Containers[0]
	for name, p := range map[string]*corev1.Probe{"readiness": node.ReadinessProbe, "liveness": node.LivenessProbe, "startup": node.StartupProbe} {
		if p.HTTPGet == nil || p.HTTPGet.Port.IntValue() != sidecarPort || p.TCPSocket != nil {
			t.Errorf("%s probe %+v, want an httpGet on %d", name, p, sidecarPort)
		}
	}
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[1].Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["FACTOM_SIDECAR_MAX_LAG"] != "metadata.annotations['factom.io/max-lag']" || env["FACTOM_SIDECAR_PEER_SERVICE"] != "metadata.annotations['factom.io/peer-service']" {
		t.Errorf("sidecar env %v", env)
	}
}
