package manifests_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// The admission policy narrows the Role: with a token bound to its pod (as
// the kubelet's projected token is), the sidecar's ServiceAccount changes
// its own pod's factom.io/role label and nothing else, on the real API
// server.
func TestAdmissionPolicyLetsTheSidecarChangeOnlyItsOwnRoleLabel(t *testing.T) {
	needKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns = "admission-policy"
	if err := kube.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	if err := kube.ApplyManifest(ctx, filepath.Join(root, "manifests/base/rbac.yaml"), ns); err != nil {
		t.Fatal(err)
	}
	if err := kube.ApplyManifest(ctx, filepath.Join(root, "manifests/components/admission-policy/policy.yaml"), ""); err != nil {
		t.Fatal(err)
	}
	admin, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	var own *corev1.Pod
	for _, name := range []string{"factom-wallet-0", "factom-wallet-1"} {
		// Pods of the sidecar's ServiceAccount (a token can be bound only
		// to a pod running as it). There is no kubelet: they stay Pending.
		p, err := admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/name": "factom-wallet", "factom.io/role": "follower"}},
			Spec: corev1.PodSpec{
				ServiceAccountName:           "factom-sidecar",
				AutomountServiceAccountToken: new(false),
				Containers:                   []corev1.Container{{Name: "main", Image: "registry.invalid/pause:1"}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if own == nil {
			own = p
		}
	}
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "factom-sidecar", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: own.Name, UID: own.UID},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := kube.AdminConfig()
	cfg.BearerToken = tr.Status.Token
	sidecar, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	patch := func(pod, body string) error {
		_, err := sidecar.CoreV1().Pods(ns).Patch(ctx, pod, types.MergePatchType, []byte(body), metav1.PatchOptions{})
		return err
	}
	// The policy takes effect once the API server has compiled it.
	err = testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		err := patch("factom-wallet-1", `{"metadata":{"labels":{"factom.io/role":"leader"}}}`)
		if err == nil {
			return false, fmt.Errorf("another pod's label was changed: the policy is not in force yet")
		}
		return apierrors.IsForbidden(err) || apierrors.IsInvalid(err), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := patch("factom-wallet-0", `{"metadata":{"labels":{"factom.io/role":"leader"}}}`); err != nil {
		t.Fatalf("the sidecar could not label its own pod: %v", err)
	}
	for name, body := range map[string]string{
		"another pod's role label":     `{"metadata":{"labels":{"factom.io/role":"follower"}}}`,
		"another label of its own pod": `{"metadata":{"labels":{"app.kubernetes.io/name":"other"}}}`,
		"a new label on its own pod":   `{"metadata":{"labels":{"extra":"x"}}}`,
		"an annotation of its own pod": `{"metadata":{"annotations":{"note":"x"}}}`,
		"the image of its own pod":     `{"spec":{"containers":[{"name":"main","image":"registry.invalid/other:1"}]}}`,
	} {
		pod := "factom-wallet-0"
		if strings.HasPrefix(name, "another pod") {
			pod = "factom-wallet-1"
		}
		err := patch(pod, body)
		if err == nil || !strings.Contains(err.Error(), "factom-sidecar service account may") {
			t.Errorf("%s: want the policy's refusal, got %v", name, err)
		}
	}
	// RBAC alone still decides for other identities: the admin is not
	// matched by the policy.
	if _, err := admin.CoreV1().Pods(ns).Patch(ctx, "factom-wallet-1", types.MergePatchType, []byte(`{"metadata":{"labels":{"extra":"x"}}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("the policy refused an identity it does not match: %v", err)
	}
}

// The chart ships the component's policy file (a chart cannot read files
// outside itself); the two stay one text.
func TestChartShipsTheComponentsAdmissionPolicy(t *testing.T) {
	root := repoRoot(t)
	component, err := os.ReadFile(filepath.Join(root, "manifests/components/admission-policy/policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	chart, err := os.ReadFile(filepath.Join(root, "manifests/helm/factom-sidecar/files/admission-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(component) != string(chart) {
		t.Fatal("manifests/helm/factom-sidecar/files/admission-policy.yaml differs from manifests/components/admission-policy/policy.yaml; copy the component's file")
	}
}

// With admissionPolicy.enabled the chart renders the policy and its binding,
// named after the release, and the API server accepts them.
func TestChartAdmissionPolicyIsAcceptedByTheAPIServer(t *testing.T) {
	objs := decode(t, render(t, "helm", "template", "rel", "manifests/helm/factom-sidecar", "--namespace", "manifests-vap",
		"--set", "admissionPolicy.enabled=true", "--show-only", "templates/admission-policy.yaml"))
	k := kinds(objs)
	if k["ValidatingAdmissionPolicy"] != 1 || k["ValidatingAdmissionPolicyBinding"] != 1 {
		t.Fatalf("rendered %v, want one policy and one binding", k)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.GetName(), "rel-") {
			t.Errorf("%s %s is not named after the release", o.GetKind(), o.GetName())
		}
	}
	dryRunApply(t, "manifests-vap", objs)
}
