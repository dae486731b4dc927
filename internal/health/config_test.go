package health

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantFlag string
	}{
		{name: "defaults are valid", args: nil},
		{name: "negative max-lag", args: []string{"--max-lag=-1"}, wantFlag: "max-lag"},
		{name: "zero max-lag is allowed", args: []string{"--max-lag=0"}},
		{name: "factomd url without a scheme", args: []string{"--factomd-url=127.0.0.1:8088"}, wantFlag: "factomd-url"},
		{name: "reference url that does not parse", args: []string{"--reference-url=http://[::1"}, wantFlag: "reference-url"},
		{name: "reference url with another scheme", args: []string{"--reference-url=ftp://a/"}, wantFlag: "reference-url"},
		{name: "zero poll interval", args: []string{"--poll-interval=0s"}, wantFlag: "poll-interval"},
		{name: "poll timeout not below the interval", args: []string{"--poll-interval=1s", "--poll-timeout=1s"}, wantFlag: "poll-timeout"},
		{name: "stale-after within one interval", args: []string{"--stale-after=2s"}, wantFlag: "stale-after"},
		{name: "negative stall window", args: []string{"--stall-window=-1m"}, wantFlag: "stall-window"},
		{name: "zero unresponsive window", args: []string{"--unresponsive-window=0s"}, wantFlag: "unresponsive-window"},
		{name: "max block age auto", args: []string{"--max-block-age=auto"}},
		{name: "negative max-entry-lag", args: []string{"--max-entry-lag=-1"}, wantFlag: "max-entry-lag"},
		{name: "zero max-entry-lag is allowed", args: []string{"--max-entry-lag=0"}},
		{name: "zero failed polls", args: []string{"--unready-after-failed-polls=0"}, wantFlag: "unready-after-failed-polls"},
		{name: "peer service given as a URL", args: []string{"--peer-service=http://x"}, wantFlag: "peer-service"},
		{name: "peer port out of range", args: []string{"--peer-port=70000"}, wantFlag: "peer-port"},
		{name: "pod ip that is not an IP", args: []string{"--pod-ip=pod-0"}, wantFlag: "pod-ip"},
		{name: "outlier blocks zero", args: []string{"--reference-outlier-blocks=0"}, wantFlag: "reference-outlier-blocks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.PodIP = ""
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.RegisterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("parse: %v", err)
			}
			err := cfg.Validate()
			if tc.wantFlag == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *config.FlagError
			if !errors.As(err, &fe) || fe.Flag != tc.wantFlag {
				t.Fatalf("Validate() = %v, want an error naming --%s", err, tc.wantFlag)
			}
			if !strings.HasPrefix(err.Error(), "invalid --"+tc.wantFlag+": ") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.FactomdURL != "http://127.0.0.1:8088" || cfg.MaxLag != 2 || cfg.PollInterval != 2*time.Second ||
		cfg.PollTimeout != 1500*time.Millisecond || cfg.StaleAfter != 10*time.Second || cfg.StallWindow != 10*time.Minute ||
		cfg.UnresponsiveWindow != 2*time.Minute || cfg.MaxBlockAge != 0 || cfg.PeerPort != 8088 ||
		cfg.MaxEntryLag != 1 || cfg.UnreadyAfterFailedPolls != 2 {
		t.Fatalf("defaults changed: %+v", cfg)
	}
}

func TestMaxBlockAgeFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		seconds int64
		want    time.Duration
		wantErr bool
	}{
		{args: nil, seconds: 6, want: 18 * time.Second},
		{args: nil, seconds: 600, want: 30 * time.Minute},
		{args: nil, seconds: 0, want: 30 * time.Minute},
		{args: []string{"--max-block-age=auto"}, seconds: 6, want: 18 * time.Second},
		{args: []string{"--max-block-age=45s"}, seconds: 6, want: 45 * time.Second},
		{args: []string{"--max-block-age=0s"}, wantErr: true},
		{args: []string{"--max-block-age=-1m"}, wantErr: true},
		{args: []string{"--max-block-age=soon"}, wantErr: true},
	} {
		cfg := DefaultConfig()
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg.RegisterFlags(fs)
		err := fs.Parse(tc.args)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "max-block-age") {
				t.Errorf("%v: parse error = %v, want one naming max-block-age", tc.args, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := cfg.BlockAgeBound(tc.seconds); got != tc.want {
			t.Errorf("%v with %d s blocks: bound %s, want %s", tc.args, tc.seconds, got, tc.want)
		}
	}
}

func TestAPIURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8088":        "http://127.0.0.1:8088/v2",
		"http://127.0.0.1:8088/":       "http://127.0.0.1:8088/v2",
		"http://127.0.0.1:8088/v2":     "http://127.0.0.1:8088/v2",
		"http://127.0.0.1:8088/v2/":    "http://127.0.0.1:8088/v2",
		"https://factomd.example/api/": "https://factomd.example/api/v2",
	} {
		got, err := APIURL(in)
		if err != nil || got != want {
			t.Errorf("APIURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNetworkHeight(t *testing.T) {
	tests := []struct {
		name    string
		refs    []int64
		local   int64
		want    int64
		wantOK  bool
		dropped int
	}{
		{name: "no references", refs: nil, local: 5},
		{name: "one reference is used as is", refs: []int64{9000}, local: 5, want: 9000, wantOK: true},
		{name: "agreeing references give the highest", refs: []int64{100, 101, 99}, local: 100, want: 101, wantOK: true},
		{name: "one far above the others is dropped", refs: []int64{100, 100, 5000}, local: 100, want: 100, wantOK: true, dropped: 1},
		{name: "the local node corroborates a high reference", refs: []int64{10, 105}, local: 100, want: 105, wantOK: true},
		{name: "two far above agree with each other", refs: []int64{5000, 5001, 10}, local: 10, want: 5001, wantOK: true},
		{name: "a staircase of outliers falls to the lowest", refs: []int64{10000, 5000, 100}, local: 100, want: 100, wantOK: true, dropped: 2},
		{name: "within the outlier bound is kept", refs: []int64{110, 100}, local: 100, want: 110, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, dropped, ok := networkHeight(tc.refs, tc.local, true, 10)
			if got != tc.want || ok != tc.wantOK || len(dropped) != tc.dropped {
				t.Fatalf("networkHeight(%v, %d) = %d, %v, %v; want %d, %d dropped, %v", tc.refs, tc.local, got, dropped, ok, tc.want, tc.dropped, tc.wantOK)
			}
		})
	}
}
