package leader

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/kube"
)

func TestValidateTimings(t *testing.T) {
	tests := []struct {
		name          string
		lease, renew  time.Duration
		retry         time.Duration
		wantFlag, msg string
	}{
		{name: "client-go defaults pass", lease: 15 * time.Second, renew: 10 * time.Second, retry: 2 * time.Second},
		{name: "short test timings pass", lease: 4 * time.Second, renew: 3 * time.Second, retry: 500 * time.Millisecond},
		{name: "lease not above renew deadline", lease: 10 * time.Second, renew: 10 * time.Second, retry: 2 * time.Second,
			wantFlag: "lease-duration", msg: "invalid --lease-duration: 10s: must be greater than --renew-deadline (10s)"},
		{name: "renew deadline not above 1.2 retry periods", lease: 15 * time.Second, renew: 6 * time.Second, retry: 5 * time.Second,
			wantFlag: "renew-deadline", msg: "invalid --renew-deadline: 6s: must be greater than 1.2 × --retry-period (6s)"},
		{name: "fractional lease seconds", lease: 4500 * time.Millisecond, renew: 3 * time.Second, retry: time.Second,
			wantFlag: "lease-duration", msg: "invalid --lease-duration: 4.5s: must be a whole number of seconds, at least 1s"},
		{name: "zero retry period", lease: 15 * time.Second, renew: 10 * time.Second, retry: 0,
			wantFlag: "retry-period", msg: "invalid --retry-period: 0s: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{PodFlags: podFlags("ns", "p"), LeaseName: "l", LeaseDuration: tt.lease, RenewDeadline: tt.renew, RetryPeriod: tt.retry}
			err := c.Validate()
			if tt.wantFlag == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *config.FlagError
			if !errors.As(err, &fe) || fe.Flag != tt.wantFlag {
				t.Fatalf("Validate() = %v, want an error naming --%s", err, tt.wantFlag)
			}
			if err.Error() != tt.msg {
				t.Fatalf("Validate() = %q, want %q", err, tt.msg)
			}
		})
	}
}

// podFlags are the kube flags of a test configuration.
func podFlags(namespace, pod string) kube.PodFlags {
	return kube.PodFlags{Flags: kube.Flags{Namespace: namespace}, PodName: pod}
}

func TestConfigDefaults(t *testing.T) {
	env := map[string]string{"POD_NAME": "factom-wallet-1"}
	nsFile := filepath.Join(t.TempDir(), "namespace")
	if err := os.WriteFile(nsFile, []byte("wallets\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nsFile)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.PodName != "factom-wallet-1" || c.Namespace != "wallets" || c.LeaseName != DefaultLeaseName ||
		c.LeaseDuration != 15*time.Second || c.RenewDeadline != 10*time.Second || c.RetryPeriod != 2*time.Second {
		t.Fatalf("defaults = %+v", c)
	}

	missing := DefaultConfig(func(string) (string, bool) { return "", false }, filepath.Join(t.TempDir(), "none"))
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	missing.RegisterFlags(fs)
	_ = fs.Parse(nil)
	err := missing.Validate()
	if err == nil || !strings.Contains(err.Error(), "--namespace") || !strings.Contains(err.Error(), "--pod-name") {
		t.Fatalf("Validate() without namespace and pod name = %v", err)
	}
}
