package inject_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// One API server and one `sidecar injector` process for the package; the
// API server calls the webhook over TLS on loopback, trusting the test CA
// through the configuration's caBundle.
var (
	kube        *testenv.Kube
	clients     *kubernetes.Clientset
	ca          *testenv.CA
	certFile    string
	keyFile     string
	webhookAddr string
)

const (
	injectNS   = "inject-on"  // labelled factom.io/injection=enabled
	plainNS    = "inject-off" // not selected: the webhook is never called
	webhookCfg = "factom-sidecar-injector"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	code, err := runWithWebhook(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func runWithWebhook(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "inject-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	if kube, err = testenv.StartKube(filepath.Join(dir, "kube")); err != nil {
		return 1, fmt.Errorf("start kube: %w", err)
	}
	defer kube.Stop()
	if clients, err = kube.Clientset(); err != nil {
		return 1, err
	}
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return 1, err
	}
	if ca, err = testenv.NewCA(); err != nil {
		return 1, err
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := writeServingCert(1); err != nil {
		return 1, err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return 1, err
	}
	webhookAddr = "127.0.0.1:" + strconv.Itoa(port)
	proc, err := testenv.Start("injector", sidecar, []string{"injector", "--listen", "127.0.0.1:0", "--webhook-listen", webhookAddr,
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--sidecar-image", "factom-sidecar:latest"}, nil, filepath.Join(dir, "injector.log"))
	if err != nil {
		return 1, err
	}
	defer proc.Stop(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := setUp(ctx); err != nil {
		return 1, fmt.Errorf("%w\ninjector log:\n%s", err, proc.Logs())
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "injector log:\n%s\n", proc.Logs())
	}
	return code, nil
}

func writeServingCert(serial int64) error {
	cert, key, err := ca.Issue(serial, false)
	if err != nil {
		return err
	}
	// Key first: a reload between the two writes sees a mismatched pair,
	// fails, and keeps serving the previous one.
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, cert, 0o600)
}

// setUp registers the webhook as manifests/helm would (failurePolicy
// Fail, a namespace selector, pods on CREATE) and waits until the API
// server calls it.
func setUp(ctx context.Context) error {
	for _, ns := range []string{injectNS, plainNS} {
		if err := kube.CreateNamespace(ctx, ns); err != nil {
			return err
		}
		// The fixture's walletd pods run as their chart's ServiceAccount.
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "community-walletd"}}
		if _, err := clients.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	patch := []byte(`{"metadata":{"labels":{"factom.io/injection":"enabled"}}}`)
	if _, err := clients.CoreV1().Namespaces().Patch(ctx, injectNS, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return err
	}
	cfg := webhookConfig(webhookCfg, "https://"+webhookAddr+"/mutate", map[string]string{"factom.io/injection": "enabled"}, admissionregistrationv1.Fail, 10)
	if _, err := clients.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The configuration takes effect once the API server has seen it.
	n := 0
	return testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		n++
		pod := factomdProbePod(fmt.Sprintf("webhook-ready-%d", n))
		got, err := clients.CoreV1().Pods(injectNS).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return len(got.Spec.Containers) == 2, fmt.Errorf("pod %s not injected yet", got.Name)
	})
}

// webhookConfig is the configuration the chart installs, pointed at url
// and selecting the namespaces labelled with selector.
func webhookConfig(name, url string, selector map[string]string, policy admissionregistrationv1.FailurePolicyType, timeout int32) *admissionregistrationv1.MutatingWebhookConfiguration {
	none := admissionregistrationv1.SideEffectClassNone
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "inject.factom.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca.PEM},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: selector},
			FailurePolicy:           &policy,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
		}},
	}
}

func factomdProbePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"factom.io/inject": "factomd", "factom.io/peer-service": "peers", "factom.io/max-lag": "2"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "factomd", Image: "factomd"}}},
	}
}

func needKube(t *testing.T) {
	t.Helper()
	if kube == nil {
		t.Skip("needs the real API server; runs without -short")
	}
}
