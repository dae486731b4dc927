package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The API server's pod proxy (pods/NAME:PORT/proxy) dials status.podIP and
// refuses loopback and link-local addresses. A sidecar played by a local
// process is reachable through it when it listens on one of this host's
// other addresses and its Pod object names that address and its port.

// ProxyableHostIP is a non-loopback, non-link-local IPv4 address of this
// host, which the API server's pod proxy accepts as a pod IP.
func ProxyableHostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("host addresses: %w", err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipn.IP.To4()
		if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		return ip.String(), nil
	}
	return "", errors.New("no non-loopback IPv4 address on this host for the API server's pod proxy")
}

// CreateProxiedPod creates a Pod object whose "sidecar" container declares
// the sidecar port (named "sidecar", as in the manifests) and whose status
// says it runs at ip, so the pod proxy reaches ip:port.
func (k *Kube) CreateProxiedPod(ctx context.Context, ns, name string, labels map[string]string, ip string, port int) error {
	if err := k.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	cs, err := k.Clientset()
	if err != nil {
		return err
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "sidecar", Image: "registry.invalid/sidecar:1",
				Ports: []corev1.ContainerPort{{Name: "sidecar", ContainerPort: int32(port)}}}},
			AutomountServiceAccountToken: new(false),
		},
	}
	created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", ns, name, err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.PodIP = ip
	created.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("pod %s/%s status: %w", ns, name, err)
	}
	return nil
}

// proxiedListen is the fixed listen address of pod i's sidecar when the
// cluster is reachable through the pod proxy (ListenHost set).
func (c *Cluster) proxiedListen(ctx context.Context, i int) (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	if err := c.Kube.CreateProxiedPod(ctx, c.Namespace, PodName(i), map[string]string{"app.kubernetes.io/name": "factom-wallet"}, c.Opts.ListenHost, port); err != nil {
		return "", err
	}
	return net.JoinHostPort(c.Opts.ListenHost, strconv.Itoa(port)), nil
}
