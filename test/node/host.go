package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// deleteWorkloads removes every controller and pod while the kubelet still
// runs, so each sandbox is torn down through CNI (veth, addresses, per-pod
// nat chains, network namespace).
func (n *Node) deleteWorkloads(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nss, err := n.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	grace := int64(1)
	for _, ns := range nss.Items {
		apps := n.Client.AppsV1()
		_ = apps.StatefulSets(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		_ = apps.Deployments(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		_ = apps.ReplicaSets(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		_ = apps.DaemonSets(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		background := metav1.DeletePropagationBackground
		_ = n.Client.BatchV1().Jobs(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &background}, metav1.ListOptions{})
		_ = n.Client.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, metav1.ListOptions{})
	}
	_ = testenv.Eventually(timeout, 250*time.Millisecond, func() (bool, error) {
		pods, err := n.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0, err
	})
}

// stopContainers kills whatever containers are left in containerd (their
// shims outlive containerd) and removes them.
func (n *Node) stopContainers() {
	out, err := n.ctr("tasks", "list", "-q")
	if err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = n.ctr("tasks", "kill", "-s", "SIGKILL", id)
		}
	}
	_ = testenv.Eventually(20*time.Second, 200*time.Millisecond, func() (bool, error) {
		out, err := n.ctr("tasks", "list", "-q")
		return err != nil || strings.TrimSpace(out) == "", nil
	})
	if out, err := n.ctr("containers", "list", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			_, _ = n.ctr("tasks", "delete", "-f", id)
			_, _ = n.ctr("containers", "delete", id)
		}
	}
}

// cleanHost removes what the node made outside its processes: the CNI
// bridge, the kube-proxy and CNI iptables chains, the mounts under the run
// directory, network namespaces left by sandboxes, the kubelet's cgroups,
// and it restores net.ipv4.ip_forward (the bridge plugin turns it on).
func (n *Node) cleanHost() {
	_ = exec.Command("ip", "link", "delete", n.bridge).Run()
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"nat", "filter", "mangle"} {
			removeChains(bin, table, []string{"KUBE-", "CNI-"})
		}
	}
	unmountUnder(n.dir)
	removeCgroups("kubepods")
	if n.ipForward != "" {
		if os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(n.ipForward), 0o644) == nil {
			_ = os.Remove(ipForwardFile)
		}
	}
}

// cleanStale removes what an earlier node left behind when its test binary
// was killed before Stop ran (a test timeout ends the process at once):
// the processes in the kubelet's cgroups and the container shims of node
// directories, then the same host-wide leftovers Stop removes.
func cleanStale() {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, pid := range strings.Fields(string(data)) {
				if n, err := strconv.Atoi(pid); err == nil {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
	if out, err := exec.Command("pgrep", "-f", "containerd-shim.*-address "+os.TempDir()+"/factom-").Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			if n, err := strconv.Atoi(pid); err == nil {
				_ = syscall.Kill(n, syscall.SIGKILL)
			}
		}
	}
	// Sandbox network namespaces CNI made and nobody tore down (their veth
	// ends go with them), then the bridges.
	netns, _ := filepath.Glob("/run/netns/cni-*")
	for _, ns := range netns {
		_ = exec.Command("ip", "netns", "delete", filepath.Base(ns)).Run()
	}
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "fst") {
			_ = exec.Command("ip", "link", "delete", l.Name).Run()
		}
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"nat", "filter", "mangle"} {
			removeChains(bin, table, []string{"KUBE-", "CNI-"})
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "factom-*"))
	for _, d := range dirs {
		unmountUnder(d)
	}
	removeCgroups("kubepods")
}

// removeChains rewrites one table without the chains named with one of
// the prefixes and without every rule that is in or jumps to them:
// iptables-save, filter, iptables-restore of that table alone (rules of
// anything else on the host are restored as they were).
func removeChains(bin, table string, prefixes []string) {
	dump, err := exec.Command(bin+"-save", "-t", table).Output()
	if err != nil {
		return
	}
	ours := func(s string) bool {
		for _, p := range prefixes {
			if strings.Contains(s, " "+p) || strings.HasPrefix(s, ":"+p) || strings.Contains(s, "-j "+p) {
				return true
			}
		}
		return false
	}
	var kept []string
	changed := false
	for _, line := range strings.Split(string(dump), "\n") {
		if (strings.HasPrefix(line, ":") || strings.HasPrefix(line, "-A ")) && ours(line) {
			changed = true
			continue
		}
		kept = append(kept, line)
	}
	if !changed {
		return
	}
	restore := exec.Command(bin+"-restore", "-w", "-T", table)
	restore.Stdin = strings.NewReader(strings.Join(kept, "\n"))
	_ = restore.Run()
}

// unmountUnder detaches every mount point below dir, deepest first
// (overlay root filesystems, token tmpfs, shm, volume bind mounts).
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// removeCgroups removes the named cgroup tree from every v1 controller,
// deepest first (a cgroup directory is removed with rmdir).
func removeCgroups(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			_ = syscall.Rmdir(d)
		}
	}
}

// ipForwardFile keeps net.ipv4.ip_forward as it was before the first node
// changed it, so a run after a killed one still restores the host's value.
const ipForwardFile = "/run/factom-sidecar-node.ip_forward"

// originalIPForward is the host's ip_forward before any node: from the
// file a killed run left, or read now and written down.
func originalIPForward() string {
	if data, err := os.ReadFile(ipForwardFile); err == nil {
		return strings.TrimSpace(string(data))
	}
	v := readSysctl("net/ipv4/ip_forward")
	if v != "" {
		_ = os.WriteFile(ipForwardFile, []byte(v), 0o644)
	}
	return v
}

func readSysctl(name string) string {
	data, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// PodProblems says, for test failures, what keeps the pods of ns from
// running: their phase, waiting reasons and the last warning Events.
func (n *Node) PodProblems(ctx context.Context, ns string) string {
	pods, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "%s %s;", p.Name, p.Status.Phase)
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			switch {
			case cs.State.Waiting != nil:
				fmt.Fprintf(&b, " %s waiting %s %s;", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
			case cs.State.Terminated != nil:
				fmt.Fprintf(&b, " %s terminated %s (exit %d);", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
			case !cs.Ready:
				fmt.Fprintf(&b, " %s not ready (restarts %d);", cs.Name, cs.RestartCount)
			}
		}
		b.WriteString("\n")
	}
	evs, err := n.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err == nil {
		items := evs.Items
		if len(items) > 8 {
			items = items[len(items)-8:]
		}
		for _, e := range items {
			fmt.Fprintf(&b, "event %s %s: %s\n", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return b.String()
}
