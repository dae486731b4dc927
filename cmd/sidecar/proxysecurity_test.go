package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadProxySecurityFlagsExitWithUsageCode(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := file("seal", strings.Repeat("ab", 32))
	badAuth := file("users", "alice:plaintext-password:write\n")
	empty := file("empty", "\n")
	notPEM := file("cert", "not a certificate")
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{name: "auth file that is not bcrypt", args: []string{"--proxy-auth-file=" + badAuth}, want: "invalid --proxy-auth-file: auth file line 1"},
		{name: "auth file from env", env: []string{"FACTOM_SIDECAR_PROXY_AUTH_FILE", badAuth}, want: "invalid --proxy-auth-file"},
		{name: "auth file missing", args: []string{"--proxy-auth-file=" + filepath.Join(dir, "nope")}, want: "invalid --proxy-auth-file"},
		{name: "cert without key", args: []string{"--proxy-tls-cert-file=" + notPEM}, want: "invalid --proxy-tls-cert-file"},
		{name: "key without cert", args: []string{"--proxy-tls-key-file=" + notPEM}, want: "invalid --proxy-tls-cert-file"},
		{name: "cert that is not PEM", args: []string{"--proxy-tls-cert-file=" + notPEM, "--proxy-tls-key-file=" + notPEM}, want: "invalid --proxy-tls-cert-file"},
		{name: "client CA without TLS", args: []string{"--proxy-client-ca-file=" + notPEM}, want: "invalid --proxy-client-ca-file"},
		{name: "walletd user without password", args: []string{"--walletd-user=w"}, want: "invalid --walletd-user"},
		{name: "empty walletd password", args: []string{"--walletd-user=w", "--walletd-password-file=" + empty}, want: "invalid --walletd-password-file"},
		{name: "walletd CA that is not PEM", args: []string{"--walletd-url=https://127.0.0.1:8089", "--walletd-ca-file=" + notPEM}, want: "invalid --walletd-ca-file"},
		{name: "walletd CA with a plain walletd url", args: []string{"--walletd-ca-file=" + notPEM}, want: "invalid --walletd-ca-file"},
		{name: "empty walletd passphrase", args: []string{"--walletd-passphrase-file=" + empty}, want: "invalid --walletd-passphrase-file"},
		{name: "missing walletd passphrase", args: []string{"--walletd-passphrase-file=" + filepath.Join(dir, "nope")}, want: "invalid --walletd-passphrase-file"},
		{name: "previous keystore key of the wrong size", args: []string{"--keystore-previous-key-file=" + notPEM}, want: "invalid --keystore-previous-key-file"},
		{name: "factomd password without user", args: []string{"--factomd-password-file=" + empty}, want: "invalid --factomd-user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"walletd", "--keystore-key-file=" + key, "--pod-name=p", "--namespace=n"}, tc.args...)
			code := run(args, &stdout, &stderr, envOf(tc.env...))
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			if out := stderr.String(); !strings.Contains(out, tc.want) || strings.Count(out, "\n") != 1 {
				t.Fatalf("stderr %q: want one line containing %q", out, tc.want)
			}
			if strings.Contains(stderr.String(), "plaintext-password") {
				t.Fatalf("stderr holds the auth file's content: %q", stderr.String())
			}
		})
	}
}

func TestFactomdModeTakesFactomdCredentials(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"factomd", "--factomd-user=sidecar"}, &stdout, &stderr, envOf()); code != exitUsage || !strings.Contains(stderr.String(), "invalid --factomd-user") {
		t.Fatalf("a user without a password file: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"factomd", "--help"}, &stdout, &stderr, envOf()); code != exitOK || !strings.Contains(stdout.String(), "--factomd-password-file (env FACTOM_SIDECAR_FACTOMD_PASSWORD_FILE") {
		t.Fatalf("help lacks --factomd-password-file:\n%s", stdout.String())
	}
}
