package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
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

	walletdUser, walletdPasswordFile string
	factomdUser, factomdPasswordFile string
	walletdPassword, factomdPassword string

	auth  *proxy.Authenticator
	certs *proxy.CertReloader
	tls   *tls.Config
}

func (s *proxySecurity) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.authFile, "proxy-auth-file", "", "file of proxy users, one USER:BCRYPT_HASH:ROLE a line (htpasswd -B; ROLE read, write or admin), re-read when it changes; empty: no authentication (development only)")
	fs.BoolVar(&s.allowWalletBackup, "allow-wallet-backup", false, "serve wallet-backup (the seed) through the proxy, to admin users, on the leader")
	fs.StringVar(&s.tlsCertFile, "proxy-tls-cert-file", "", "PEM certificate the proxy serves TLS with (re-read when it changes); needs --proxy-tls-key-file")
	fs.StringVar(&s.tlsKeyFile, "proxy-tls-key-file", "", "PEM private key of --proxy-tls-cert-file")
	fs.StringVar(&s.clientCAFile, "proxy-client-ca-file", "", "PEM CA bundle: the proxy requires client certificates signed by it (mutual TLS); needs --proxy-tls-cert-file")
	fs.StringVar(&s.walletdUser, "walletd-user", "", "walletd's RPC user (walletd -walletuser), sent by the sidecar's own calls and by the proxy")
	fs.StringVar(&s.walletdPasswordFile, "walletd-password-file", "", "file holding walletd's RPC password (walletd -walletpassword)")
	fs.StringVar(&s.factomdUser, "factomd-user", "", "factomd's RPC user, sent by the sidecar's health polls of --factomd-url")
	fs.StringVar(&s.factomdPasswordFile, "factomd-password-file", "", "file holding factomd's RPC password")
}

func (s *proxySecurity) Validate() error {
	var errs []error
	if s.authFile != "" {
		if data, err := os.ReadFile(s.authFile); err != nil {
			errs = append(errs, config.Errorf("proxy-auth-file", "%w", err))
		} else if _, err := proxy.ParseAuthFile(data); err != nil {
			errs = append(errs, config.Errorf("proxy-auth-file", "%w", err))
		}
	}
	switch {
	case (s.tlsCertFile == "") != (s.tlsKeyFile == ""):
		errs = append(errs, config.Errorf("proxy-tls-cert-file", "--proxy-tls-cert-file and --proxy-tls-key-file go together"))
	case s.tlsCertFile != "":
		if _, err := tls.LoadX509KeyPair(s.tlsCertFile, s.tlsKeyFile); err != nil {
			errs = append(errs, config.Errorf("proxy-tls-cert-file", "%w", err))
		}
	}
	if s.clientCAFile != "" && s.tlsCertFile == "" {
		errs = append(errs, config.Errorf("proxy-client-ca-file", "needs --proxy-tls-cert-file"))
	}
	var err error
	if s.walletdPassword, err = credentials("walletd", s.walletdUser, s.walletdPasswordFile); err != nil {
		errs = append(errs, err)
	}
	if s.factomdPassword, err = credentials("factomd", s.factomdUser, s.factomdPasswordFile); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// credentials reads the password file of a --NAME-user.
func credentials(name, user, passwordFile string) (string, error) {
	if (user == "") != (passwordFile == "") {
		return "", config.Errorf(name+"-user", "--%s-user and --%s-password-file go together", name, name)
	}
	if passwordFile == "" {
		return "", nil
	}
	data, err := os.ReadFile(passwordFile)
	if err != nil {
		return "", config.Errorf(name+"-password-file", "%w", err)
	}
	// A file written by echo ends in a newline that is not the password's.
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" {
		return "", config.Errorf(name+"-password-file", "%s: empty", passwordFile)
	}
	return pw, nil
}

// Setup loads the users and the certificate.
func (s *proxySecurity) Setup(log zerolog.Logger) error {
	var err error
	if s.authFile == "" {
		log.Warn().Str("event", "proxy_auth_off").Msg("--proxy-auth-file is not set: any client that reaches the proxy may use the keystore; set it in production")
	} else if s.auth, err = proxy.NewAuthenticator(s.authFile, proxy.AuthOptions{}, log); err != nil {
		return config.Errorf("proxy-auth-file", "%w", err)
	}
	if s.tlsCertFile == "" {
		return nil
	}
	if s.certs, err = proxy.NewCertReloader(s.tlsCertFile, s.tlsKeyFile, 0, log); err != nil {
		return config.Errorf("proxy-tls-cert-file", "%w", err)
	}
	if s.tls, err = proxy.TLSConfig(s.certs, s.clientCAFile); err != nil {
		return config.Errorf("proxy-client-ca-file", "%w", err)
	}
	return nil
}

// options adds the security settings to the proxy's options.
func (s *proxySecurity) options(o proxy.Options) proxy.Options {
	o.Auth = s.auth
	o.AllowWalletBackup = s.allowWalletBackup
	o.WalletdUser, o.WalletdPassword = s.walletdUser, s.walletdPassword
	return o
}

// listener wraps the proxy's listener in TLS when it is configured.
func (s *proxySecurity) listener(l net.Listener) net.Listener {
	if s.tls == nil {
		return l
	}
	return tls.NewListener(l, s.tls)
}

// Run re-reads the auth file and the certificate until ctx ends.
func (s *proxySecurity) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if s.auth != nil {
		wg.Go(func() { s.auth.Run(ctx) })
	}
	if s.certs != nil {
		wg.Go(func() { s.certs.Run(ctx) })
	}
	wg.Wait()
}
