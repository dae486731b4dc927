package testenv

import (
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
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Who may call the API server: the tokens, the certificates, and the client\nconfigurations and kubeconfigs built from them.

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
	return k.WriteTokenKubeconfig(path, name, token, "")
}

// WriteTokenKubeconfig writes a kubeconfig file that authenticates with
// token as user name, in namespace (if set) by default.
func (k *Kube) WriteTokenKubeconfig(path, name, token, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: k.host, CertificateAuthorityData: k.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
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

// RoleKubeconfig creates service account sa in ns, binds it to the Role
// role, and writes to path a kubeconfig with a token of it (valid for
// ttl) and ns as its namespace: a client with exactly that Role's rights.
func (k *Kube) RoleKubeconfig(ctx context.Context, path, ns, sa, role string, ttl time.Duration) (*rest.Config, error) {
	cs, err := kubernetes.NewForConfig(k.AdminConfig())
	if err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("service account %s: %w", sa, err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("role binding %s: %w", sa, err)
	}
	cfg, err := k.ServiceAccountConfig(ctx, ns, sa, ttl)
	if err != nil {
		return nil, err
	}
	return cfg, k.WriteTokenKubeconfig(path, sa, cfg.BearerToken, ns)
}
