package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// writeAtomically replaces path as a Secret volume update does.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := testenv.ReplaceFile(path, data); err != nil {
		t.Fatal(err)
	}
}

// TestSealingKeyRotationWithTheSidecars rotates the sealing key of three
// running sidecars from A to B by the documented steps, while a client
// keeps writing through the leader's proxy: the sidecars re-read their key
// files, the leader re-seals, no write fails, every replica holds every
// acknowledged key, and neither key appears in any output.
func TestSealingKeyRotationWithTheSidecars(t *testing.T) {
	dir := t.TempDir()
	previous := filepath.Join(dir, "previous") // absent outside a rotation
	c := newCluster(t, testenv.ClusterOptions{ExtraArgs: []string{"--keystore-previous-key-file", previous}})
	rawA, err := os.ReadFile(c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	rawB := make([]byte, 32)
	if _, err := rand.Read(rawB); err != nil {
		t.Fatal(err)
	}
	a, _ := keystore.ParseSealKey(rawA)
	b, _ := keystore.NewSealKey(rawB)
	var seen secrets
	var leaks testenv.Secrets
	leaks.AddKey(rawA)
	leaks.AddKey(rawB)

	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		acked     []string
		failed    atomic.Int64 // any refusal but "not the leader"
		notLeader atomic.Int64 // a failover the rotation did not cause (a loaded machine)
		ok        atomic.Int64
		stop      = make(chan struct{})
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		cur := leader
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			k, err := viaProxy(cur).GenerateECAddress(ctx)
			cancel()
			switch {
			case rpcCode(err) == proxy.CodeNotLeader:
				// Follow the lease, as the leader Service does.
				notLeader.Add(1)
				if next, lerr := c.Leader(30 * time.Second); lerr == nil {
					cur = next
				}
				continue
			case err != nil:
				if failed.Add(1) <= 5 {
					t.Logf("write failed: %v", err)
				}
				time.Sleep(50 * time.Millisecond) // no busy loop against a failing proxy
				continue
			}
			seen.addKeys(k)
			mu.Lock()
			acked = append(acked, k.Public)
			mu.Unlock()
			ok.Add(1)
		}
	}()
	waitKeyIDs := func(ids ...string) {
		t.Helper()
		for _, p := range c.Pods {
			err := testenv.Eventually(60*time.Second, 200*time.Millisecond, func() (bool, error) {
				_, body, err := p.Get("/status")
				if err != nil {
					return false, err
				}
				ks, _ := body["keystore"].(map[string]any)
				got := fmt.Sprint(ks["keystoreKeyIds"])
				return got == fmt.Sprint(ids), fmt.Errorf("%s holds keys %s, want %v", p.Name, got, ids)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	hexB := []byte(hex.EncodeToString(rawB) + "\n")

	// 1. Every replica opens B before anyone seals with it.
	writeAtomically(t, previous, hexB)
	waitKeyIDs(a.ID(), b.ID())
	// 2. Seal with B, A still opens (previous first: no pod ever holds B alone
	// while the Secret is sealed with A).
	writeAtomically(t, previous, rawA)
	writeAtomically(t, c.KeyFile, hexB)
	waitKeyIDs(b.ID(), a.ID())
	cs, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	err = testenv.Eventually(60*time.Second, 200*time.Millisecond, func() (bool, error) {
		sec, err := cs.CoreV1().Secrets(c.Namespace).Get(context.Background(), store.DefaultSecretName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got := sec.Annotations[store.AnnotationKeyID]
		return got == b.ID(), fmt.Errorf("the keystore is sealed with %s, want %s", got, b.ID())
	})
	if err != nil {
		t.Fatal(err)
	}
	// 3. Drop A.
	if err := os.Remove(previous); err != nil {
		t.Fatal(err)
	}
	waitKeyIDs(b.ID())
	before := ok.Load()
	if err := testenv.Eventually(60*time.Second, 100*time.Millisecond, func() (bool, error) {
		return ok.Load() >= before+5, fmt.Errorf("%d writes after the rotation", ok.Load()-before)
	}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if n := failed.Load(); n != 0 {
		t.Errorf("%d writes failed during the rotation", n)
	}
	t.Logf("%d writes acknowledged during the rotation (%d refused as not the leader during a failover)", ok.Load(), notLeader.Load())

	held := waitReplicated(t, c, leader)
	for _, k := range acked {
		if !slices.Contains(held, k) {
			t.Errorf("acknowledged key %s is not replicated", k)
		}
	}
	for _, p := range c.Pods {
		_, body, err := p.Get("/status")
		if err != nil {
			t.Fatal(err)
		}
		if ks, _ := body["keystore"].(map[string]any); ks["keystoreSealedKeyId"] != b.ID() {
			t.Errorf("%s last applied a version sealed with %v, want %s", p.Name, ks["keystoreSealedKeyId"], b.ID())
		}
		for _, f := range []string{p.Sidecar.Logs(), p.Walletd.Logs()} {
			if n := leaks.Found(f); len(n) > 0 {
				t.Errorf("%s output holds a sealing key", p.Name)
			}
		}
	}
	seen.addBackup(t, direct(leader))
	seen.checkNoLeaks(t, c)
}
