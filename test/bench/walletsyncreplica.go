package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd/walletfile"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
	"github.com/rs/zerolog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func waitApplied(reps []*benchReplica, gen int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for _, r := range reps {
			if r.r.AppliedGeneration() < gen || !r.r.InSync() {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			var why []string
			for _, r := range reps {
				why = append(why, r.name+": "+r.r.ReadyCheck()().Reason)
			}
			return fmt.Errorf("generation %d not applied within %s: %s", gen, timeout, strings.Join(why, "; "))
		}
		// Poll finely: this loop is the lag measurement's clock.
		time.Sleep(time.Millisecond)
	}
}

func (b *bencher) store() *store.Store {
	return store.New(b.client, b.ns, store.DefaultSecretName, b.key, store.Options{})
}

func (b *bencher) resetSecret(ctx context.Context) error {
	err := b.client.CoreV1().Secrets(b.ns).Delete(ctx, store.DefaultSecretName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

type benchWalletd struct {
	proc   *testenv.Process
	rpc    *jsonrpc.Client
	client *walletd.Client
}

// walletd starts test-walletd on dir/name.db; init "" leaves the file to
// walletd (random seed), "init" writes it with walletd-init, "seed-only"
// writes the keystore's seed with no keys.
func (b *bencher) walletd(name, init string) (*benchWalletd, error) {
	ctx := context.Background()
	path := filepath.Join(b.dir, name+".db")
	switch init {
	case "", "lag":
		if init == "lag" {
			if _, err := walletsync.InitWallet(ctx, b.store(), path, false); err != nil {
				return nil, err
			}
		}
	case "init":
		if _, err := walletsync.InitWallet(ctx, b.store(), path, false); err != nil {
			return nil, err
		}
	case "seed-only":
		snap, err := b.store().Load(ctx)
		if err != nil {
			return nil, err
		}
		if err := walletfile.Create(path, walletfile.Contents{Seed: snap.State.Seed}); err != nil {
			return nil, err
		}
	}
	bin, err := testenv.Binary("test-walletd")
	if err != nil {
		return nil, err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := testenv.Start(name, bin, []string{"-addr", addr, "-wallet", path, "-factomd", "127.0.0.1:1"}, nil, path+".log")
	if err != nil {
		return nil, err
	}
	b.onClose(func() { p.Stop(5 * time.Second) })
	rpc := jsonrpc.New("http://"+addr+"/v2", jsonrpc.Options{Timeout: 30 * time.Second})
	w := &benchWalletd{proc: p, rpc: rpc, client: walletd.New(rpc)}
	err = testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, errors.New("walletd exited")
		}
		_, err := w.client.Properties(ctx)
		return err == nil, err
	})
	return w, err
}

type benchReplica struct {
	name string
	w    *benchWalletd
	rpc  *jsonrpc.Client
	r    *walletsync.Replicator
	stop func()
}

func (b *bencher) replica(name, init string, _ bool) (*benchReplica, error) {
	w, err := b.walletd(name, init)
	if err != nil {
		return nil, err
	}
	return b.replicaOn(name, w)
}

func (b *bencher) replicaOn(name string, w *benchWalletd) (*benchReplica, error) {
	r, err := walletsync.New(walletsync.Config{
		Store:        b.store(),
		Walletd:      w.client,
		Log:          zerolog.Nop(),
		ResyncPeriod: 5 * time.Minute,
		RetryPeriod:  100 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	return &benchReplica{name: name, w: w, rpc: w.rpc, r: r, stop: func() {}}, nil
}

func (r *benchReplica) follow() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.r.RunFollower(ctx)
	}()
	r.stop = func() { cancel(); <-done }
}
