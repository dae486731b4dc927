package walletsync_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// syncBuffer collects a replicator's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// secrets collects every secret a test saw, to check that none reaches a
// log line, an Event, a metric or an error.
type secrets struct{ testenv.Secrets }

func (s *secrets) add(vals ...string) { s.Add(vals...) }

func (s *secrets) addKeys(keys ...walletd.Key) {
	for _, k := range keys {
		s.add(k.Secret.Reveal())
	}
}

func (s *secrets) addBackup(b *walletd.Backup) {
	s.add(b.Seed.Reveal())
	s.addKeys(b.Addresses...)
	s.addKeys(b.IdentityKeys...)
}

// check fails the test if text contains any secret.
func (s *secrets) check(t testing.TB, what, text string) {
	t.Helper()
	for _, n := range s.Found(text) {
		t.Errorf("%s contains a secret (%d chars)", what, n)
	}
}

type walletProc struct {
	proc   *testenv.Process
	args   []string // extra walletd flags (-encrypted)
	path   string
	addr   string
	rpc    *jsonrpc.Client
	client *walletd.Client
}

// startWalletd runs bin/test-walletd on the wallet file at path (created
// with a random seed if it does not exist).
func startWalletd(t testing.TB, path string, args ...string) *walletProc {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	rpc := jsonrpc.New("http://"+addr+"/v2", jsonrpc.Options{Timeout: 10 * time.Second})
	w := &walletProc{path: path, args: args, addr: addr, rpc: rpc, client: walletd.New(rpc)}
	w.start(t)
	return w
}

// start runs walletd on w's address and wallet file and waits for it.
// restartSeedOnly stops walletd and starts it again on a wallet file that
// holds only seed: every key gone, every counter back at 0.
func (w *walletProc) restartSeedOnly(t testing.TB, seed walletd.Secret) {
	t.Helper()
	w.proc.Stop(5 * time.Second)
	if err := os.Remove(w.path); err != nil {
		t.Fatal(err)
	}
	if err := walletfile.Create(w.path, walletfile.Contents{Seed: seed}); err != nil {
		t.Fatal(err)
	}
	w.start(t)
}

func (w *walletProc) start(t testing.TB) {
	t.Helper()
	bin, err := testenv.Binary("test-walletd")
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.Start("walletd", bin, append([]string{"-addr", w.addr, "-wallet", w.path, "-factomd", "127.0.0.1:1"}, w.args...), nil, w.path+".log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	w.proc = p
	err = testenv.Eventually(20*time.Second, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("walletd exited: %s", p.Logs())
		}
		_, err := w.client.Properties(context.Background())
		return err == nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

type replica struct {
	name string
	w    *walletProc
	r    *walletsync.Replicator
	logs *syncBuffer
	reg  *prometheus.Registry
	stop context.CancelFunc
	done chan struct{}
}

func newSealKey(t testing.TB) *keystore.SealKey {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	k, err := keystore.NewSealKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	testKeyBytes[k] = raw
	return k
}

// testKeyBytes keeps each test key's bytes for writing key files.
var testKeyBytes = map[*keystore.SealKey][]byte{}

func newStore(t testing.TB, keys keystore.Keys) *store.Store {
	return store.New(userClient(t), testenv.KubeTestNamespace, testSecret, keys, store.Options{})
}

// newReplica builds a replicator for pod over w with the sidecar's RBAC.
// Key files (a *keystore.KeyFiles) are re-read every 100ms.
func newReplica(t testing.TB, pod string, keys keystore.Keys, w *walletProc) *replica {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	files, _ := keys.(*keystore.KeyFiles)
	log := zerolog.New(logs).With().Timestamp().Str("pod", pod).Logger()
	events := kubeevents.New(userClient(t), testenv.KubeTestNamespace, pod, kubeevents.Options{Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); events.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r, err := walletsync.New(walletsync.Config{
		KeyFiles:        files,
		KeyReloadPeriod: 100 * time.Millisecond,
		Store:           newStore(t, keys),
		Walletd:         w.client,
		Events:          events,
		Log:             log,
		Registerer:      reg,
		ResyncPeriod:    30 * time.Second,
		RetryPeriod:     200 * time.Millisecond,
		VerifyPeriod:    300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &replica{name: pod, w: w, r: r, logs: logs, reg: reg}
}

// follow starts RunFollower until the test ends.
func (rep *replica) follow(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	rep.stop, rep.done = cancel, make(chan struct{})
	go func() {
		defer close(rep.done)
		_ = rep.r.RunFollower(ctx)
	}()
	t.Cleanup(func() { cancel(); <-rep.done })
}

// write calls a keystore write on w and commits it through rep (the
// proxy's path), returning walletd's result and the commit error.
func write(t testing.TB, rep *replica, term int64, method string, params any) (json.RawMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rawParams json.RawMessage
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		rawParams = b
	}
	res, err := rep.w.rpc.CallRaw(ctx, method, rawParams)
	if err != nil {
		t.Fatalf("walletd %s: %v", method, err)
	}
	return res, rep.r.Commit(ctx, term, method, rawParams, res)
}

// keySet is a walletd's keystore as "public=secret" lines plus the seed.
func keySet(t testing.TB, w *walletProc) (walletd.Secret, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := w.client.WalletBackup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range append(b.Addresses, b.IdentityKeys...) {
		out = append(out, k.Public+"="+k.Secret.Reveal())
	}
	sort.Strings(out)
	return b.Seed, out
}

func deleteSecret(t testing.TB) {
	t.Helper()
	err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Delete(context.Background(), testSecret, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

func eventsFor(t testing.TB, pod, reason string) []string {
	t.Helper()
	list, err := adminClient(t).CoreV1().Events(testenv.KubeTestNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == pod && (reason == "" || e.Reason == reason) {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

func walletPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name+".db")
}

func hexKey(t testing.TB, k *keystore.SealKey) string {
	t.Helper()
	return hex.EncodeToString(testKeyBytes[k])
}
