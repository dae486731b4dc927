package leader_test

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// TestRBAC asks the real API server, as the sidecar's identity whose only
// rights come from manifests/base/rbac.yaml, for what the sidecar needs and
// for what it must not get.
func TestRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server")
	}
	resetLease(t)
	user, err := kubernetes.NewForConfig(env.kube.UserConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Objects the sidecar must not touch, created as admin.
	holder := "someone"
	for _, name := range []string{"other-lease"} {
		_, err := env.admin.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	_, err = env.admin.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "other-secret"}, StringData: map[string]string{"k": "v"},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	label := func(role string) []byte { return []byte(`{"metadata":{"labels":{"factom.io/role":"` + role + `"}}}`) }
	allowed := []struct {
		name string
		call func() error
	}{
		{"create the election Lease", func() error {
			_, err := user.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: leaseName}}, metav1.CreateOptions{})
			return err
		}},
		{"get and update the election Lease", func() error {
			l, err := user.CoordinationV1().Leases(ns).Get(ctx, leaseName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			l.Spec.HolderIdentity = &holder
			_, err = user.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{})
			return err
		}},
		{"watch the election Lease by name", func() error {
			w, err := user.CoordinationV1().Leases(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + leaseName})
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"label a wallet pod", func() error {
			_, err := user.CoreV1().Pods(ns).Patch(ctx, "factom-wallet-1", types.StrategicMergePatchType, label("follower"), metav1.PatchOptions{})
			return err
		}},
		{"read a wallet pod", func() error {
			_, err := user.CoreV1().Pods(ns).Get(ctx, "factom-wallet-1", metav1.GetOptions{})
			return err
		}},
		{"watch the leader's pod by name (early-takeover evidence)", func() error {
			w, err := user.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=factom-wallet-1"})
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"create an Event", func() error {
			_, err := user.CoreV1().Events(ns).Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Name: "factom-wallet-1.rbac"},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "factom-wallet-1"},
				Reason:         "RBACTest", Message: "allowed", Type: corev1.EventTypeNormal,
			}, metav1.CreateOptions{})
			return err
		}},
		{"read the keystore Secret (absent is fine, forbidden is not)", func() error {
			_, err := user.CoreV1().Secrets(ns).Get(ctx, "factom-wallet-keystore", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}},
	}
	for _, a := range allowed {
		t.Run("allowed: "+a.name, func(t *testing.T) {
			if err := a.call(); err != nil {
				t.Fatalf("denied or failed: %v", err)
			}
		})
	}

	denied := []struct {
		name string
		call func() error
	}{
		{"get another Lease", func() error {
			_, err := user.CoordinationV1().Leases(ns).Get(ctx, "other-lease", metav1.GetOptions{})
			return err
		}},
		{"update another Lease", func() error {
			l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "other-lease"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
			_, err := user.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{})
			return err
		}},
		{"list Leases", func() error {
			_, err := user.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"delete the election Lease", func() error {
			return user.CoordinationV1().Leases(ns).Delete(ctx, leaseName, metav1.DeleteOptions{})
		}},
		{"read another Secret", func() error {
			_, err := user.CoreV1().Secrets(ns).Get(ctx, "other-secret", metav1.GetOptions{})
			return err
		}},
		{"list Secrets", func() error {
			_, err := user.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"label a pod outside the StatefulSet", func() error {
			_, err := user.CoreV1().Pods(ns).Patch(ctx, "other-app", types.StrategicMergePatchType, label("leader"), metav1.PatchOptions{})
			return err
		}},
		{"list pods", func() error {
			_, err := user.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"watch every pod", func() error {
			w, err := user.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		}},
		{"delete a wallet pod", func() error {
			return user.CoreV1().Pods(ns).Delete(ctx, "factom-wallet-2", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		}},
		{"read the election Lease in another namespace", func() error {
			_, err := user.CoordinationV1().Leases("default").Get(ctx, leaseName, metav1.GetOptions{})
			return err
		}},
	}
	for _, d := range denied {
		t.Run("denied: "+d.name, func(t *testing.T) {
			if err := d.call(); !apierrors.IsForbidden(err) {
				t.Fatalf("want Forbidden from the API server, got %v", err)
			}
		})
	}
	resetLease(t)
}
