package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// walletdInitMode is a one-shot init container: it creates walletd's
// wallet file from the replicated keystore before walletd first starts, or
// checks that an existing file holds the replicated seed. Run returns when
// done; a non-nil error exits 1 (nothing is deleted or overwritten).
type walletdInitMode struct {
	kubeconfig     string
	namespace      string
	secretName     string
	keyFile        string
	previousKeys   config.StringList
	walletPath     string
	passphraseFile string
	createKeystore bool
	timeout        time.Duration

	rt *runtime
}

func (m *walletdInitMode) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&m.kubeconfig, "kubeconfig", "", "kubeconfig file (empty: in-cluster config)")
	fs.StringVar(&m.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of the keystore Secret (default $POD_NAMESPACE)")
	fs.StringVar(&m.secretName, "keystore-secret", "factom-wallet-keystore", "name of the Secret holding the replicated keystore")
	walletsync.RegisterKeyFlags(fs, &m.keyFile, &m.previousKeys)
	fs.StringVar(&m.walletPath, "wallet-path", "", "walletd's bolt wallet file (walletd -w); required")
	registerPassphraseFlag(fs, &m.passphraseFile)
	fs.BoolVar(&m.createKeystore, "create-keystore", true, "when neither the wallet file nor the keystore exists, create the keystore with a new random seed so every replica shares it")
	fs.DurationVar(&m.timeout, "timeout", 2*time.Minute, "give up after this long")
}

func (m *walletdInitMode) Validate() error {
	var errs []error
	if m.namespace == "" {
		errs = append(errs, config.Errorf("namespace", "empty: set it or POD_NAMESPACE"))
	}
	if m.secretName == "" {
		errs = append(errs, config.Errorf("keystore-secret", "empty"))
	}
	if _, err := walletsync.LoadKeyFlags(m.keyFile, m.previousKeys); err != nil {
		errs = append(errs, err)
	}
	if m.walletPath == "" {
		errs = append(errs, config.Errorf("wallet-path", "required"))
	}
	if _, err := readPassphraseFlag(m.passphraseFile); err != nil {
		errs = append(errs, err)
	}
	if m.timeout <= 0 {
		errs = append(errs, config.Errorf("timeout", "%s: must be positive", m.timeout))
	}
	return errors.Join(errs...)
}

func (m *walletdInitMode) Setup(rt *runtime) error {
	m.rt = rt
	return nil
}

func (m *walletdInitMode) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	log := m.rt.Log
	keys, err := keystore.LoadKeyFiles(m.keyFile, m.previousKeys)
	if err != nil {
		return err
	}
	cfg, err := walletdInitKubeConfig(m.kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kube client: %w", err)
	}
	pass, err := readPassphraseFlag(m.passphraseFile)
	if err != nil {
		return err
	}
	st := store.New(client, m.namespace, m.secretName, keys, store.Options{})
	res, err := walletsync.InitWalletEncrypted(ctx, st, m.walletPath, m.createKeystore, pass)
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

func walletdInitKubeConfig(kubeconfig string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kube config: %w", err)
	}
	cfg.Timeout = 15 * time.Second
	return cfg, nil
}

// registerPassphraseFlag adds --walletd-passphrase-file (walletd mode and
// walletd-init).
func registerPassphraseFlag(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "walletd-passphrase-file", "", "file holding the passphrase of an encrypted wallet (factom-walletd -encrypted): walletd-init writes the encrypted format, the sidecar unlocks walletd with it; empty: a plain wallet")
}

// readPassphraseFlag reads the passphrase file ("" when none is set).
// Errors name the flag, never the passphrase.
func readPassphraseFlag(path string) (walletd.Secret, error) {
	if path == "" {
		return "", nil
	}
	p, err := walletd.ReadPassphrase(path)
	if err != nil {
		return "", config.Errorf("walletd-passphrase-file", "%w", err)
	}
	return p, nil
}
