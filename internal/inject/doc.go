// Package inject adds the sidecar to pods that ask for it with the
// factom.io/inject annotation: the mutating admission webhook of
// `sidecar injector`, building the same containers, probes and volumes as
// the kustomize components manifests/components/sidecar-*.
package inject
