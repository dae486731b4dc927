// Package manifests holds the Kubernetes manifests (kustomize base and
// overlays, Helm chart); its tests check them against a real API server.
package manifests
