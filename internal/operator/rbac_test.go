package operator_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The factom-operator Role is enough for every command (the other steps
// run the plugin with it) and no more than that: with its token, walletd's
// port, other Secrets and the Lease's spec are out of reach.
func operatorRoleReachesOnlyTheSidecarPort(t *testing.T) {
	cs, err := kubernetes.NewForConfig(env.operator)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ns := env.cluster.Namespace
	pod := env.cluster.Pods[0]
	sidecar := strconv.Itoa(env.ports[pod.Name])
	if _, err := cs.CoreV1().Pods(ns).ProxyGet("", pod.Name, sidecar, "/status", nil).DoRaw(ctx); err != nil {
		t.Fatalf("the sidecar port through the pod proxy: %v", err)
	}
	refused := map[string]func() error{
		"walletd's port through the pod proxy": func() error {
			_, err := cs.CoreV1().Pods(ns).ProxyGet("", pod.Name, strconv.Itoa(pod.Walletd.Port), "/v2", nil).DoRaw(ctx)
			return err
		},
		"the proxy's port through the pod proxy": func() error {
			_, err := cs.CoreV1().Pods(ns).ProxyGet("", pod.Name, "8189", "/v2", nil).DoRaw(ctx)
			return err
		},
		"another Secret": func() error {
			_, err := cs.CoreV1().Secrets(ns).Get(ctx, "factom-wallet-keystore-key", metav1.GetOptions{})
			return err
		},
		"listing Secrets": func() error {
			_, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"updating the Lease": func() error {
			l, err := env.admin.CoordinationV1().Leases(ns).Get(ctx, "factom-walletd-leader", metav1.GetOptions{})
			if err != nil {
				return err
			}
			_, err = cs.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		},
		"exec into a pod": func() error {
			return cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(pod.Name).SubResource("exec").Do(ctx).Error()
		},
	}
	for what, do := range refused {
		if err := do(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want forbidden", what, err)
		}
	}
}
