package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The identities the token file of StartKube knows.
const (
	// KubeAdminUser is in system:masters: everything is allowed.
	KubeAdminUser = "admin"
	// KubeTestNamespace is the namespace the plain user's identity belongs to.
	KubeTestNamespace = "factom-test"
	// KubeSidecarServiceAccount is the service account the plain user
	// stands for; only RoleBindings (the project's RBAC manifest) give it
	// rights.
	KubeSidecarServiceAccount = "factom-sidecar"
)

// KubeSidecarUser is the user name of the plain token: the name the API
// server gives the service account KubeSidecarServiceAccount in
// KubeTestNamespace, so a RoleBinding to that ServiceAccount applies to it.
var KubeSidecarUser = "system:serviceaccount:" + KubeTestNamespace + ":" + KubeSidecarServiceAccount

// Kube is a real etcd and kube-apiserver on loopback ports.
type Kube struct {
	dir        string
	host       string
	caPEM      []byte
	adminToken string
	userToken  string
	nodeToken  string
	opts       KubeOptions
	apiArgs    []string
	apiBin     string

	mu   sync.Mutex
	etcd *Process
	api  *Process
}

// KubeOptions tune StartKubeWith.
type KubeOptions struct {
	// AuditLog writes one JSON line per request (metadata only) to
	// AuditLogPath(), so requests can be counted per user and user agent.
	AuditLog bool
	// NodeName and NodeIP, when set, make the API server one a real node
	// can join (test/node): it listens on every interface and advertises
	// NodeIP, so pods reach it through the kubernetes Service; it
	// authorises with Node and RBAC; and its token file holds the
	// kubelet's identity system:node:<NodeName>.
	NodeName string
	NodeIP   string
	// ServiceCIDR is the Service IP range (default 10.0.0.0/24). Its first
	// address is in the serving certificate.
	ServiceCIDR string
}

// StartKube starts etcd and kube-apiserver with their state under dir and
// waits until the API server's /readyz answers ok.
func StartKube(dir string) (*Kube, error) { return StartKubeWith(dir, KubeOptions{}) }

// AuditLogPath is where the API server writes its audit log (when enabled).
func (k *Kube) AuditLogPath() string { return filepath.Join(k.dir, "audit.log") }

// StartKubeWith is StartKube with options.
func StartKubeWith(dir string, opts KubeOptions) (*Kube, error) {
	etcdBin, err := Binary("etcd")
	if err != nil {
		return nil, err
	}
	apiBin, err := Binary("kube-apiserver")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start kube: %w", err)
	}
	if opts.ServiceCIDR == "" {
		opts.ServiceCIDR = "10.0.0.0/24"
	}
	k := &Kube{dir: dir, apiBin: apiBin, opts: opts}
	for _, t := range []*string{&k.adminToken, &k.userToken, &k.nodeToken} {
		if *t, err = randomToken(); err != nil {
			return nil, err
		}
	}
	if err := k.writeFiles(); err != nil {
		return nil, err
	}

	clientPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	k.etcd, err = Start("etcd", etcdBin, []string{
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL,
		"--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", peerPort),
		// Test data is thrown away: skipping fsync keeps a busy disk from
		// stretching API latencies (and lease renewals) in the tests.
		"--unsafe-no-fsync",
		"--log-level", "warn",
	}, nil, filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}

	k.host = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	k.apiArgs = []string{
		"--etcd-servers", etcdURL,
		"--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--tls-cert-file", filepath.Join(dir, "serving.crt"),
		"--tls-private-key-file", filepath.Join(dir, "serving.key"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", opts.ServiceCIDR,
		"--profiling=false",
		"-v", "0",
	}
	if opts.NodeIP != "" {
		k.apiArgs = append(k.apiArgs, "--bind-address", "0.0.0.0", "--advertise-address", opts.NodeIP,
			"--authorization-mode", "Node,RBAC", "--allow-privileged=true",
			// kubectl logs/exec: the node's name does not resolve here.
			"--kubelet-preferred-address-types", "InternalIP")
	} else {
		// From v1.35 a loopback advertise address is refused by the
		// endpoint reconciler; there is no kubernetes Service to keep here.
		k.apiArgs = append(k.apiArgs, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
			"--endpoint-reconciler-type", "none", "--authorization-mode", "RBAC")
	}
	if opts.AuditLog {
		policy := filepath.Join(dir, "audit-policy.yaml")
		// One event per request, when it completes (watches when they end).
		data := "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n  - level: Metadata\n"
		if err := os.WriteFile(policy, []byte(data), 0o600); err != nil {
			k.Stop()
			return nil, fmt.Errorf("audit policy: %w", err)
		}
		k.apiArgs = append(k.apiArgs, "--audit-policy-file", policy, "--audit-log-path", k.AuditLogPath(), "--audit-log-format", "json")
	}
	if err := k.startAPI(); err != nil {
		k.Stop()
		return nil, err
	}
	return k, nil
}

// Host is the API server's URL.
func (k *Kube) Host() string { return k.host }

// Dir is the directory holding the state and logs.
func (k *Kube) Dir() string { return k.dir }

// NodeConfig is a client config for the kubelet's identity
// system:node:<NodeName> (only with KubeOptions.NodeName).
func (k *Kube) NodeConfig() *rest.Config { return k.config(k.nodeToken) }

// CAFile is the CA that signed the API server's serving certificate.
func (k *Kube) CAFile() string { return filepath.Join(k.dir, "ca.crt") }

// ServiceAccountKeyFile is the private key the API server's service
// account tokens are signed with (the controller manager needs it).
func (k *Kube) ServiceAccountKeyFile() string { return filepath.Join(k.dir, "sa.key") }

// AdminConfig is a client config with system:masters rights.
func (k *Kube) AdminConfig() *rest.Config { return k.config(k.adminToken) }

// UserConfig is a client config for KubeSidecarUser, whose rights come
// only from RoleBindings.
func (k *Kube) UserConfig() *rest.Config { return k.config(k.userToken) }

func (k *Kube) config(token string) *rest.Config {
	return &rest.Config{
		Host:            k.host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), k.caPEM...)},
		Timeout:         30 * time.Second,
		QPS:             50,
		Burst:           100,
	}
}

// ServiceAccountConfig is a client config with a real, API-server-issued
// token of service account ns/name (which must exist), via TokenRequest.
func (k *Kube) ServiceAccountConfig(ctx context.Context, ns, name string, ttl time.Duration) (*rest.Config, error) {
	cs, err := kubernetes.NewForConfig(k.AdminConfig())
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	secs := int64(ttl / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("service account token %s/%s: %w", ns, name, err)
	}
	return k.config(tr.Status.Token), nil
}

// User selects the identity WriteKubeconfig writes.
type User int

const (
	// Admin is KubeAdminUser.
	Admin User = iota
	// Sidecar is KubeSidecarUser.
	Sidecar
	// Node is the kubelet's identity (with KubeOptions.NodeName).
	Node
)

// WriteKubeconfig writes a kubeconfig file for user to path.
func (k *Kube) WriteKubeconfig(path string, user User) error {
	token := k.adminToken
	name := KubeAdminUser
	switch user {
	case Sidecar:
		token, name = k.userToken, KubeSidecarServiceAccount
	case Node:
		token, name = k.nodeToken, "node"
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: k.host, CertificateAuthorityData: k.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: name}
	cfg.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// Stop stops the API server and etcd.
func (k *Kube) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.api != nil {
		k.api.Stop(10 * time.Second)
	}
	if k.etcd != nil {
		k.etcd.Stop(10 * time.Second)
	}
}

// StopAPIServer stops the API server alone; etcd keeps its data.
func (k *Kube) StopAPIServer() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.api != nil {
		k.api.Stop(10 * time.Second)
	}
}

// StartAPIServer starts the API server again on the same port and waits
// until it is ready.
func (k *Kube) StartAPIServer() error { return k.startAPI() }

// Restart stops the API server alone and starts it again on the same port,
// keeping etcd and so every object.
func (k *Kube) Restart() error {
	k.StopAPIServer()
	return k.startAPI()
}

// APILogs is what the API server has printed so far.
func (k *Kube) APILogs() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.api == nil {
		return ""
	}
	return k.api.Logs()
}

func (k *Kube) startAPI() error {
	k.mu.Lock()
	if k.api != nil && !k.api.Exited() {
		k.mu.Unlock()
		return errors.New("start kube-apiserver: already running")
	}
	p, err := Start("kube-apiserver", k.apiBin, k.apiArgs, nil, filepath.Join(k.dir, "kube-apiserver.log"))
	if err != nil {
		k.mu.Unlock()
		return err
	}
	k.api = p
	k.mu.Unlock()
	return k.waitReady(p, 3*time.Minute)
}

func (k *Kube) waitReady(p *Process, timeout time.Duration) error {
	tlsCfg, err := k.tlsConfig()
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer hc.CloseIdleConnections()
	err = Eventually(timeout, 200*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("kube-apiserver exited: %s", tail(p.Logs(), 2000))
		}
		req, err := http.NewRequest(http.MethodGet, k.host+"/readyz", nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", "Bearer "+k.adminToken)
		resp, err := hc.Do(req)
		if err != nil {
			return false, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("readyz %d: %s", resp.StatusCode, tail(string(body), 500))
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w", err)
	}
	return nil
}

func (k *Kube) tlsConfig() (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(k.caPEM) {
		return nil, errors.New("kube: bad CA PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Clientset is a typed admin client.
func (k *Kube) Clientset() (*kubernetes.Clientset, error) {
	cs, err := kubernetes.NewForConfig(k.AdminConfig())
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return cs, nil
}

// CreateNamespace creates ns (if missing) and its "default" ServiceAccount,
// which the ServiceAccount admission plugin wants for every Pod (there is
// no controller manager here to create it).
func (k *Kube) CreateNamespace(ctx context.Context, ns string) error {
	cs, err := k.Clientset()
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create default service account in %s: %w", ns, err)
	}
	return nil
}

// CreatePod creates a bare Pod (it never runs: there is no kubelet) so
// labels and Events have a target. The namespace is created if missing.
func (k *Kube) CreatePod(ctx context.Context, ns, name string, labels map[string]string) (*corev1.Pod, error) {
	if err := k.CreateNamespace(ctx, ns); err != nil {
		return nil, err
	}
	cs, err := k.Clientset()
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			Containers:                   []corev1.Container{{Name: "main", Image: "registry.invalid/pause:1"}},
			AutomountServiceAccountToken: new(false),
		},
	}
	created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", ns, name, err)
	}
	return created, nil
}

// ApplyManifest server-side-applies every object of the multi-document
// YAML file at path with the admin client. A non-empty namespace replaces
// the namespace of namespaced objects and of ServiceAccount subjects in
// (Cluster)RoleBindings, the way a kustomize namespace would.
func (k *Kube) ApplyManifest(ctx context.Context, path, namespace string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("apply %s: %w", path, err)
	}
	objs, err := DecodeManifest(data)
	if err != nil {
		return fmt.Errorf("apply %s: %w", path, err)
	}
	if err := k.ApplyObjects(ctx, objs, ApplyOptions{Namespace: namespace}); err != nil {
		return fmt.Errorf("apply %s: %w", path, err)
	}
	return nil
}

// ApplyOptions tune ApplyObjects.
type ApplyOptions struct {
	// Namespace, when set, replaces the namespace of namespaced objects and
	// of ServiceAccount subjects in (Cluster)RoleBindings, as a kustomize
	// namespace would.
	Namespace string
	// DefaultNamespace is given to namespaced objects without one
	// (default "default").
	DefaultNamespace string
	// DryRun has the API server default, validate and admit every object
	// and store nothing (dryRun=All).
	DryRun bool
}

// ApplyObjects server-side-applies objs with the admin client. Every object
// is tried; the error joins one line per object that could not be mapped
// or that the API server refused.
func (k *Kube) ApplyObjects(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	cfg := k.AdminConfig()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	patch := metav1.PatchOptions{FieldManager: "factom-sidecar-tests", Force: ptrTo(true)}
	if opts.DryRun {
		patch.DryRun = []string{metav1.DryRunAll}
	}
	var errs []error
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err))
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if opts.Namespace != "" {
				obj.SetNamespace(opts.Namespace)
				setSubjectNamespaces(obj, opts.Namespace)
			}
			if obj.GetNamespace() == "" {
				obj.SetNamespace(opts.DefaultNamespace)
			}
			ri = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		body, err := obj.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err))
			continue
		}
		if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, patch); err != nil {
			errs = append(errs, fmt.Errorf("the API server refused %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

func ptrTo[T any](v T) *T { return &v }

// DecodeManifest splits multi-document YAML into objects, skipping empty
// documents.
func DecodeManifest(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func setSubjectNamespaces(obj *unstructured.Unstructured, ns string) {
	if obj.GetKind() != "RoleBinding" && obj.GetKind() != "ClusterRoleBinding" {
		return
	}
	subjects, ok, _ := unstructured.NestedSlice(obj.Object, "subjects")
	if !ok {
		return
	}
	for _, s := range subjects {
		if m, ok := s.(map[string]any); ok && m["kind"] == "ServiceAccount" {
			m["namespace"] = ns
		}
	}
	_ = unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
}

// writeFiles writes the serving certificate (a CA and a leaf for
// 127.0.0.1/localhost), the service-account key pair and the token file.
func (k *Kube) writeFiles() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("kube certs: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "factom-sidecar-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("kube certs: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("kube certs: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("kube certs: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses:  k.servingIPs(),
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("kube certs: %w", err)
	}
	leafKeyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		return fmt.Errorf("kube certs: %w", err)
	}
	k.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("kube service-account key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return fmt.Errorf("kube service-account key: %w", err)
	}

	tokens := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n%s,%s,%s,\"system:serviceaccounts,system:serviceaccounts:%s\"\n",
		k.adminToken, KubeAdminUser, "uid-admin",
		k.userToken, KubeSidecarUser, "uid-sidecar", KubeTestNamespace)
	if k.opts.NodeName != "" {
		tokens += fmt.Sprintf("%s,system:node:%s,uid-node,\"system:nodes\"\n", k.nodeToken, k.opts.NodeName)
	}

	files := map[string][]byte{
		"ca.crt":      k.caPEM,
		"serving.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		"serving.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: leafKeyDER}),
		"sa.key":      pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"sa.pub":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv":  []byte(tokens),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(k.dir, name), data, 0o600); err != nil {
			return fmt.Errorf("kube files: %w", err)
		}
	}
	return nil
}

// servingIPs are the addresses the serving certificate is valid for:
// loopback, the node's address and the kubernetes Service's ClusterIP (the
// first address of the Service range), which pods use.
func (k *Kube) servingIPs() []net.IP {
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	if k.opts.NodeIP != "" {
		ips = append(ips, net.ParseIP(k.opts.NodeIP))
	}
	if _, cidr, err := net.ParseCIDR(k.opts.ServiceCIDR); err == nil {
		first := cidr.IP.To4()
		if first != nil {
			first = net.IPv4(first[0], first[1], first[2], first[3]+1)
			ips = append(ips, first)
		}
	}
	return ips
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
