package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// StorageClassName is the default StorageClass: pre-made local volumes on
// the node, bound when a pod is scheduled (the kubelet applies fsGroup to
// local volumes, as it would to a cloud disk).
const StorageClassName = "local"

// volumes is how many local PersistentVolumes the node offers; every
// installation of the manifests claims five.
const volumes = 20

func (n *Node) createStorage(ctx context.Context) error {
	sc := `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ` + StorageClassName + `
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
`
	objs, err := testenv.DecodeManifest([]byte(sc))
	if err != nil {
		return err
	}
	if err := n.Kube.ApplyObjects(ctx, objs, testenv.ApplyOptions{}); err != nil {
		return fmt.Errorf("storage class: %w", err)
	}
	for i := 0; i < volumes; i++ {
		if err := n.createVolume(ctx, "local-pv-"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) createVolume(ctx context.Context, name string) error {
	dir := filepath.Join(n.dir, "volumes", name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("200Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              StorageClassName,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{Name}}},
			}}}},
		},
	}
	if _, err := n.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// RecycleVolumes replaces every Released volume (its claim was deleted)
// with a fresh, empty one, so a later installation starts clean.
func (n *Node) RecycleVolumes(ctx context.Context) error {
	pvs, err := n.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("recycle volumes: %w", err)
	}
	for _, pv := range pvs.Items {
		if pv.Status.Phase != corev1.VolumeReleased {
			continue
		}
		if err := n.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("recycle volume %s: %w", pv.Name, err)
		}
		err := testenv.Eventually(time.Minute, 100*time.Millisecond, func() (bool, error) {
			_, err := n.Client.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			return fmt.Errorf("recycle volume %s: %w", pv.Name, err)
		}
		if err := n.createVolume(ctx, pv.Name); err != nil {
			return err
		}
	}
	return nil
}

// dnsManifest runs CoreDNS the way clusters do: a Deployment in
// kube-system behind the kube-dns Service at the kubelet's clusterDNS
// address, reading Services and EndpointSlices.
var dnsManifest = `apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: system:coredns}
rules:
  - apiGroups: [""]
    resources: [services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system:coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 5
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
        - name: coredns
          image: {{IMAGE}}
          imagePullPolicy: Never
          args: ["-conf", "/etc/coredns/Corefile"]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          volumeMounts: [{name: config, mountPath: /etc/coredns}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: {{DNSIP}}
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP}
    - {name: dns-tcp, port: 53, protocol: TCP}
`

func (n *Node) startDNS(ctx context.Context) error {
	yaml := strings.NewReplacer("{{IMAGE}}", CoreDNSImage, "{{DNSIP}}", DNSServiceIP).Replace(dnsManifest)
	objs, err := testenv.DecodeManifest([]byte(yaml))
	if err != nil {
		return err
	}
	if err := n.Kube.ApplyObjects(ctx, objs, testenv.ApplyOptions{}); err != nil {
		return fmt.Errorf("coredns: %w", err)
	}
	err = testenv.Eventually(3*time.Minute, 250*time.Millisecond, func() (bool, error) {
		d, err := n.Client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.Status.ReadyReplicas < 1 {
			return false, fmt.Errorf("coredns not ready: %s", n.PodProblems(ctx, "kube-system"))
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("coredns: %w", err)
	}
	return nil
}
