package testenv

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
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
			return false, fmt.Errorf("kube-apiserver exited: %s", Tail(p.Logs(), 2000))
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
			return false, fmt.Errorf("readyz %d: %s", resp.StatusCode, Tail(string(body), 500))
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w", err)
	}
	return nil
}
