package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
	"k8s.io/client-go/restmapper"
)

// Creating objects in the API server: namespaces, pods, manifests.

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
