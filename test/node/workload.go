package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Kubectl runs bin/kubectl with the admin kubeconfig and returns its
// standard output; a failure carries its standard error.
func (n *Node) Kubectl(ctx context.Context, args ...string) (string, error) {
	return n.run(ctx, "kubectl", args...)
}

// Helm runs bin/helm with the admin kubeconfig.
func (n *Node) Helm(ctx context.Context, args ...string) (string, error) {
	return n.run(ctx, "helm", args...)
}

func (n *Node) run(ctx context.Context, tool string, args ...string) (string, error) {
	bin, err := testenv.Binary(tool)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", n.kubeconfig}, args...)...)
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+n.dir+"/helm/cache", "HELM_CONFIG_HOME="+n.dir+"/helm/config", "HELM_DATA_HOME="+n.dir+"/helm/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// PodReady reports the pod's Ready condition.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitPods waits until exactly count pods match selector in ns and every
// one of them satisfies ok, and returns them. A timeout reports what the
// pods were doing.
func (n *Node) WaitPods(ctx context.Context, ns, selector string, count int, timeout time.Duration, ok func(*corev1.Pod) bool) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	err := testenv.Eventually(timeout, 200*time.Millisecond, func() (bool, error) {
		list, err := n.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		pods = list.Items
		if len(pods) != count {
			return false, fmt.Errorf("%d pods match %q, want %d", len(pods), selector, count)
		}
		for i := range pods {
			if pods[i].DeletionTimestamp != nil || !ok(&pods[i]) {
				return false, fmt.Errorf("pod %s not yet as wanted", pods[i].Name)
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, n.PodProblems(ctx, ns))
	}
	return pods, nil
}

// ContainerStatus is the named container's status in the pod.
func ContainerStatus(p *corev1.Pod, container string) (corev1.ContainerStatus, bool) {
	for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if cs.Name == container {
			return cs, true
		}
	}
	return corev1.ContainerStatus{}, false
}

// ContainerPID is the host PID of the named container's main process, from
// containerd's task list: signals sent from the host reach even a
// container's PID 1, which ignores them from inside its own namespace.
func (n *Node) ContainerPID(ctx context.Context, ns, pod, container string) (int, error) {
	p, err := n.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	cs, ok := ContainerStatus(p, container)
	if !ok || cs.ContainerID == "" || cs.State.Running == nil {
		return 0, fmt.Errorf("container %s of %s/%s is not running", container, ns, pod)
	}
	id := strings.TrimPrefix(cs.ContainerID, "containerd://")
	out, err := n.ctr("tasks", "list")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("container %s (%s) has no containerd task", container, id)
}

// SignalContainer sends sig to the named container's main process and
// returns when it was sent (after the look-up of its PID, which takes a
// while: timings start here).
func (n *Node) SignalContainer(ctx context.Context, ns, pod, container string, sig syscall.Signal) (time.Time, error) {
	pid, err := n.ContainerPID(ctx, ns, pod, container)
	if err != nil {
		return time.Time{}, err
	}
	at := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		return at, fmt.Errorf("signal %s of %s/%s: %w", container, ns, pod, err)
	}
	return at, nil
}

// DeleteNamespace deletes ns and waits until it is gone (its pods torn down
// by the kubelet), then recycles the volumes its claims held.
func (n *Node) DeleteNamespace(ctx context.Context, ns string, timeout time.Duration) error {
	if err := n.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	err := testenv.Eventually(timeout, 250*time.Millisecond, func() (bool, error) {
		_, err := n.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err == nil {
			return false, errors.New("namespace still there")
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w\n%s", ns, err, n.PodProblems(ctx, ns))
	}
	return n.RecycleVolumes(ctx)
}

// SetUpdateStrategy sets a StatefulSet's update strategy (OnDelete or
// RollingUpdate).
func (n *Node) SetUpdateStrategy(ctx context.Context, ns, statefulSet, strategy string) error {
	patch := fmt.Sprintf(`{"spec":{"updateStrategy":{"type":%q,"rollingUpdate":null}}}`, strategy)
	_, err := n.Kubectl(ctx, "-n", ns, "patch", "statefulset", statefulSet, "-p", patch)
	return err
}
