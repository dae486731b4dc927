package leader

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

// Defaults of the election flags (client-go's core defaults for timings).
const (
	DefaultLeaseName     = "factom-walletd-leader"
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// serviceAccountNamespaceFile holds the pod's namespace in a pod with a
// mounted service-account token.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Config is the election configuration, read from flags.
type Config struct {
	Kubeconfig    string
	Namespace     string
	PodName       string
	LeaseName     string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	Takeover      TakeoverConfig

	// LookupEnv and NamespaceFile are where defaults come from; nil/empty
	// take os.LookupEnv and the service-account file (tests replace them).
	LookupEnv     func(string) (string, bool)
	NamespaceFile string
}

// RegisterFlags registers the election flags on fs with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	lookup := c.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	podNS, _ := lookup("POD_NAMESPACE")
	podName, _ := lookup("POD_NAME")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file for the API server (empty: in-cluster service account)")
	fs.StringVar(&c.Namespace, "namespace", podNS, "namespace of the Lease, the pod and its Events (default: $POD_NAMESPACE, then the service-account namespace file)")
	fs.StringVar(&c.PodName, "pod-name", podName, "this pod's name: the election identity, labelled factom.io/role (default: $POD_NAME; required)")
	fs.StringVar(&c.LeaseName, "lease-name", DefaultLeaseName, "name of the coordination.k8s.io Lease the walletd replicas elect their leader with")
	fs.DurationVar(&c.LeaseDuration, "lease-duration", DefaultLeaseDuration, "how long followers wait after the last observed renewal before taking over a crashed leader's Lease (whole seconds)")
	fs.DurationVar(&c.RenewDeadline, "renew-deadline", DefaultRenewDeadline, "how long the leader keeps writing without a successful renewal; writes close when it passes (< --lease-duration)")
	fs.DurationVar(&c.RetryPeriod, "retry-period", DefaultRetryPeriod, "interval of the leader's renewals and of retries (1.2 × it < --renew-deadline)")
	c.Takeover.registerFlags(fs)
}

// Validate checks the configuration and fills the namespace from the
// service-account file when neither flag nor POD_NAMESPACE set it.
func (c *Config) Validate() error {
	if c.Namespace == "" {
		file := c.NamespaceFile
		if file == "" {
			file = serviceAccountNamespaceFile
		}
		if data, err := os.ReadFile(file); err == nil {
			c.Namespace = strings.TrimSpace(string(data))
		}
	}
	var errs []error
	if c.Namespace == "" {
		errs = append(errs, config.Errorf("namespace", "required (set it, POD_NAMESPACE, or run in a pod with a service account)"))
	}
	if c.PodName == "" {
		errs = append(errs, config.Errorf("pod-name", "required (set it or POD_NAME from the downward API)"))
	}
	if c.LeaseName == "" {
		errs = append(errs, config.Errorf("lease-name", "must not be empty"))
	}
	if err := c.validateTimings(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Takeover.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateTimings enforces client-go's rule leaseDuration > renewDeadline >
// 1.2 × retryPeriod and reports the first flag that breaks it.
func (c *Config) validateTimings() error {
	switch {
	case c.RetryPeriod <= 0:
		return config.Errorf("retry-period", "%s: must be positive", c.RetryPeriod)
	case c.LeaseDuration < time.Second || c.LeaseDuration%time.Second != 0:
		// The Lease stores whole seconds; a fraction would let followers
		// take over before the leader's own window has closed.
		return config.Errorf("lease-duration", "%s: must be a whole number of seconds, at least 1s", c.LeaseDuration)
	case c.LeaseDuration <= c.RenewDeadline:
		return config.Errorf("lease-duration", "%s: must be greater than --renew-deadline (%s)", c.LeaseDuration, c.RenewDeadline)
	case float64(c.RenewDeadline) <= 1.2*float64(c.RetryPeriod):
		return config.Errorf("renew-deadline", "%s: must be greater than 1.2 × --retry-period (%s)", c.RenewDeadline, time.Duration(1.2*float64(c.RetryPeriod)))
	}
	return nil
}

// RESTConfig loads the client configuration: the kubeconfig file when set,
// the in-cluster service account otherwise.
func (c *Config) RESTConfig() (*rest.Config, error) {
	if c.Kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
		cfg.UserAgent = c.UserAgent()
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
	}
	cfg.UserAgent = c.UserAgent()
	return cfg, nil
}

// UserAgent names the pod in the API server's audit log and metrics, so
// each replica's requests can be told apart.
func (c *Config) UserAgent() string { return "factom-sidecar/" + c.PodName }
