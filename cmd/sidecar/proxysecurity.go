package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
)

// proxySecurity are the walletd mode's flags for who may use the proxy and
// how the sidecar logs in to walletd and factomd.
type proxySecurity struct {
	authFile          string
	allowWalletBackup bool
	tlsCertFile       string
	tlsKeyFile        string
	clientCAFile      string
	walletdCAFile     string

	walletd, factomd rpcLogin

	auth       *proxy.Authenticator
	certs      *proxy.CertReloader
	tls        *tls.Config
	walletdCA  *jsonrpc.CATrust
	walletdTLS *tls.Config // nil: Go's defaults (system roots for https)
}

func (s *proxySecurity) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.authFile, "proxy-auth-file", "", "file of proxy users, one USER:BCRYPT_HASH:ROLE a line (htpasswd -B; ROLE read, write or admin), re-read when it changes; empty: no authentication (development only)")
	fs.BoolVar(&s.allowWalletBackup, "allow-wallet-backup", false, "serve wallet-backup (the seed) through the proxy, to admin users, on the leader")
	fs.StringVar(&s.tlsCertFile, "proxy-tls-cert-file", "", "PEM certificate the proxy serves TLS with (re-read when it changes); needs --proxy-tls-key-file")
	fs.StringVar(&s.tlsKeyFile, "proxy-tls-key-file", "", "PEM private key of --proxy-tls-cert-file")
	fs.StringVar(&s.clientCAFile, "proxy-client-ca-file", "", "PEM CA bundle: the proxy requires client certificates signed by it (mutual TLS); needs --proxy-tls-cert-file")
	s.walletd.RegisterFlags(fs, "walletd", "walletd's RPC user (walletd -walletuser), sent by the sidecar's own calls and by the proxy",
		"file holding walletd's RPC password (walletd -walletpassword)")
	registerFactomdLogin(&s.factomd, fs)
	fs.StringVar(&s.walletdCAFile, "walletd-ca-file", "", "PEM certificate(s) the sidecar trusts for walletd's TLS (walletd -wallettls: its -walletcert, or the CA that signs it), re-read when it changes; needs an https --walletd-url")
}

func (s *proxySecurity) Validate() error {
	var errs []error
	if (s.tlsCertFile == "") != (s.tlsKeyFile == "") {
		errs = append(errs, config.Errorf("proxy-tls-cert-file", "--proxy-tls-cert-file and --proxy-tls-key-file go together"))
	}
	if s.clientCAFile != "" && s.tlsCertFile == "" {
		errs = append(errs, config.Errorf("proxy-client-ca-file", "needs --proxy-tls-cert-file"))
	}
	for _, l := range []*rpcLogin{&s.walletd, &s.factomd} {
		if err := l.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Load checks that the files the flags name hold what they should, and
// reads the passwords. The users and certificates themselves are loaded
// (and then re-read) by Setup.
func (s *proxySecurity) Load() error {
	var errs []error
	if s.authFile != "" {
		if data, err := os.ReadFile(s.authFile); err != nil {
			errs = append(errs, config.Errorf("proxy-auth-file", "%w", err))
		} else if _, err := proxy.ParseAuthFile(data); err != nil {
			errs = append(errs, config.Errorf("proxy-auth-file", "%w", err))
		}
	}
	if s.tlsCertFile != "" {
		if _, err := tls.LoadX509KeyPair(s.tlsCertFile, s.tlsKeyFile); err != nil {
			errs = append(errs, config.Errorf("proxy-tls-cert-file", "%w", err))
		}
	}
	for _, ca := range []struct{ flag, file string }{{"proxy-client-ca-file", s.clientCAFile}, {"walletd-ca-file", s.walletdCAFile}} {
		if ca.file == "" {
			continue
		}
		if pem, err := os.ReadFile(ca.file); err != nil {
			errs = append(errs, config.Errorf(ca.flag, "%w", err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			errs = append(errs, config.Errorf(ca.flag, "%s: no PEM certificate", ca.file))
		}
	}
	for _, l := range []*rpcLogin{&s.walletd, &s.factomd} {
		if err := l.Load(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Setup loads the users and the certificate.
func (s *proxySecurity) Setup(log zerolog.Logger) error {
	var err error
	if s.walletdCAFile != "" {
		if s.walletdCA, err = jsonrpc.NewCATrust(s.walletdCAFile, log); err != nil {
			return config.Errorf("walletd-ca-file", "%w", err)
		}
		s.walletdTLS = s.walletdCA.TLSConfig()
	}
	if s.authFile == "" {
		log.Warn().Str("event", logging.EventProxyAuthOff).Msg("--proxy-auth-file is not set: any client that reaches the proxy may use the keystore; set it in production")
	} else if s.auth, err = proxy.NewAuthenticator(s.authFile, proxy.AuthOptions{}, log); err != nil {
		return config.Errorf("proxy-auth-file", "%w", err)
	}
	if s.tlsCertFile == "" {
		return nil
	}
	if s.certs, err = proxy.NewCertReloader(s.tlsCertFile, s.tlsKeyFile, s.clientCAFile, 0, log); err != nil {
		return config.Errorf("proxy-tls-cert-file", "%w", err)
	}
	s.tls = s.certs.TLSConfig()
	return nil
}

// options adds the security settings to the proxy's options.
func (s *proxySecurity) options(o proxy.Options) proxy.Options {
	o.Auth = s.auth
	o.AllowWalletBackup = s.allowWalletBackup
	o.WalletdUser, o.WalletdPassword = s.walletd.User, s.walletd.Password
	o.WalletdTLS = s.walletdTLS
	return o
}

// listener wraps the proxy's listener in TLS when it is configured.
func (s *proxySecurity) listener(l net.Listener) net.Listener {
	if s.tls == nil {
		return l
	}
	return tls.NewListener(l, s.tls)
}

// Run re-reads the auth file, the certificate and walletd's CA until ctx
// ends.
func (s *proxySecurity) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if s.auth != nil {
		wg.Go(func() { s.auth.Run(ctx) })
	}
	if s.certs != nil {
		wg.Go(func() { s.certs.Run(ctx) })
	}
	if s.walletdCA != nil {
		wg.Go(func() { s.walletdCA.Run(ctx, 5*time.Second) })
	}
	wg.Wait()
}
