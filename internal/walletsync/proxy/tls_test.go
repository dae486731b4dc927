package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// testCA wraps testenv.CA with failing on error.
type testCA struct{ *testenv.CA }

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca, err := testenv.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{ca}
}

func (ca *testCA) issue(t *testing.T, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := ca.Issue(serial, client)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// writeAtomic replaces path by a rename, as a Secret update swaps files.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := testenv.ReplaceFile(path, data); err != nil {
		t.Fatal(err)
	}
}

// serveTLS serves a proxy in front of the shared walletd over TLS.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	tp := newTestProxy(t, Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: tp.Proxy, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	go func() { _ = srv.Serve(tls.NewListener(l, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + l.Addr().String()
}

func tlsClient(ca *testCA, certs ...tls.Certificate) *http.Client {
	pool := ca.Pool()
	// A fresh connection each time: the test looks at the handshake.
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}, DisableKeepAlives: true,
	}}
}

// servedSerial makes one call and returns the serial of the certificate
// the proxy presented.
func servedSerial(t *testing.T, c *http.Client, url string) (int64, error) {
	t.Helper()
	resp, err := c.Post(url+"/v2", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"properties"}`))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("properties over TLS: HTTP %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestProxyServesTheMountedCertAndItsRenewal(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := ca.issue(t, 101, false)
	writeAtomic(t, certFile, c1)
	writeAtomic(t, keyFile, k1)
	logs := &logBuffer{}
	certs, err := NewCertReloader(certFile, keyFile, "", 20*time.Millisecond, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	go certs.Run(t.Context())
	url := serveTLS(t, certs.TLSConfig())
	client := tlsClient(ca)
	if serial, err := servedSerial(t, client, url); err != nil || serial != 101 {
		t.Fatalf("served serial %d (%v), want the mounted 101", serial, err)
	}

	// A half-written renewal (a key that does not match) is not taken.
	_, k3 := ca.issue(t, 103, false)
	writeAtomic(t, keyFile, k3)
	if err := testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		return strings.Contains(strings.Join(logs.Lines(), "\n"), "tls_reload_failed"), nil
	}); err != nil {
		t.Fatalf("a mismatched pair was not logged: %v", err)
	}
	if serial, err := servedSerial(t, client, url); err != nil || serial != 101 {
		t.Fatalf("after a bad renewal: serial %d (%v), want 101 still", serial, err)
	}
	for _, l := range logs.Lines() {
		if strings.Contains(l, "PRIVATE KEY") {
			t.Fatalf("a log line holds key material: %s", l)
		}
	}

	c2, k2 := ca.issue(t, 102, false)
	writeAtomic(t, certFile, c2)
	writeAtomic(t, keyFile, k2)
	if err := testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		serial, err := servedSerial(t, client, url)
		return err == nil && serial == 102, nil
	}); err != nil {
		t.Fatalf("the renewed certificate is not served: %v", err)
	}
}

func TestMutualTLSServesOnlyClientsOfTheClientCAInForce(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	c1, k1 := ca.issue(t, 201, false)
	writeAtomic(t, certFile, c1)
	writeAtomic(t, keyFile, k1)
	writeAtomic(t, caFile, ca.PEM)
	certs, err := NewCertReloader(certFile, keyFile, caFile, 20*time.Millisecond, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go certs.Run(t.Context())
	url := serveTLS(t, certs.TLSConfig())

	if _, err := servedSerial(t, tlsClient(ca), url); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	other := newTestCA(t)
	oc, ok := other.issue(t, 9, true)
	otherPair, err := tls.X509KeyPair(oc, ok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servedSerial(t, tlsClient(ca, otherPair), url); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
	cc, ck := ca.issue(t, 202, true)
	pair, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := servedSerial(t, tlsClient(ca, pair), url); err != nil {
		t.Fatalf("a client with a certificate of the CA: %v", err)
	}

	// A new client CA bundle applies without a restart.
	writeAtomic(t, caFile, other.PEM)
	if err := testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		_, err := servedSerial(t, tlsClient(ca, otherPair), url)
		return err == nil, err
	}); err != nil {
		t.Fatalf("a client of the new client CA is not served: %v", err)
	}
	if _, err := servedSerial(t, tlsClient(ca, pair), url); err == nil {
		t.Fatal("a client of the replaced client CA is still served")
	}
}

func TestCertReloaderRefusesAMismatchedPair(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	c1, _ := ca.issue(t, 1, false)
	_, k2 := ca.issue(t, 2, false)
	writeAtomic(t, filepath.Join(dir, "c"), c1)
	writeAtomic(t, filepath.Join(dir, "k"), k2)
	if _, err := NewCertReloader(filepath.Join(dir, "c"), filepath.Join(dir, "k"), "", 0, zerolog.Nop()); err == nil {
		t.Fatal("a certificate with another key's file was accepted")
	}
}
