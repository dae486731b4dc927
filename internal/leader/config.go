package leader

import (
	"errors"
	"flag"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/kube"
)

// Defaults of the election flags (client-go's core defaults for timings).
const (
	DefaultLeaseName     = "factom-walletd-leader"
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Config is the election configuration, read from flags. Start from
// DefaultConfig: the flags take the struct's values as their defaults.
type Config struct {
	// Kubeconfig, Namespace and PodName: the API server, the namespace of
	// the Lease, the pod and its Events, and this replica's identity.
	kube.PodFlags
	LeaseName     string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	Takeover      TakeoverConfig
}

// DefaultConfig is the election's defaults, the namespace and pod name
// from the environment (kube.DefaultPodFlags).
func DefaultConfig(env func(string) (string, bool), namespaceFile string) Config {
	return Config{
		PodFlags:      kube.DefaultPodFlags(env, namespaceFile),
		LeaseName:     DefaultLeaseName,
		LeaseDuration: DefaultLeaseDuration,
		RenewDeadline: DefaultRenewDeadline,
		RetryPeriod:   DefaultRetryPeriod,
		Takeover:      DefaultTakeoverConfig(),
	}
}

// RegisterFlags registers the kube and election flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.PodFlags.RegisterFlags(fs)
	fs.StringVar(&c.LeaseName, "lease-name", c.LeaseName, "name of the coordination.k8s.io Lease the walletd replicas elect their leader with")
	fs.DurationVar(&c.LeaseDuration, "lease-duration", c.LeaseDuration, "how long followers wait after the last observed renewal before taking over a crashed leader's Lease (whole seconds)")
	fs.DurationVar(&c.RenewDeadline, "renew-deadline", c.RenewDeadline, "how long the leader keeps writing without a successful renewal; writes close when it passes (< --lease-duration)")
	fs.DurationVar(&c.RetryPeriod, "retry-period", c.RetryPeriod, "interval of the leader's renewals and of retries (1.2 × it < --renew-deadline)")
	c.Takeover.registerFlags(fs)
}

// Validate checks the configuration without I/O.
func (c *Config) Validate() error {
	var errs []error
	if err := c.PodFlags.Validate(); err != nil {
		errs = append(errs, err)
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

// RequestTimeout bounds each of the election's API requests (and its
// Events'): half the renew deadline, so a renewal can be retried once
// before the deadline, and at most 5 s.
func (c *Config) RequestTimeout() time.Duration { return min(c.RenewDeadline/2, 5*time.Second) }

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
