// Package node starts a real single-node Kubernetes cluster on this
// machine for the real-node tests, the demo and the benchmarks: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
// kube-proxy (iptables mode) built from k8s.io/kubernetes into bin/, on
// containerd + runc with the CNI bridge plugin, CoreDNS for Service names,
// and local PersistentVolumes. It needs root and Debian's containerd, runc,
// containernetworking-plugins, iptables and conntrack (make node-deps).
//
// Stop removes everything it made, host-wide leftovers included (the CNI
// bridge, iptables chains, mounts, cgroups, ip_forward).
package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Addresses of the cluster. They are private ranges used only inside the
// network namespaces and iptables rules the node creates on this machine.
const (
	PodCIDR     = "10.244.0.0/24"
	podGateway  = "10.244.0.1"
	ServiceCIDR = "10.96.0.0/24"
	// DNSServiceIP is CoreDNS's ClusterIP, the kubelet's clusterDNS.
	DNSServiceIP = "10.96.0.10"
	// Name is the node's name.
	Name = "factom-test-node"
)

// Node is a running single-node cluster.
type Node struct {
	Kube   *testenv.Kube
	Client kubernetes.Interface
	IP     string

	dir        string
	bridge     string
	kubeconfig string   // admin kubeconfig, for kubectl and helm
	ipForward  string   // net.ipv4.ip_forward before Start
	hostLock   *os.File // held while this node runs (lock.go)

	mu    sync.Mutex
	procs []*testenv.Process // start order; stopped in reverse
	// Timings of the start, for the benchmark.
	Started time.Duration
}

// Available says why a node cannot start here, or nil: it needs root and
// the Debian packages, and the Kubernetes binaries in bin/.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("the real node needs root (containerd, runc, iptables)")
	}
	for _, c := range []string{"containerd", "runc", "ctr", "iptables", "conntrack"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("the real node needs %s: apt-get install containerd runc containernetworking-plugins iptables conntrack (make node-deps)", c)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return errors.New("the real node needs the CNI plugins in /usr/lib/cni: apt-get install containernetworking-plugins")
	}
	for _, b := range []string{"kube-apiserver", "etcd", "kubelet", "kube-proxy", "kube-controller-manager", "kube-scheduler", "kubectl", "coredns", "prometheus", "factomd", "test-walletd"} {
		if _, err := testenv.Binary(b); err != nil {
			return err
		}
	}
	return nil
}

// HostIP is the machine's own first global IPv4 address: the kubelet's
// node IP and the API server's advertise address.
func HostIP() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("host ip: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || strings.HasPrefix(ifc.Name, "cni") || strings.HasPrefix(ifc.Name, "veth") || strings.HasPrefix(ifc.Name, "fst") {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String(), nil
			}
		}
	}
	return "", errors.New("host ip: no global IPv4 address")
}

// startBudget bounds a node's start once it has the machine: images,
// containerd, the control plane, the kubelet, CoreDNS.
const startBudget = 10 * time.Minute

// Start brings the node up with its state under dir (which must be new or
// empty) and returns once the node is Ready, CoreDNS answers and the
// images are imported. On error everything started is stopped again.
func Start(ctx context.Context, dir string) (*Node, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	began := time.Now()
	ip, err := HostIP()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	lock, err := acquireHostLock(ctx)
	if err != nil {
		return nil, err
	}
	began = time.Now() // Started does not count the queueing
	cleanStale()
	n := &Node{IP: ip, dir: dir, bridge: "fst" + strconv.Itoa(os.Getpid()%100000), hostLock: lock}
	n.ipForward = originalIPForward()
	// ctx bounds the wait for another node; the start has a budget of
	// its own, so time spent queueing does not cut it short.
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startBudget)
	defer cancel()
	if err := n.start(startCtx); err != nil {
		n.Stop()
		return nil, err
	}
	n.Started = time.Since(began)
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	images, err := BuildImages(filepath.Join(n.dir, "images"))
	if err != nil {
		return err
	}
	if err := n.startContainerd(); err != nil {
		return err
	}
	if err := n.ImportImages(images...); err != nil {
		return err
	}
	kube, err := testenv.StartKubeWith(filepath.Join(n.dir, "kube"), testenv.KubeOptions{
		NodeName: Name, NodeIP: n.IP, ServiceCIDR: ServiceCIDR,
	})
	if err != nil {
		return err
	}
	n.Kube = kube
	if n.Client, err = kube.Clientset(); err != nil {
		return err
	}
	n.kubeconfig = filepath.Join(n.dir, "admin.kubeconfig")
	if err := kube.WriteKubeconfig(n.kubeconfig, testenv.Admin); err != nil {
		return err
	}
	for _, start := range []func() error{n.startControllerManager, n.startScheduler, n.startKubelet, n.startKubeProxy} {
		if err := start(); err != nil {
			return err
		}
	}
	err = n.waitNodeReady(ctx, 3*time.Minute)
	for retry := 0; errors.Is(err, errPortTaken) && retry < 2; retry++ {
		n.dropProcess("kubelet")
		if err := n.startKubelet(); err != nil {
			return err
		}
		err = n.waitNodeReady(ctx, 3*time.Minute)
	}
	if err != nil {
		return err
	}
	if err := n.createStorage(ctx); err != nil {
		return err
	}
	return n.startDNS(ctx)
}

// Dir is the node's state directory.
func (n *Node) Dir() string { return n.dir }

// Kubeconfig is the admin kubeconfig file.
func (n *Node) Kubeconfig() string { return n.kubeconfig }

func (n *Node) startProcess(name string, args []string) error {
	bin, err := testenv.Binary(name)
	if err != nil {
		return err
	}
	p, err := testenv.Start(name, bin, args, nil, filepath.Join(n.dir, name+".log"))
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
	return nil
}

// Logs is what a node component (kubelet, kube-proxy, containerd, ...) has
// printed, for test failures.
func (n *Node) Logs(component string) string {
	data, _ := os.ReadFile(filepath.Join(n.dir, component+".log"))
	return string(data)
}

func (n *Node) waitNodeReady(ctx context.Context, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		n.mu.Lock()
		procs := n.procs
		n.mu.Unlock()
		for _, p := range procs {
			if p.Exited() { // no point waiting for the rest
				if p.Name == "kubelet" && strings.Contains(p.Logs(), "address already in use") {
					return false, errPortTaken
				}
				return false, fmt.Errorf("%s exited: %s", p.Name, lastLines(p.Logs(), 15))
			}
		}
		node, err := n.Client.CoreV1().Nodes().Get(ctx, Name, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		if c := nodeReady(node); c == nil || c.Status != corev1.ConditionTrue {
			if c == nil {
				last = errors.New("node has no Ready condition yet")
			} else {
				last = fmt.Errorf("node not ready: %s", c.Message)
			}
			return false, nil
		}
		_, last = n.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return last == nil, nil
	})
	if err != nil {
		if last != nil && wait.Interrupted(err) {
			err = fmt.Errorf("%w: %w", err, last)
		}
		return fmt.Errorf("node not ready: %w", err)
	}
	return nil
}

// errPortTaken: the kubelet exited because a port it was given was taken
// between the look-up of a free port and its bind.
var errPortTaken = errors.New("kubelet: a port it was given was taken")

// process is the running component named name, or nil.
func (n *Node) process(name string) *testenv.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// dropProcess stops and forgets the component named name.
func (n *Node) dropProcess(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, p := range n.procs {
		if p.Name == name {
			p.Stop(5 * time.Second)
			n.procs = append(n.procs[:i], n.procs[i+1:]...)
			return
		}
	}
}

// Stop deletes every workload while the kubelet still runs (so sandboxes
// get their CNI teardown), stops every process in reverse order and
// removes what the node left on the host.
func (n *Node) Stop() {
	if n.Client != nil && n.kubeletRunning() {
		n.deleteWorkloads(2 * time.Minute)
	}
	n.mu.Lock()
	procs := n.procs
	n.procs = nil
	n.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i].Name == "containerd" {
			n.stopContainers()
		}
		procs[i].Stop(15 * time.Second)
	}
	if n.Kube != nil {
		n.Kube.Stop()
	}
	n.cleanHost()
	if n.hostLock != nil {
		n.hostLock.Close() // releases the machine for the next node
		n.hostLock = nil
	}
}

func (n *Node) kubeletRunning() bool {
	p := n.process("kubelet")
	return p != nil && !p.Exited()
}

func nodeReady(node *corev1.Node) *corev1.NodeCondition {
	for i, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}
