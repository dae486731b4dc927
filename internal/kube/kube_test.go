package kube

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsComeFromTheLookupThenTheServiceAccountFile(t *testing.T) {
	nsFile := filepath.Join(t.TempDir(), "namespace")
	if err := os.WriteFile(nsFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		env           map[string]string
		file          string
		wantNS, wantP string
	}{
		{"POD_NAMESPACE wins over the file", map[string]string{"POD_NAMESPACE": "from-env", "POD_NAME": "wallet-1"}, nsFile, "from-env", "wallet-1"},
		{"the file when POD_NAMESPACE is unset", map[string]string{"POD_NAME": "wallet-1"}, nsFile, "from-file", "wallet-1"},
		{"nothing when neither is there", nil, filepath.Join(t.TempDir(), "none"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := DefaultPodFlags(lookupIn(tc.env), tc.file)
			if f.Namespace != tc.wantNS || f.PodName != tc.wantP || f.Kubeconfig != "" {
				t.Fatalf("defaults = %+v, want namespace %q pod %q", f, tc.wantNS, tc.wantP)
			}
		})
	}
}

func TestFlagsOverrideDefaultsAndValidateNamesTheFlag(t *testing.T) {
	f := DefaultPodFlags(lookupIn(map[string]string{"POD_NAMESPACE": "env-ns"}), "")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.RegisterFlags(fs)
	if err := fs.Parse([]string{"--namespace=flag-ns", "--kubeconfig=/nonexistent/kubeconfig"}); err != nil {
		t.Fatal(err)
	}
	if f.Namespace != "flag-ns" {
		t.Fatalf("namespace = %q, want the flag's", f.Namespace)
	}
	if fs.Lookup("namespace").DefValue != "env-ns" {
		t.Fatalf("--namespace default = %q, want POD_NAMESPACE's", fs.Lookup("namespace").DefValue)
	}
	// Validate reads nothing: a kubeconfig that does not exist is
	// RESTConfig's error, not Validate's.
	err := f.Validate()
	var fe *config.FlagError
	if !errors.As(err, &fe) || fe.Flag != "pod-name" || strings.Contains(err.Error(), "namespace") {
		t.Fatalf("Validate() = %v, want only --pod-name missing", err)
	}

	empty := PodFlags{}
	err = empty.Validate()
	if err == nil || !strings.Contains(err.Error(), "invalid --namespace") || !strings.Contains(err.Error(), "invalid --pod-name") {
		t.Fatalf("Validate() of empty flags = %v, want both --namespace and --pod-name named", err)
	}
	plain := Flags{Namespace: "ns"}
	if err := plain.Validate(); err != nil {
		t.Fatalf("Flags without a pod: Validate() = %v", err)
	}
}

func TestRESTConfigFromAKubeconfigNamesThePod(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f := PodFlags{Flags: Flags{Kubeconfig: kubeconfig, Namespace: "ns"}, PodName: "factom-wallet-2"}
	cfg, err := f.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.0.0.1:6443" || cfg.UserAgent != "factom-sidecar/factom-wallet-2" {
		t.Fatalf("config host %q user agent %q", cfg.Host, cfg.UserAgent)
	}
	missing := Flags{Kubeconfig: filepath.Join(dir, "none")}
	if _, err := missing.RESTConfig(); err == nil || !strings.Contains(err.Error(), "kubeconfig "+missing.Kubeconfig) {
		t.Fatalf("missing kubeconfig: %v, want an error naming the file", err)
	}
}

func TestNewClientAppliesItsOptionsToACopy(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	var agents atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agents.Store(r.UserAgent())
		if strings.HasSuffix(r.URL.Path, "/slow") {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns","uid":"u-1"}}`))
	}))
	defer srv.Close()
	base := &rest.Config{Host: srv.URL, UserAgent: "base"}
	var wrapped atomic.Int32
	cs, err := NewClient(base, ClientOptions{UserAgent: "factom-sidecar/p (work)", Timeout: 200 * time.Millisecond, QPS: 50, Burst: 60,
		Wrap: func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) { wrapped.Add(1); return rt.RoundTrip(r) })
		}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil || p.UID != "u-1" {
		t.Fatalf("get pod: %v %v", p, err)
	}
	if got := agents.Load(); got != "factom-sidecar/p (work)" {
		t.Fatalf("user agent %q", got)
	}
	if wrapped.Load() != 1 {
		t.Fatalf("wrapped transport saw %d requests, want 1", wrapped.Load())
	}
	// The timeout applies: a request the server never answers fails
	// instead of hanging.
	_, err = cs.CoreV1().Pods("ns").Get(context.Background(), "slow", metav1.GetOptions{})
	var ne net.Error
	if err == nil || !(errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout")) {
		t.Fatalf("unanswered request: %v, want a timeout", err)
	}
	if base.UserAgent != "base" || base.Timeout != 0 || base.QPS != 0 || base.WrapTransport != nil {
		t.Fatalf("NewClient changed its base config: %+v", base)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
