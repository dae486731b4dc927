// Package store keeps the sealed keystore in one Kubernetes Secret, with
// the fencing term and a monotonic generation beside it. Every write is a
// conditional update on resourceVersion, so a deposed leader's late write
// fails (ErrFenced) instead of landing.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

// DefaultSecretName is the keystore Secret's default name (--keystore-secret).
const DefaultSecretName = "factom-wallet-keystore"

// Secret layout.
const (
	// DataKey holds the sealed keystore.
	DataKey = "keystore"
	// The term, generation and commit time sit in annotations so that
	// `kubectl get secret -o yaml` shows them without decoding; the term
	// and generation are also bound into the seal, so editing them makes
	// the Secret fail authentication.
	AnnotationTerm        = "factom.io/keystore-term"
	AnnotationGeneration  = "factom.io/keystore-generation"
	AnnotationCommittedAt = "factom.io/keystore-committed-at"
	AnnotationKeyID       = "factom.io/keystore-key-id"
	AnnotationFormat      = "factom.io/keystore-format"
)

// MaxSealedBytes bounds the sealed keystore: a Secret holds at most 1 MiB
// of data; a margin is left for the annotations and metadata.
const MaxSealedBytes = 1<<20 - 16<<10

// Errors.
var (
	// ErrFenced: the stored term is not the writer's term (a newer leader
	// bumped it, or the writer's term is older than the stored one).
	ErrFenced = errors.New("keystore fenced: the stored term is not this leader's term")
	// ErrConflict: the Secret changed since it was read, under the same
	// term; reload and retry.
	ErrConflict = errors.New("keystore changed since it was read")
	// ErrNotFound: the Secret does not exist yet.
	ErrNotFound = errors.New("keystore secret not found")
	// ErrTooLarge: the sealed keystore would not fit in one Secret.
	ErrTooLarge = errors.New("keystore too large for one Secret")
)

// FencedError is ErrFenced with the terms involved: the stored term tells
// a fenced leader what floor the next acquisition needs.
type FencedError struct {
	Op     string // what was refused: "commit under term", "bump to term", "write under term"
	Term   int64  // the writer's term
	Stored int64  // the term the Secret holds
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("%s %d, stored term %d: %v", e.Op, e.Term, e.Stored, ErrFenced)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// StoredTerm is the stored term a fenced write reported, or -1.
func StoredTerm(err error) int64 {
	var f *FencedError
	if errors.As(err, &f) {
		return f.Stored
	}
	return -1
}

// Snapshot is one opened version of the Secret.
type Snapshot struct {
	State           *keystore.State
	Term            int64
	Generation      int64
	ResourceVersion string
	CommittedAt     time.Time
	SealedBytes     int
	// KeyID names the key this version is sealed with.
	KeyID string

	secret *corev1.Secret
}

// Store reads and writes the keystore Secret.
type Store struct {
	client    kubernetes.Interface
	namespace string
	name      string
	keys      keystore.Keys
	timeout   time.Duration
	now       func() time.Time
}

// Options tunes a Store. Zero values take the defaults.
type Options struct {
	// Timeout bounds each API call (default 10s).
	Timeout time.Duration
	// Now is the clock for committed-at (default time.Now).
	Now func() time.Time
}

// New returns a store for Secret namespace/name: it seals with the keys'
// current key and opens with any of them (keys may change between calls:
// a rotation).
func New(client kubernetes.Interface, namespace, name string, keys keystore.Keys, opts Options) *Store {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{client: client, namespace: namespace, name: name, keys: keys, timeout: opts.Timeout, now: opts.Now}
}

// Name is the Secret's name.
func (s *Store) Name() string { return s.name }

// Keyring is the keys the store seals and opens with now.
func (s *Store) Keyring() *keystore.Keyring { return s.keys.Keyring() }

// Namespace is the Secret's namespace.
func (s *Store) Namespace() string { return s.namespace }

func (s *Store) secrets() interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Secret, error)
	Create(context.Context, *corev1.Secret, metav1.CreateOptions) (*corev1.Secret, error)
	Update(context.Context, *corev1.Secret, metav1.UpdateOptions) (*corev1.Secret, error)
} {
	return s.client.CoreV1().Secrets(s.namespace)
}

// Load reads and opens the Secret. A missing Secret is ErrNotFound; one
// that fails to open wraps keystore.ErrRejected.
func (s *Store) Load(ctx context.Context) (*Snapshot, error) {
	sec, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.Decode(sec)
}

func (s *Store) get(ctx context.Context) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sec, err := s.secrets().Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s/%s: %w", s.namespace, s.name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get keystore secret: %w", err)
	}
	return sec, nil
}

// Decode opens a Secret object (e.g. from a watch).
func (s *Store) Decode(sec *corev1.Secret) (*Snapshot, error) {
	term, err := annotationInt(sec, AnnotationTerm)
	if err != nil {
		return nil, err
	}
	gen, err := annotationInt(sec, AnnotationGeneration)
	if err != nil {
		return nil, err
	}
	blob, ok := sec.Data[DataKey]
	if !ok {
		return nil, fmt.Errorf("%w: no %q data", keystore.ErrFormat, DataKey)
	}
	st, err := s.keys.Keyring().Open(keystore.Header{Name: s.name, Term: term, Generation: gen}, blob)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{State: st, Term: term, Generation: gen, ResourceVersion: sec.ResourceVersion, SealedBytes: len(blob), KeyID: keystore.SealedKeyID(blob), secret: sec}
	if at, err := time.Parse(time.RFC3339Nano, sec.Annotations[AnnotationCommittedAt]); err == nil {
		snap.CommittedAt = at
	}
	return snap, nil
}

func annotationInt(sec *corev1.Secret, name string) (int64, error) {
	v, ok := sec.Annotations[name]
	if !ok {
		return 0, fmt.Errorf("%w: no %s annotation", keystore.ErrFormat, name)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s annotation is not a non-negative integer", keystore.ErrFormat, name)
	}
	return n, nil
}

// seal fills sec with state sealed under term/generation.
func (s *Store) seal(sec *corev1.Secret, term, gen int64, state *keystore.State) error {
	key := s.keys.Keyring().Current()
	blob, err := keystore.Seal(key, keystore.Header{Name: s.name, Term: term, Generation: gen}, state)
	if err != nil {
		return err
	}
	if len(blob) > MaxSealedBytes {
		return fmt.Errorf("%w: %d sealed bytes, limit %d (%d imported and %d removed keys; see docs/KEYSTORE.md)",
			ErrTooLarge, len(blob), MaxSealedBytes, len(state.Imported), len(state.Removed))
	}
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	sec.Annotations[AnnotationTerm] = strconv.FormatInt(term, 10)
	sec.Annotations[AnnotationGeneration] = strconv.FormatInt(gen, 10)
	sec.Annotations[AnnotationCommittedAt] = s.now().UTC().Format(time.RFC3339Nano)
	sec.Annotations[AnnotationKeyID] = key.ID()
	sec.Annotations[AnnotationFormat] = strconv.Itoa(int(keystore.FormatVersion))
	sec.Data = map[string][]byte{DataKey: blob}
	sec.Type = corev1.SecretTypeOpaque
	return nil
}

// Create writes the first keystore (generation 1) under term. An existing
// Secret is ErrConflict: another pod created it first; load it instead.
func (s *Store) Create(ctx context.Context, term int64, state *keystore.State) (*Snapshot, error) {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name:      s.name,
		Namespace: s.namespace,
		Labels:    map[string]string{"app.kubernetes.io/managed-by": "factom-sidecar", "app.kubernetes.io/component": "keystore"},
	}}
	if err := s.seal(sec, term, 1, state); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	created, err := s.secrets().Create(ctx, sec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create keystore secret: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create keystore secret: %w", err)
	}
	return s.snapshotOf(created, state, term, 1), nil
}

func (s *Store) snapshotOf(sec *corev1.Secret, state *keystore.State, term, gen int64) *Snapshot {
	blob := sec.Data[DataKey]
	snap := &Snapshot{State: state, Term: term, Generation: gen, ResourceVersion: sec.ResourceVersion, SealedBytes: len(blob), KeyID: keystore.SealedKeyID(blob), secret: sec}
	snap.CommittedAt, _ = time.Parse(time.RFC3339Nano, sec.Annotations[AnnotationCommittedAt])
	return snap
}

// Commit writes next as generation prev.Generation+1 under term, only if
// the Secret is still at prev's resourceVersion and prev's term is term.
// ErrFenced when the stored term is another; ErrConflict when the Secret
// moved on under the same term (reload and retry).
func (s *Store) Commit(ctx context.Context, prev *Snapshot, term int64, next *keystore.State) (*Snapshot, error) {
	if prev.Term != term {
		return nil, &FencedError{Op: "commit under term", Term: term, Stored: prev.Term}
	}
	return s.write(ctx, prev, term, next)
}

// BumpTerm writes state (prev's, or a caught-up one) under the higher term
// before a new leader opens writes: from then on every write under an
// older term fails. It refuses (ErrFenced) if the stored term is higher;
// with an equal term it still writes, so a changed state lands.
func (s *Store) BumpTerm(ctx context.Context, prev *Snapshot, term int64, state *keystore.State) (*Snapshot, error) {
	if prev.Term > term {
		return nil, &FencedError{Op: "bump to term", Term: term, Stored: prev.Term}
	}
	if state == nil {
		state = prev.State
	}
	return s.write(ctx, prev, term, state)
}

func (s *Store) write(ctx context.Context, prev *Snapshot, term int64, next *keystore.State) (*Snapshot, error) {
	return s.writeWith(ctx, prev, term, next, nil)
}

// writeWith is write that also sets the annotations ann, in the same
// conditional update.
func (s *Store) writeWith(ctx context.Context, prev *Snapshot, term int64, next *keystore.State, ann map[string]string) (*Snapshot, error) {
	sec := prev.secret.DeepCopy()
	gen := prev.Generation + 1
	if err := s.seal(sec, term, gen, next); err != nil {
		return nil, err
	}
	for k, v := range ann {
		sec.Annotations[k] = v
	}
	sec.ResourceVersion = prev.ResourceVersion
	uctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	updated, err := s.secrets().Update(uctx, sec, metav1.UpdateOptions{})
	switch {
	case err == nil:
		return s.snapshotOf(updated, next, term, gen), nil
	case apierrors.IsConflict(err):
		// Tell a fenced writer from a stale one by the stored term: only a
		// higher term fences. A lower one is a late write of an older
		// leader that landed after a promotion's load (BumpTerm): reload,
		// catch up with it and bump again.
		cur, gerr := s.get(ctx)
		if gerr != nil {
			return nil, fmt.Errorf("keystore update conflict, then: %w", gerr)
		}
		if stored, aerr := annotationInt(cur, AnnotationTerm); aerr == nil && stored > term {
			return nil, &FencedError{Op: "write under term", Term: term, Stored: stored}
		}
		return nil, fmt.Errorf("write generation %d: %w", gen, ErrConflict)
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("update keystore secret: %w", ErrNotFound)
	default:
		return nil, fmt.Errorf("update keystore secret: %w", err)
	}
}
