package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func (n *Node) startControllerManager() error {
	return n.startProcess("kube-controller-manager", []string{
		"--kubeconfig", n.kubeconfig,
		"--authentication-kubeconfig", n.kubeconfig,
		"--authorization-kubeconfig", n.kubeconfig,
		"--leader-elect=false",
		"--service-account-private-key-file", n.Kube.ServiceAccountKeyFile(),
		// Without it the kube-root-ca.crt ConfigMap never appears and
		// every pod with a service-account token waits for it.
		"--root-ca-file", n.Kube.CAFile(),
		"--use-service-account-credentials=false",
		"--service-cluster-ip-range", ServiceCIDR,
		"--cluster-cidr", PodCIDR,
		"--controllers", "*",
		"--bind-address", "127.0.0.1",
		"--secure-port", "0",
		"--cert-dir", filepath.Join(n.dir, "kcm-certs"),
		"-v", "1",
	})
}

func (n *Node) startScheduler() error {
	return n.startProcess("kube-scheduler", []string{
		"--kubeconfig", n.kubeconfig,
		"--authentication-kubeconfig", n.kubeconfig,
		"--authorization-kubeconfig", n.kubeconfig,
		"--leader-elect=false",
		"--bind-address", "127.0.0.1",
		"--secure-port", "0",
		"-v", "1",
	})
}

// startKubelet starts the kubelet on free ports. A port found free can be
// taken by another process before the kubelet binds it; the kubelet then
// exits, waitNodeReady says errPortTaken, and start runs it again.
func (n *Node) startKubelet() error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	healthz, err := testenv.FreePort()
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := n.Kube.WriteKubeconfig(kubeconfig, testenv.Node); err != nil {
		return err
	}
	cfg := `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host is a cgroup v1 hybrid; kubelets from 1.35 refuse it otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://` + n.containerdSock() + `
podLogsDir: ` + filepath.Join(n.dir, "pod-logs") + `
# The API server reaches the kubelet at the node IP for logs and exec.
address: 0.0.0.0
port: ` + strconv.Itoa(port) + `
readOnlyPort: 0
healthzPort: ` + strconv.Itoa(healthz) + `
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: ["` + DNSServiceIP + `"]
resolvConf: /etc/resolv.conf
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {}
serializeImagePulls: false
registerNode: true
protectKernelDefaults: false
cgroupsPerQOS: true
localStorageCapacityIsolation: false
`
	path := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("kubelet config: %w", err)
	}
	return n.startProcess("kubelet", []string{
		"--config", path,
		"--kubeconfig", kubeconfig,
		"--root-dir", filepath.Join(n.dir, "kubelet"),
		"--cert-dir", filepath.Join(n.dir, "kubelet-pki"),
		"--hostname-override", Name,
		"--node-ip", n.IP,
		"-v", "1",
	})
}

func (n *Node) startKubeProxy() error {
	healthz, err := testenv.FreePort()
	if err != nil {
		return err
	}
	metrics, err := testenv.FreePort()
	if err != nil {
		return err
	}
	cfg := strings.Join([]string{
		"apiVersion: kubeproxy.config.k8s.io/v1alpha1",
		"kind: KubeProxyConfiguration",
		"mode: iptables",
		"clientConnection: {kubeconfig: " + n.kubeconfig + "}",
		"hostnameOverride: " + Name,
		"clusterCIDR: " + PodCIDR,
		"bindAddress: 0.0.0.0",
		"healthzBindAddress: 127.0.0.1:" + strconv.Itoa(healthz),
		"metricsBindAddress: 127.0.0.1:" + strconv.Itoa(metrics),
		// Leave the host's conntrack table size and localhost routing alone.
		"conntrack: {maxPerCore: 0}",
		"iptables: {masqueradeAll: false, localhostNodePorts: false}",
	}, "\n") + "\n"
	path := filepath.Join(n.dir, "kube-proxy.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("kube-proxy config: %w", err)
	}
	return n.startProcess("kube-proxy", []string{"--config", path, "-v", "1"})
}
