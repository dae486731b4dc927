package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/kube"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
)

// walletdInitMode is a one-shot init container: it creates walletd's
// wallet file from the replicated keystore before walletd first starts, or
// checks that an existing file holds the replicated seed. Run returns when
// done; a non-nil error exits 1 (nothing is deleted or overwritten).
type walletdInitMode struct {
	env            env
	kube           kube.Flags
	keystore       walletsync.KeyFlags
	walletPath     string
	passphrase     passphraseFlag
	createKeystore bool
	timeout        time.Duration

	rt *runtime
}

func (m *walletdInitMode) RegisterFlags(fs *flag.FlagSet) {
	m.kube = kube.DefaultFlags(m.env, kube.ServiceAccountNamespaceFile)
	m.kube.RegisterFlags(fs)
	m.keystore = walletsync.DefaultKeyFlags()
	m.keystore.RegisterFlags(fs)
	fs.StringVar(&m.walletPath, "wallet-path", "", "walletd's bolt wallet file (walletd -w); required")
	m.passphrase.RegisterFlags(fs)
	fs.BoolVar(&m.createKeystore, "create-keystore", true, "when neither the wallet file nor the keystore exists, create the keystore with a new random seed so every replica shares it")
	fs.DurationVar(&m.timeout, "timeout", 2*time.Minute, "give up after this long")
}

func (m *walletdInitMode) Validate() error {
	var errs []error
	if err := m.kube.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := m.keystore.Validate(); err != nil {
		errs = append(errs, err)
	}
	if m.walletPath == "" {
		errs = append(errs, config.Errorf("wallet-path", "required"))
	}
	if m.timeout <= 0 {
		errs = append(errs, config.Errorf("timeout", "%s: must be positive", m.timeout))
	}
	return errors.Join(errs...)
}

func (m *walletdInitMode) Load() error { return errors.Join(m.keystore.Load(), m.passphrase.Load()) }

func (m *walletdInitMode) Setup(rt *runtime) error {
	m.rt = rt
	return nil
}

func (m *walletdInitMode) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	log := m.rt.Log
	cfg, err := m.kube.RESTConfig()
	if err != nil {
		return err
	}
	client, err := kube.NewClient(cfg, kube.ClientOptions{UserAgent: "factom-sidecar (walletd-init)", Timeout: 15 * time.Second})
	if err != nil {
		return err
	}
	pass := m.passphrase.Value
	res, err := walletsync.InitWalletEncrypted(ctx, m.keystore.Store(client, m.kube.Namespace), m.walletPath, m.createKeystore, pass)
	if err != nil {
		log.Error().Str("event", logging.EventWalletdInitFailed).Str("walletPath", m.walletPath).Err(err).Msg("walletd-init refused or failed; nothing was changed")
		return err
	}
	log.Info().Str("event", logging.EventWalletdInitDone).Str("outcome", string(res.Outcome)).Str("walletPath", m.walletPath).Bool("encrypted", pass != "").
		Int64("generation", res.Generation).Int("keys", res.Keys).
		Uint32("fct", res.Next.FCT).Uint32("ec", res.Next.EC).Uint32("id", res.Next.ID).
		Msg("walletd wallet file ready")
	return nil
}

// passphraseFlag is --walletd-passphrase-file (walletd mode and
// walletd-init): an encrypted wallet.
type passphraseFlag struct {
	path string
	// Value is the passphrase Load read ("" when none is set).
	Value walletd.Secret
}

func (p *passphraseFlag) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&p.path, "walletd-passphrase-file", "", "file holding the passphrase of an encrypted wallet (factom-walletd -encrypted): walletd-init writes the encrypted format, the sidecar unlocks walletd with it; empty: a plain wallet")
}

// Load reads the passphrase file. Errors name the flag, never the
// passphrase.
func (p *passphraseFlag) Load() error {
	if p.path == "" {
		return nil
	}
	v, err := walletd.ReadPassphrase(p.path)
	if err != nil {
		return config.Errorf("walletd-passphrase-file", "%w", err)
	}
	p.Value = v
	return nil
}
