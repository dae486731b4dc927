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

	"github.com/factom-sidecar/factom-sidecar/internal/filereload"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// CertReloader serves a certificate and key pair, and optionally the CA
// that client certificates must be signed by, from files re-read when
// their content changes (a renewed cert-manager Secret), so a renewal
// needs no restart.
type CertReloader struct {
	certFile, keyFile, caFile string
	interval                  time.Duration
	log                       zerolog.Logger
	cur                       atomic.Pointer[loadedCert]
}

type loadedCert struct {
	certPEM, keyPEM, caPEM []byte
	cert                   *tls.Certificate
	clientCAs              *x509.CertPool
}

// NewCertReloader loads the pair (it fails when they do not match) and,
// when clientCAFile is set, the client CA bundle. interval is how often
// the files are re-read (0: 5s).
func NewCertReloader(certFile, keyFile, clientCAFile string, interval time.Duration, log zerolog.Logger) (*CertReloader, error) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, caFile: clientCAFile, interval: interval, log: log.With().Str("subsystem", "proxy-tls").Logger()}
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
	var caPEM []byte
	if c.caFile != "" {
		if caPEM, err = os.ReadFile(c.caFile); err != nil {
			return false, fmt.Errorf("client CA: %w", err)
		}
	}
	if cur := c.cur.Load(); cur != nil && bytes.Equal(cur.certPEM, certPEM) && bytes.Equal(cur.keyPEM, keyPEM) && bytes.Equal(cur.caPEM, caPEM) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's errors name the PEM blocks, never the key's bytes.
		return false, fmt.Errorf("tls certificate and key: %w", err)
	}
	next := &loadedCert{certPEM: certPEM, keyPEM: keyPEM, caPEM: caPEM, cert: &pair}
	if c.caFile != "" {
		next.clientCAs = x509.NewCertPool()
		if !next.clientCAs.AppendCertsFromPEM(caPEM) {
			return false, errors.New("client CA: no PEM certificate in the file")
		}
	}
	c.cur.Store(next)
	return true, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load().cert, nil
}

// Run re-reads the files every interval until ctx ends.
func (c *CertReloader) Run(ctx context.Context) {
	filereload.Every(ctx, c.interval, c.Reload, c.log, filereload.Events{Reloaded: logging.EventTLSReloaded, Failed: logging.EventTLSReloadFailed}, "the previous certificate is still served", nil)
}

// TLSConfig is the proxy's server config: the pair in force and, with a
// client CA file, client certificates required and checked against the
// CA in force.
func (c *CertReloader) TLSConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
	if c.caFile == "" {
		return cfg
	}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	// Per handshake, so that a new CA bundle applies to new connections.
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cur := c.cur.Load()
		return &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{*cur.cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    cur.clientCAs,
		}, nil
	}
	return cfg
}
