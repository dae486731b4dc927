package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// CertReloader serves a certificate and key pair from files, re-read when
// their content changes (a renewed cert-manager Secret), so a renewal
// needs no restart.
type CertReloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               zerolog.Logger
	cur               atomic.Pointer[loadedCert]
}

type loadedCert struct {
	certPEM, keyPEM []byte
	cert            *tls.Certificate
}

// NewCertReloader loads the pair; it fails when they do not match.
// interval is how often the files are re-read (0: 5s).
func NewCertReloader(certFile, keyFile string, interval time.Duration, log zerolog.Logger) (*CertReloader, error) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, interval: interval, log: log.With().Str("subsystem", "proxy-tls").Logger()}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads the files and reports whether the pair changed. On an
// error (a half-written renewal) the pair in force stays.
func (c *CertReloader) Reload() (bool, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return false, fmt.Errorf("tls certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return false, fmt.Errorf("tls key: %w", err)
	}
	if cur := c.cur.Load(); cur != nil && bytes.Equal(cur.certPEM, certPEM) && bytes.Equal(cur.keyPEM, keyPEM) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's errors name the PEM blocks, never the key's bytes.
		return false, fmt.Errorf("tls certificate and key: %w", err)
	}
	c.cur.Store(&loadedCert{certPEM: certPEM, keyPEM: keyPEM, cert: &pair})
	return true, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load().cert, nil
}

// Run re-reads the files every interval until ctx ends.
func (c *CertReloader) Run(ctx context.Context) {
	reloadEvery(ctx, c.interval, c.Reload, c.log, "tls", "the previous certificate is still served")
}

// TLSConfig is the proxy's server config: the reloaded pair and, when
// clientCAFile is set, client certificates required and checked against it.
func TLSConfig(certs *CertReloader, clientCAFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	if clientCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("client CA: no PEM certificate in the file")
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}
