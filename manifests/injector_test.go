package manifests_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// With injector.enabled the chart installs the webhook: its Deployment
// injects the chart's sidecar image, and the configuration's caBundle
// verifies the serving certificate for the Service's DNS name. The API
// server accepts all of it.
func TestChartInjectorIsConsistentAndAccepted(t *testing.T) {
	objs := decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "manifests-injector", "--set", "injector.enabled=true"))
	byKind := func(kind, name string) *unstructured.Unstructured {
		o := objectsByKind(t, objs, kind)[name]
		if o == nil {
			t.Fatalf("no %s %s", kind, name)
		}
		return o
	}
	secret := byKind("Secret", "factom-injector-tls")
	cfg := byKind("MutatingWebhookConfiguration", "factom-injector-manifests-injector")
	hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
	hook := hooks[0].(map[string]any)
	caB64, _, _ := unstructured.NestedString(hook, "clientConfig", "caBundle")
	certB64, _, _ := unstructured.NestedString(secret.Object, "data", "tls.crt")
	pool := x509.NewCertPool()
	caPEM, _ := base64.StdEncoding.DecodeString(caB64)
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the webhook's caBundle holds no certificate")
	}
	certPEM, _ := base64.StdEncoding.DecodeString(certB64)
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("the Secret's tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "factom-injector.manifests-injector.svc", Roots: pool}); err != nil {
		t.Errorf("the serving certificate does not verify against the caBundle for the Service name: %v", err)
	}
	if fp, _, _ := unstructured.NestedString(hook, "failurePolicy"); fp != "Fail" {
		t.Errorf("failurePolicy %q, want Fail by default", fp)
	}
	sel, _, _ := unstructured.NestedStringMap(hook, "namespaceSelector", "matchLabels")
	if sel["factom.io/injection"] != "enabled" {
		t.Errorf("namespaceSelector %v, want the opt-in label", sel)
	}
	spec, _ := podSpec(t, byKind("Deployment", "factom-injector"))
	if !slices.Contains(spec.Containers[0].Args, "--sidecar-image=factom-sidecar:0.1.0") {
		t.Errorf("injector args %v, want the chart's sidecar image", spec.Containers[0].Args)
	}
	// The injector's own pods are not sent to it (they must start while
	// no injector answers).
	exprs, _, _ := unstructured.NestedSlice(hook, "objectSelector", "matchExpressions")
	if len(exprs) != 1 || exprs[0].(map[string]any)["key"] != "app.kubernetes.io/component" {
		t.Errorf("objectSelector %v, want the injector's own pods left out", exprs)
	}
	dryRunApply(t, "manifests-injector", objs)
}

// manifests/injector is the chart's injector with cert-manager TLS, object
// for object; the API server accepts what needs no cert-manager CRDs.
func TestInjectorManifestsAreTheChartsInjector(t *testing.T) {
	kustomized := decode(t, render(t, "kustomize", "build", "manifests/injector"))
	k := comparable(kustomized)
	delete(k, "Namespace/factom-injector")         // the chart installs into the release namespace
	delete(k, "Issuer/factom-injector-selfsigned") // the chart takes your issuerRef
	chart := comparable(decode(t, render(t, "helm", "template", "factom", chartDir, "--namespace", "factom-injector",
		"--set", "injector.enabled=true,injector.tls.mode=certManager,injector.tls.certManager.issuerRef.kind=Issuer,injector.tls.certManager.issuerRef.name=factom-injector-selfsigned",
		"--show-only", "templates/injector.yaml")))
	sameObjects(t, "manifests/injector", k, "the chart's injector", chart)
	var plain []*unstructured.Unstructured
	for _, o := range kustomized {
		if o.GroupVersionKind().Group != "cert-manager.io" {
			plain = append(plain, o)
		}
	}
	dryRunApply(t, "factom-injector", plain)
}
