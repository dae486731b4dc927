// Package kube connects the sidecar's modes to the Kubernetes API server:
// the --kubeconfig, --namespace and --pod-name flags with their
// environment defaults, the REST configuration they select, and the one
// constructor of API clients (each with its own timeout and rate limit).
package kube

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

// ServiceAccountNamespaceFile holds the pod's namespace in a pod with a
// mounted service-account token.
const ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Flags are --kubeconfig and --namespace: where the API server is and the
// namespace of the objects a mode works on. Start from DefaultFlags: the
// flags take the struct's values as their defaults.
type Flags struct {
	Kubeconfig string
	Namespace  string
}

// DefaultFlags are the defaults: the namespace from POD_NAMESPACE, else
// from namespaceFile (ServiceAccountNamespaceFile in a pod; tests pass
// their own). They are read here, once, so Validate stays free of I/O.
func DefaultFlags(env func(string) (string, bool), namespaceFile string) Flags {
	ns, _ := env("POD_NAMESPACE")
	if ns == "" && namespaceFile != "" {
		if data, err := os.ReadFile(namespaceFile); err == nil {
			ns = strings.TrimSpace(string(data))
		}
	}
	return Flags{Namespace: ns}
}

// RegisterFlags adds --kubeconfig and --namespace to fs.
func (f *Flags) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", f.Kubeconfig, "kubeconfig file for the API server (empty: in-cluster service account)")
	fs.StringVar(&f.Namespace, "namespace", f.Namespace, "namespace of the Lease, the keystore Secret, the pod and its Events (default: $POD_NAMESPACE, then the service-account namespace file)")
}

// Validate checks the flags without I/O.
func (f *Flags) Validate() error {
	if f.Namespace == "" {
		return config.Errorf("namespace", "required (set it, POD_NAMESPACE, or run in a pod with a service account)")
	}
	return nil
}

// RESTConfig loads the client configuration: the kubeconfig file when set,
// the in-cluster service account otherwise.
func (f *Flags) RESTConfig() (*rest.Config, error) {
	if f.Kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", f.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", f.Kubeconfig, err)
	}
	return cfg, nil
}

// PodFlags add --pod-name to Flags: modes that act on their own pod (the
// election's identity, its role label, the Events on it).
type PodFlags struct {
	Flags
	PodName string
}

// DefaultPodFlags are DefaultFlags and the pod name from POD_NAME.
func DefaultPodFlags(env func(string) (string, bool), namespaceFile string) PodFlags {
	pod, _ := env("POD_NAME")
	return PodFlags{Flags: DefaultFlags(env, namespaceFile), PodName: pod}
}

// RegisterFlags adds --kubeconfig, --namespace and --pod-name to fs.
func (f *PodFlags) RegisterFlags(fs *flag.FlagSet) {
	f.Flags.RegisterFlags(fs)
	fs.StringVar(&f.PodName, "pod-name", f.PodName, "this pod's name: the election identity, labelled factom.io/role (default: $POD_NAME; required)")
}

// Validate checks the flags without I/O.
func (f *PodFlags) Validate() error {
	var errs []error
	if err := f.Flags.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.PodName == "" {
		errs = append(errs, config.Errorf("pod-name", "required (set it or POD_NAME from the downward API)"))
	}
	return errors.Join(errs...)
}

// RESTConfig is Flags.RESTConfig with the pod in the user agent.
func (f *PodFlags) RESTConfig() (*rest.Config, error) {
	cfg, err := f.Flags.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = f.UserAgent()
	return cfg, nil
}

// UserAgent names the pod in the API server's audit log and metrics, so
// each replica's requests can be told apart.
func (f *PodFlags) UserAgent() string { return "factom-sidecar/" + f.PodName }

// ClientOptions shape one API client.
type ClientOptions struct {
	// UserAgent replaces the base configuration's when set.
	UserAgent string
	// Timeout bounds each request; 0: none (watches end on their own).
	Timeout time.Duration
	// QPS and Burst are the client-side rate limit; 0: client-go's
	// defaults (5 requests/s, burst 10).
	QPS   float32
	Burst int
	// Wrap, if set, wraps the transport (request counting).
	Wrap func(http.RoundTripper) http.RoundTripper
}

// NewClient builds a client from a copy of base: clients with their own
// rate limits, so throttled traffic of one cannot delay another's.
func NewClient(base *rest.Config, o ClientOptions) (kubernetes.Interface, error) {
	c := rest.CopyConfig(base)
	c.Timeout = o.Timeout
	c.QPS, c.Burst = o.QPS, o.Burst
	if o.UserAgent != "" {
		c.UserAgent = o.UserAgent
	}
	if o.Wrap != nil {
		c.Wrap(o.Wrap)
	}
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}
