package testenv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ClusterOptions configures a set of walletd pods with their sidecars on a
// real API server: the system the demo, the fault-injection suite and the
// benchmarks run.
type ClusterOptions struct {
	// Dir holds every pod's files and logs.
	Dir string
	// Sidecar is the sidecar binary (BuildSidecarBinary).
	Sidecar string
	// Pods is the number of walletd replicas (default 3).
	Pods int
	// Lease timings passed to the sidecars (defaults: 4s / 3s / 500ms, the
	// documented fast profile).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Factomd is the factomd API host:port walletd uses (optional).
	Factomd string
	// APIServer overrides the API server address in the sidecars'
	// kubeconfig (a TCPProxy in front of it, to cut connections).
	APIServer func(pod int) string
	// Walletd overrides the walletd address (host:port) a pod's sidecar
	// talks to (a TCPProxy in front of it, to slow its answers).
	Walletd func(pod int, addr string) string
	// ExtraArgs are added to every sidecar's command line.
	ExtraArgs []string
	// SidecarArgs, if set, adds arguments for one start of a pod's
	// sidecar, called once its ports are chosen (e.g. advertised
	// addresses behind a TCPProxy).
	SidecarArgs func(p *WalletPod) []string
	// WalletdUser and WalletdPassword turn on walletd's RPC auth; the
	// sidecars get them as --walletd-user and --walletd-password-file.
	WalletdUser, WalletdPassword string
	// WalletdTLS runs every walletd -wallettls with a certificate this CA
	// signs; the sidecars get an https --walletd-url and the CA as
	// --walletd-ca-file.
	WalletdTLS *CA
	// WalletdPassphrase runs every walletd -encrypted: walletd-init and
	// the sidecars get it as --walletd-passphrase-file (PassphraseFile).
	WalletdPassphrase string
	// ListenHost, if set, is where the sidecars listen (a port fixed per
	// pod), and the Pod objects say so, so the API server's pod proxy
	// reaches them (ProxyableHostIP).
	ListenHost string
	// LogLevel is the sidecars' --log-level (default "debug", so tests see
	// and check every line; benchmarks run the shipped default, "info").
	LogLevel string
}

// WalletPod is one replica: its walletd and its sidecar, as a pod would
// run them.
type WalletPod struct {
	Name    string
	Index   int
	Dir     string
	Walletd *Walletd
	Sidecar *Process
	// Listen is the sidecar's probe/status address, ProxyAddr its proxy.
	Listen    string
	ProxyAddr string
	cluster   *Cluster
	listen    string // fixed Listen (ClusterOptions.ListenHost)
}

// Cluster is the walletd StatefulSet, played by local processes.
type Cluster struct {
	Kube      *Kube
	Namespace string
	Opts      ClusterOptions
	KeyFile   string
	Pods      []*WalletPod
	mu        sync.Mutex
}

// PodName is the StatefulSet pod name of replica i (the names the shipped
// Role lists).
func PodName(i int) string { return "factom-wallet-" + strconv.Itoa(i) }

// StartCluster applies the shipped RBAC, creates the Pod objects and the
// keystore key, then starts every replica: walletd-init, walletd, sidecar.
func StartCluster(ctx context.Context, k *Kube, opts ClusterOptions) (*Cluster, error) {
	if opts.Pods == 0 {
		opts.Pods = 3
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "debug"
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	}
	c := &Cluster{Kube: k, Namespace: KubeTestNamespace, Opts: opts}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := k.CreateNamespace(ctx, c.Namespace); err != nil {
		return nil, err
	}
	if err := k.ApplyManifest(ctx, filepath.Join(root, "manifests/base/rbac.yaml"), c.Namespace); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	c.KeyFile = filepath.Join(opts.Dir, "keystore.key")
	if err := writeRandomKey(c.KeyFile); err != nil {
		return nil, err
	}
	for i := 0; i < opts.Pods; i++ {
		pod := &WalletPod{Name: PodName(i), Index: i, Dir: filepath.Join(opts.Dir, PodName(i)), cluster: c}
		if opts.ListenHost != "" {
			if pod.listen, err = c.proxiedListen(ctx, i); err != nil {
				return nil, err
			}
		} else if _, err := k.CreatePod(ctx, c.Namespace, PodName(i), map[string]string{"app.kubernetes.io/name": "factom-wallet"}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		c.Pods = append(c.Pods, pod)
		// One at a time: the first replica's walletd-init creates the
		// keystore with a new seed, the others create their wallets from it.
		if err := pod.Start(ctx); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func writeRandomKey(path string) error {
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return fmt.Errorf("keystore key: %w", err)
	}
	defer f.Close()
	key := make([]byte, 32)
	if _, err := io.ReadFull(f, key); err != nil {
		return fmt.Errorf("keystore key: %w", err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return fmt.Errorf("keystore key: %w", err)
	}
	return nil
}

func (c *Cluster) kubeconfig(pod int) (string, error) {
	path := filepath.Join(c.Opts.Dir, fmt.Sprintf("kubeconfig-%d", pod))
	if err := c.Kube.WriteKubeconfig(path, Sidecar); err != nil {
		return "", err
	}
	if c.Opts.APIServer != nil {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("kubeconfig: %w", err)
		}
		data = []byte(strings.ReplaceAll(string(data), c.Kube.Host(), "https://"+c.Opts.APIServer(pod)))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return "", fmt.Errorf("kubeconfig: %w", err)
		}
	}
	return path, nil
}

// Start runs walletd-init, then walletd and the sidecar, and waits until the
// sidecar's probe server answers.
func (p *WalletPod) Start(ctx context.Context) error {
	c := p.cluster
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	kubeconfig, err := c.kubeconfig(p.Index)
	if err != nil {
		return err
	}
	walletPath := filepath.Join(p.Dir, "factom_wallet.db")
	initArgs := []string{"walletd-init",
		"--kubeconfig", kubeconfig, "--namespace", c.Namespace, "--keystore-key-file", c.KeyFile,
		"--wallet-path", walletPath, "--log-format", "json",
		// Its probe port is not used here; a fixed one could collide.
		"--listen", "127.0.0.1:0"}
	if c.Opts.WalletdPassphrase != "" {
		if _, err := os.Stat(p.PassphraseFile()); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(p.PassphraseFile(), []byte(c.Opts.WalletdPassphrase+"\n"), 0o600); err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		initArgs = append(initArgs, "--walletd-passphrase-file", p.PassphraseFile())
	}
	initProc, err := Start(p.Name+"-init", c.Opts.Sidecar, initArgs, nil, filepath.Join(p.Dir, "walletd-init.log"))
	if err != nil {
		return err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := initProc.Wait(waitCtx); err != nil {
		return fmt.Errorf("%s: walletd-init: %w\n%s", p.Name, err, Tail(initProc.Logs(), 2000))
	}

	if p.Walletd == nil {
		wo := WalletdOptions{Dir: p.Dir, Factomd: c.Opts.Factomd, User: c.Opts.WalletdUser, Password: c.Opts.WalletdPassword,
			Encrypted: c.Opts.WalletdPassphrase != ""}
		if err := p.walletdTLS(&wo); err != nil {
			return err
		}
		w, err := StartWalletd(wo)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		p.Walletd = w
	} else if err := p.Walletd.Restart(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	return p.StartSidecar(ctx)
}

// StartSidecar (re)starts only the sidecar, on fresh ports.
func (p *WalletPod) StartSidecar(ctx context.Context) error {
	c := p.cluster
	kubeconfig, err := c.kubeconfig(p.Index)
	if err != nil {
		return err
	}
	listenPort, err := FreePort()
	if err != nil {
		return err
	}
	proxyPort, err := FreePort()
	if err != nil {
		return err
	}
	walletdAddr := "127.0.0.1:" + strconv.Itoa(p.Walletd.Port)
	if c.Opts.Walletd != nil {
		walletdAddr = c.Opts.Walletd(p.Index, walletdAddr)
	}
	p.Listen = "127.0.0.1:" + strconv.Itoa(listenPort)
	if p.listen != "" {
		p.Listen = p.listen
	}
	p.ProxyAddr = "127.0.0.1:" + strconv.Itoa(proxyPort)
	scheme := "http://"
	if c.Opts.WalletdTLS != nil {
		scheme = "https://"
	}
	args := []string{"walletd",
		"--listen", p.Listen, "--proxy-listen", p.ProxyAddr,
		"--walletd-url", scheme + walletdAddr,
		"--kubeconfig", kubeconfig, "--namespace", c.Namespace, "--pod-name", p.Name,
		"--keystore-key-file", c.KeyFile,
		"--lease-duration", c.Opts.LeaseDuration.String(),
		"--renew-deadline", c.Opts.RenewDeadline.String(),
		"--retry-period", c.Opts.RetryPeriod.String(),
		"--log-format", "json", "--log-level", c.Opts.LogLevel,
	}
	if c.Opts.Factomd != "" {
		args = append(args, "--factomd-url", "http://"+c.Opts.Factomd)
	}
	if c.Opts.WalletdUser != "" {
		pwFile := filepath.Join(p.Dir, "walletd-password")
		if err := os.WriteFile(pwFile, []byte(c.Opts.WalletdPassword+"\n"), 0o600); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		args = append(args, "--walletd-user", c.Opts.WalletdUser, "--walletd-password-file", pwFile)
	}
	if c.Opts.WalletdPassphrase != "" {
		args = append(args, "--walletd-passphrase-file", p.PassphraseFile())
	}
	if c.Opts.WalletdTLS != nil {
		args = append(args, "--walletd-ca-file", filepath.Join(p.Dir, "walletd-ca.crt"))
	}
	args = append(args, c.Opts.ExtraArgs...)
	if c.Opts.SidecarArgs != nil {
		args = append(args, c.Opts.SidecarArgs(p)...)
	}
	proc, err := Start(p.Name+"-sidecar", c.Opts.Sidecar, args, nil, filepath.Join(p.Dir, "sidecar.log"))
	if err != nil {
		return err
	}
	p.Sidecar = proc
	client := &http.Client{Timeout: time.Second}
	err = Eventually(30*time.Second, 50*time.Millisecond, func() (bool, error) {
		if proc.Exited() {
			return false, fmt.Errorf("sidecar exited with code %d", proc.ExitCode())
		}
		resp, err := client.Get("http://" + p.Listen + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%s sidecar: %w\n%s", p.Name, err, Tail(proc.Logs(), 3000))
	}
	return nil
}

// Kill sends SIGKILL to the pod's sidecar and walletd, as a node crash would.
func (p *WalletPod) Kill() {
	if p.Sidecar != nil {
		p.Sidecar.Kill()
	}
	if p.Walletd != nil {
		p.Walletd.Kill()
	}
}

// Stop ends the pod gracefully (SIGTERM), sidecar first.
func (p *WalletPod) Stop() {
	if p.Sidecar != nil {
		p.Sidecar.Stop(10 * time.Second)
	}
	if p.Walletd != nil {
		p.Walletd.Stop(5 * time.Second)
	}
}

// walletdTLS issues the pod's walletd certificate (with WalletdTLS) and
// writes it, its key and the CA the sidecar trusts into the pod's dir.
func (p *WalletPod) walletdTLS(wo *WalletdOptions) error {
	ca := p.cluster.Opts.WalletdTLS
	if ca == nil {
		return nil
	}
	certPEM, keyPEM, err := ca.Issue(int64(100+p.Index), false)
	if err != nil {
		return err
	}
	wo.TLSCert, wo.TLSKey = filepath.Join(p.Dir, "walletd.crt"), filepath.Join(p.Dir, "walletd.key")
	for path, data := range map[string][]byte{wo.TLSCert: certPEM, wo.TLSKey: keyPEM, filepath.Join(p.Dir, "walletd-ca.crt"): ca.PEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	wo.ClientTLS = &tls.Config{RootCAs: ca.Pool()}
	return nil
}

// PassphraseFile is the pod's mounted walletd passphrase (with
// WalletdPassphrase); written once, so a test can change it.
func (p *WalletPod) PassphraseFile() string { return filepath.Join(p.Dir, "walletd-passphrase") }

// ProxyURL is the JSON-RPC endpoint clients use on this pod.
func (p *WalletPod) ProxyURL() string { return "http://" + p.ProxyAddr + "/v2" }

// Get fetches a sidecar endpoint and decodes its JSON body.
func (p *WalletPod) Get(path string) (int, map[string]any, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + p.Listen + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: %w", p.Name, path, err)
	}
	return resp.StatusCode, body, nil
}

// IsWritableLeader asks the sidecar's /leader endpoint.
func (p *WalletPod) IsWritableLeader() bool {
	if p.Sidecar == nil || p.Sidecar.Exited() {
		return false
	}
	code, _, err := p.Get("/leader")
	return err == nil && code == http.StatusOK
}

// Leader waits until exactly one running pod is the writable leader.
func (c *Cluster) Leader(timeout time.Duration) (*WalletPod, error) {
	var leader *WalletPod
	err := Eventually(timeout, 50*time.Millisecond, func() (bool, error) {
		var found []*WalletPod
		for _, p := range c.Pods {
			if p.IsWritableLeader() {
				found = append(found, p)
			}
		}
		if len(found) == 1 {
			leader = found[0]
			return true, nil
		}
		if len(found) > 1 {
			return false, errors.New("more than one writable leader")
		}
		return false, errors.New("no writable leader")
	})
	return leader, err
}

// Stop ends every pod.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, p := range c.Pods {
		wg.Go(p.Stop)
	}
	wg.Wait()
}
