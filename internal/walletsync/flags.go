package walletsync

import (
	"errors"
	"flag"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// Flags are the keystore replication flags of the walletd mode.
type Flags struct {
	SecretName       string
	KeyFile          string
	PreviousKeyFiles config.StringList
	ResyncPeriod     time.Duration

	keys *keystore.KeyFiles
}

// Register adds --keystore-secret, --keystore-key-file,
// --keystore-previous-key-file and --keystore-resync-period to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.SecretName, "keystore-secret", store.DefaultSecretName, "name of the Secret holding the replicated keystore")
	RegisterKeyFlags(fs, &f.KeyFile, &f.PreviousKeyFiles)
	fs.DurationVar(&f.ResyncPeriod, "keystore-resync-period", 5*time.Minute, "how often a follower re-reads the keystore Secret and re-checks its walletd from a wallet-backup")
}

// Validate checks the flags and reads the key file (errors name the flag,
// never the key).
func (f *Flags) Validate() error {
	var errs []error
	if f.SecretName == "" {
		errs = append(errs, config.Errorf("keystore-secret", "empty"))
	}
	if k, err := LoadKeyFlags(f.KeyFile, f.PreviousKeyFiles); err != nil {
		errs = append(errs, err)
	} else {
		f.keys = k
	}
	if f.ResyncPeriod < time.Second {
		errs = append(errs, config.Errorf("keystore-resync-period", "%s: want at least 1s", f.ResyncPeriod))
	}
	return errors.Join(errs...)
}

// NewReplicator builds the Replicator from validated flags: the Secret in
// namespace, Events on pod, this replica's walletd.
func (f *Flags) NewReplicator(client kubernetes.Interface, namespace, pod string, w *walletd.Client, log zerolog.Logger, reg prometheus.Registerer) (*Replicator, error) {
	if f.keys == nil {
		if err := f.Validate(); err != nil {
			return nil, err
		}
	}
	return New(Config{
		Store:        store.New(client, namespace, f.SecretName, f.keys, store.Options{}),
		Walletd:      w,
		Kube:         client,
		Namespace:    namespace,
		PodName:      pod,
		Log:          log,
		Registerer:   reg,
		ResyncPeriod: f.ResyncPeriod,
		KeyFiles:     f.keys,
	})
}

// RegisterKeyFlags adds --keystore-key-file and the repeatable
// --keystore-previous-key-file (walletd mode and walletd-init share them).
func RegisterKeyFlags(fs *flag.FlagSet, current *string, previous *config.StringList) {
	fs.StringVar(current, "keystore-key-file", "", "file with the 32-byte keystore sealing key new versions are sealed with: raw bytes, 64 hex digits or base64 (mount it from a separate Secret); required")
	fs.Var(previous, "keystore-previous-key-file", "file with a key that may still open the keystore during a rotation (repeatable; env: comma-separated); a missing or empty file holds no key. Re-read with --keystore-key-file every 10s")
}

// LoadKeyFlags reads the key files; errors name the flag, never a key.
func LoadKeyFlags(current string, previous []string) (*keystore.KeyFiles, error) {
	if current == "" {
		return nil, config.Errorf("keystore-key-file", "required")
	}
	if _, err := keystore.LoadSealKey(current); err != nil {
		return nil, config.Errorf("keystore-key-file", "%v", err)
	}
	k, err := keystore.LoadKeyFiles(current, previous)
	if err != nil {
		return nil, config.Errorf("keystore-previous-key-file", "%v", err)
	}
	return k, nil
}
