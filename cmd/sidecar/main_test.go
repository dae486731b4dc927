package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestBadConfigurationExitsWithUsageCode(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		want string // must appear in the one stderr line
	}{
		{name: "unknown mode", args: []string{"frobnicate"}, want: `unknown mode "frobnicate"`},
		{name: "negative max-lag", args: []string{"factomd", "--max-lag=-1"}, want: "invalid --max-lag: -1: must not be negative"},
		{name: "max-lag that is not a number", args: []string{"factomd", "--max-lag=two"}, want: "-max-lag"},
		{name: "factomd url that does not parse", args: []string{"factomd", "--factomd-url=http://[::1"}, want: "invalid --factomd-url"},
		{name: "factomd url without a scheme", args: []string{"factomd", "--factomd-url=localhost:8088"}, want: "invalid --factomd-url"},
		{name: "reference url with a wrong scheme", args: []string{"factomd", "--reference-url=ftp://node"}, want: "invalid --reference-url"},
		{name: "duration that does not parse", args: []string{"factomd", "--poll-interval=soon"}, want: "-poll-interval"},
		{name: "poll timeout not below the interval", args: []string{"factomd", "--poll-timeout=3s"}, want: "invalid --poll-timeout"},
		{name: "unknown log level", args: []string{"factomd", "--log-level=verbose"}, want: `invalid --log-level: "verbose"`},
		{name: "unknown flag", args: []string{"factomd", "--max-lagg=3"}, want: "max-lagg"},
		{name: "bad env value", args: []string{"factomd"}, env: []string{"FACTOM_SIDECAR_MAX_LAG", "abc"},
			want: "invalid --max-lag: from FACTOM_SIDECAR_MAX_LAG"},
		{name: "bad env duration", args: []string{"factomd"}, env: []string{"FACTOM_SIDECAR_STALE_AFTER", "-5s"},
			want: "invalid --stale-after"},
		{name: "bad env url list", args: []string{"factomd"}, env: []string{"FACTOM_SIDECAR_REFERENCE_URL", "http://a:8088,not a url"},
			want: "invalid --reference-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr, envOf(tc.env...))
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("stderr is not one line: %q", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("stderr %q does not contain %q", out, tc.want)
			}
		})
	}
}

func TestFactomdHelpListsDefaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"factomd", "--help"}, &stdout, &stderr, envOf()); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{
		"--factomd-url (env FACTOM_SIDECAR_FACTOMD_URL, default http://127.0.0.1:8088)",
		"--max-lag (env FACTOM_SIDECAR_MAX_LAG, default 2)",
		"--reference-url (env FACTOM_SIDECAR_REFERENCE_URL",
		"--poll-interval (env FACTOM_SIDECAR_POLL_INTERVAL, default 2s)",
		"--max-block-age (env FACTOM_SIDECAR_MAX_BLOCK_AGE, default auto)",
		"--max-entry-lag (env FACTOM_SIDECAR_MAX_ENTRY_LAG, default 1)",
		"--unready-after-failed-polls (env FACTOM_SIDECAR_UNREADY_AFTER_FAILED_POLLS, default 2)",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// The built binary, not just run(): the process exit code is what the
// kubelet and operators see.
func TestBinaryExitsWithUsageCodeOnBadEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sidecar binary; skipped in -short mode")
	}
	bin, err := testenv.BuildSidecarBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "factomd", "--listen=127.0.0.1:0")
	cmd.Env = []string{"FACTOM_SIDECAR_MAX_LAG=abc"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitUsage {
		t.Fatalf("run = %v, want exit code %d (stderr %q)", err, exitUsage, stderr.String())
	}
	if out := stderr.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "--max-lag") {
		t.Fatalf("stderr = %q, want one line naming --max-lag", out)
	}
}
