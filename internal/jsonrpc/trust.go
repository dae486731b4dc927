package jsonrpc

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

// CATrust is the CA bundle a client trusts for a server's certificate
// (walletd -wallettls), re-read when the file changes so a rotated CA
// applies to new connections without a restart.
type CATrust struct {
	file string
	log  zerolog.Logger
	pem  atomic.Pointer[[]byte]
	pool atomic.Pointer[x509.CertPool]
}

// NewCATrust loads file (PEM certificates: the server's own self-signed
// certificate, or the CA that signs it).
func NewCATrust(file string, log zerolog.Logger) (*CATrust, error) {
	t := &CATrust{file: file, log: log}
	if _, err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload re-reads the file and reports whether it changed; on an error
// the bundle in force stays.
func (t *CATrust) Reload() (bool, error) {
	data, err := os.ReadFile(t.file)
	if err != nil {
		return false, fmt.Errorf("CA file: %w", err)
	}
	if cur := t.pem.Load(); cur != nil && bytes.Equal(*cur, data) {
		return false, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return false, errors.New("CA file: no PEM certificate in it")
	}
	t.pool.Store(pool)
	t.pem.Store(&data)
	return true, nil
}

// Run re-reads the file every interval until ctx ends.
func (t *CATrust) Run(ctx context.Context, every time.Duration) {
	filereload.Every(ctx, every, t.Reload, t.log, filereload.Events{Reloaded: logging.EventWalletdCAReloaded, Failed: logging.EventWalletdCAReloadFailed}, "the CA bundle read before is still trusted", nil)
}

// TLSConfig verifies the server's chain and name against the bundle in
// force at each handshake. Go's own verification is switched off only to
// be replaced by this one, which takes the pool at handshake time.
func (t *CATrust) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified in VerifyConnection, against the current pool
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: t.pool.Load(), DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		},
	}
}
