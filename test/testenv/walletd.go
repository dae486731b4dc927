package testenv

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WalletdOptions configures one real walletd (bin/test-walletd).
type WalletdOptions struct {
	// Dir holds the wallet file and the log.
	Dir string
	// Mnemonic, when set, creates the wallet from this seed (12 words).
	Mnemonic string
	// Factomd is the host:port of the factomd API walletd uses.
	Factomd string
	// User and Password turn on walletd's basic auth.
	User, Password string
	// Port to listen on (0: a free one).
	Port int
	// TLSCert and TLSKey run walletd -wallettls with this PEM pair;
	// ClientTLS is what clients trust it with.
	TLSCert, TLSKey string
	ClientTLS       *tls.Config
	// Encrypted runs walletd -encrypted on an existing encrypted wallet
	// file (walletd-init writes it): walletd starts locked.
	Encrypted bool
}

// Walletd is a running walletd.
type Walletd struct {
	*Process
	Port       int
	WalletPath string
	opts       WalletdOptions
}

// URL is walletd's JSON-RPC endpoint.
func (w *Walletd) URL() string {
	if w.opts.TLSCert != "" {
		return fmt.Sprintf("https://127.0.0.1:%d/v2", w.Port)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/v2", w.Port)
}

// ClientTLS is the TLS config a client reaches walletd with (nil: plain HTTP).
func (w *Walletd) ClientTLS() *tls.Config { return w.opts.ClientTLS }

// Credentials are walletd's RPC user and password ("" when it has none).
func (w *Walletd) Credentials() (user, password string) { return w.opts.User, w.opts.Password }

// StartWalletd starts walletd and waits until its API answers.
func StartWalletd(opts WalletdOptions) (*Walletd, error) {
	var err error
	if opts.Port == 0 {
		if opts.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("walletd dir: %w", err)
	}
	w := &Walletd{Port: opts.Port, WalletPath: filepath.Join(opts.Dir, "factom_wallet.db"), opts: opts}
	if err := w.start(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Walletd) start() error {
	bin, err := Binary("test-walletd")
	if err != nil {
		return err
	}
	args := []string{"-addr", "127.0.0.1:" + strconv.Itoa(w.Port), "-wallet", w.WalletPath}
	if w.opts.Mnemonic != "" {
		mf := filepath.Join(w.opts.Dir, "mnemonic")
		if err := os.WriteFile(mf, []byte(w.opts.Mnemonic), 0o600); err != nil {
			return fmt.Errorf("walletd mnemonic: %w", err)
		}
		args = append(args, "-mnemonic-file", mf)
	}
	if w.opts.Factomd != "" {
		args = append(args, "-factomd", w.opts.Factomd)
	}
	if w.opts.User != "" {
		args = append(args, "-walletuser", w.opts.User, "-walletpassword", w.opts.Password)
	}
	if w.opts.Encrypted {
		args = append(args, "-encrypted")
	}
	if w.opts.TLSCert != "" {
		args = append(args, "-wallettls", "-walletcert", w.opts.TLSCert, "-walletkey", w.opts.TLSKey)
	}
	p, err := Start("walletd", bin, args, nil, filepath.Join(w.opts.Dir, "walletd.log"))
	if err != nil {
		return err
	}
	w.Process = p
	if err := waitHTTP(w.URL(), w.opts.ClientTLS, p, 30*time.Second); err != nil {
		p.Kill()
		return fmt.Errorf("walletd on port %d: %w\n%s", w.Port, err, Tail(p.Logs(), 2000))
	}
	return nil
}

// Restart starts walletd again on the same port and wallet file after it
// was stopped or killed.
func (w *Walletd) Restart() error {
	w.Kill()
	return w.start()
}

// waitHTTP polls a JSON-RPC endpoint until it answers at all (any HTTP
// status), or the process exits.
func waitHTTP(url string, tlsCfg *tls.Config, p *Process, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return Eventually(timeout, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("exited with code %d", p.ExitCode())
		}
		resp, err := client.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"properties"}`))
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return true, nil
	})
}
