package inject_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// What failurePolicy means while no injector answers (README, "Injecting
// into a deployment you already run"): with Fail, a pod of a selected
// namespace is not created; with Ignore, it is created without the
// sidecar; a namespace the selector leaves out is never affected.
func TestFailurePolicyWhileNoInjectorAnswers(t *testing.T) {
	needKube(t)
	ctx := t.Context()
	port, err := testenv.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	live, dead := "https://"+webhookAddr+"/mutate", "https://127.0.0.1:"+strconv.Itoa(port)+"/mutate"
	for _, policy := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Fail, admissionregistrationv1.Ignore} {
		ns := "down-" + strings.ToLower(string(policy))
		if err := kube.CreateNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		patch := []byte(`{"metadata":{"labels":{"injector-down":"` + ns + `"}}}`)
		if _, err := clients.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		cfg := webhookConfig("injector-down-"+ns, live, map[string]string{"injector-down": ns}, policy, 2)
		created, err := clients.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		next := func() (*corev1.Pod, error) {
			n++
			return create(t, ns, factomdProbePod(fmt.Sprintf("p-%d", n)))
		}
		// In force first (pods injected), then the injector "goes away":
		// the change from injected to refused or plain is the policy's.
		if err := testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
			got, err := next()
			return err == nil && names(got) == "factomd,sidecar", fmt.Errorf("not injected yet: %v", err)
		}); err != nil {
			t.Fatalf("failurePolicy %s, injector up: %v", policy, err)
		}
		created.Webhooks[0].ClientConfig.URL = &dead
		if _, err := clients.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		err = testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
			got, err := next()
			switch {
			case policy == admissionregistrationv1.Fail && err != nil:
				if !strings.Contains(err.Error(), "failed calling webhook") {
					return false, fmt.Errorf("refused, but not for the webhook: %w", err)
				}
				t.Logf("Fail: refused as expected: %v", err)
				return true, nil
			case policy == admissionregistrationv1.Ignore && err == nil && names(got) == "factomd":
				return true, nil
			case err != nil:
				return false, err
			}
			return false, fmt.Errorf("pod %s: containers %s: the update is not in force yet", got.Name, names(got))
		})
		if err != nil {
			t.Fatalf("failurePolicy %s, injector down: %v", policy, err)
		}
	}
	// The namespace the real configuration selects is not touched by these.
	if got, err := create(t, plainNS, factomdProbePod("unselected")); err != nil || names(got) != "factomd" {
		t.Errorf("a pod of an unselected namespace: %v, containers %s", err, names(got))
	}
}

func names(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return containerNames(p.Spec.Containers)
}
