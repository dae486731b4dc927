//go:build tools

// Package tools pins kustomize and helm, which render the shipped manifests
// in the tests and the demo.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
