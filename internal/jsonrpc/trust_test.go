package jsonrpc_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// A CATrust checks the server against the bundle in force: a rotated CA
// file applies to the next connection.
func TestCATrustFollowsTheFile(t *testing.T) {
	caA, err := testenv.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caB, err := testenv.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := caA.Issue(2, false)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()

	file := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(file, caA.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	trust, err := jsonrpc.NewCATrust(file, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	call := func() error {
		// A fresh client per call: a kept-alive connection would skip the handshake.
		c := jsonrpc.New(srv.URL, jsonrpc.Options{Timeout: 5 * time.Second, TLS: trust.TLSConfig()})
		return c.Call(context.Background(), "properties", nil, nil)
	}
	if err := call(); err != nil {
		t.Fatalf("trusted CA: %v", err)
	}
	if err := os.WriteFile(file, caB.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := trust.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if err := call(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server signed by a CA no longer trusted: %v", err)
	}
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.Reload(); err == nil {
		t.Fatal("a file without PEM was accepted")
	}
}
