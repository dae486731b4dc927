package walletsync

import (
	"errors"
	"flag"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

// KeyFlags name the keystore Secret and its sealing keys: the flags the
// walletd mode and walletd-init share.
type KeyFlags struct {
	SecretName       string
	KeyFile          string
	PreviousKeyFiles config.StringList

	keys *keystore.KeyFiles
}

// DefaultKeyFlags name the default Secret; the key file has no default.
func DefaultKeyFlags() KeyFlags { return KeyFlags{SecretName: store.DefaultSecretName} }

// RegisterFlags adds --keystore-secret, --keystore-key-file and the
// repeatable --keystore-previous-key-file to fs.
func (f *KeyFlags) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.SecretName, "keystore-secret", f.SecretName, "name of the Secret holding the replicated keystore")
	fs.StringVar(&f.KeyFile, "keystore-key-file", f.KeyFile, "file with the 32-byte keystore sealing key new versions are sealed with: raw bytes, 64 hex digits or base64 (mount it from a separate Secret); required")
	fs.Var(&f.PreviousKeyFiles, "keystore-previous-key-file", "file with a key that may still open the keystore during a rotation (repeatable; env: comma-separated); a missing or empty file holds no key. Re-read with --keystore-key-file every 10s")
}

// Validate checks the flags without reading the key files.
func (f *KeyFlags) Validate() error {
	var errs []error
	if f.SecretName == "" {
		errs = append(errs, config.Errorf("keystore-secret", "empty"))
	}
	if f.KeyFile == "" {
		errs = append(errs, config.Errorf("keystore-key-file", "required"))
	}
	return errors.Join(errs...)
}

// Load reads the key files; errors name the flag, never a key.
func (f *KeyFlags) Load() error {
	if _, err := keystore.LoadSealKey(f.KeyFile); err != nil {
		return config.Errorf("keystore-key-file", "%v", err)
	}
	k, err := keystore.LoadKeyFiles(f.KeyFile, f.PreviousKeyFiles)
	if err != nil {
		return config.Errorf("keystore-previous-key-file", "%v", err)
	}
	f.keys = k
	return nil
}

// Keys are the key files Load read (nil before).
func (f *KeyFlags) Keys() *keystore.KeyFiles { return f.keys }

// Store is the keystore Secret in namespace, sealed and opened with the
// loaded keys.
func (f *KeyFlags) Store(client kubernetes.Interface, namespace string) *store.Store {
	return store.New(client, namespace, f.SecretName, f.keys, store.Options{})
}

// Flags are the keystore replication flags of the walletd mode.
type Flags struct {
	KeyFlags
	ResyncPeriod time.Duration
}

// DefaultFlags are the replication defaults.
func DefaultFlags() Flags {
	return Flags{KeyFlags: DefaultKeyFlags(), ResyncPeriod: 5 * time.Minute}
}

// RegisterFlags adds the key flags and --keystore-resync-period to fs.
func (f *Flags) RegisterFlags(fs *flag.FlagSet) {
	f.KeyFlags.RegisterFlags(fs)
	fs.DurationVar(&f.ResyncPeriod, "keystore-resync-period", f.ResyncPeriod, "how often a follower re-reads the keystore Secret and re-checks its walletd from a wallet-backup")
}

// Validate checks the flags without reading the key files.
func (f *Flags) Validate() error {
	var errs []error
	if err := f.KeyFlags.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.ResyncPeriod < time.Second {
		errs = append(errs, config.Errorf("keystore-resync-period", "%s: want at least 1s", f.ResyncPeriod))
	}
	return errors.Join(errs...)
}

// NewReplicator builds the Replicator from loaded flags: the Secret in
// namespace, Events to events, this replica's walletd.
func (f *Flags) NewReplicator(client kubernetes.Interface, namespace string, events kubeevents.Recorder, w *walletd.Client, log zerolog.Logger, reg prometheus.Registerer) (*Replicator, error) {
	if f.keys == nil {
		return nil, errors.New("walletsync: keystore flags not loaded")
	}
	return New(Config{
		Store:        f.Store(client, namespace),
		Walletd:      w,
		Events:       events,
		Log:          log,
		Registerer:   reg,
		ResyncPeriod: f.ResyncPeriod,
		KeyFiles:     f.keys,
	})
}
