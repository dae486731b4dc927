//go:build tools

// Package tools pins the real Kubernetes control plane, node components and
// etcd that the integration tests, the real-node tests and the demo run
// against. Importing every command lets `go mod tidy` record their
// dependencies, so each builds from this one module.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
