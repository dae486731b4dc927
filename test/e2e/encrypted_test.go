package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// TestEncryptedWalletdCluster runs three walletd -encrypted pods as the
// manifests would: walletd-init writes each encrypted wallet from the
// keystore, the sidecars unlock walletd with --walletd-passphrase-file, the
// keystore replicates through the proxy, a crashed leader fails over
// without losing a key or handing one out twice, a restarted walletd is
// unlocked again, and a pod whose passphrase is wrong stays unready with
// reason walletd_locked. The passphrase leaks nowhere.
func TestEncryptedWalletdCluster(t *testing.T) {
	const pass = "e2e wallet passphrase 5d1c"
	c := newCluster(t, testenv.ClusterOptions{WalletdPassphrase: pass})
	var seen secrets
	seen.add(pass)
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)
	h := &handedOut{seen: &seen}
	h.generate(t, ctx, leader, 5)
	waitReplicated(t, c, leader)
	seen.addBackup(t, direct(leader))

	// A follower's walletd restarts: it comes back locked, the sidecar
	// unlocks it and the pod is ready again.
	var follower *testenv.WalletPod
	for _, p := range c.Pods {
		if p != leader {
			follower = p
			break
		}
	}
	if err := follower.Walletd.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Eventually(60*time.Second, 100*time.Millisecond, func() (bool, error) {
		code, body, err := follower.Get("/readyz")
		if err != nil {
			return false, err
		}
		return code == http.StatusOK && strings.Contains(follower.Sidecar.Logs(), `"event":"walletd_locked"`),
			fmt.Errorf("readyz %d %v", code, body["reason"])
	}); err != nil {
		t.Fatalf("the restarted walletd was not unlocked again: %v", err)
	}

	next, _ := crashLeader(t, c, leader, h.acked)
	h.generate(t, ctx, next, 5)
	waitReplicated(t, c, next)

	// A wrong passphrase: walletd stays locked, the pod unready with
	// reason walletd_locked.
	var other *testenv.WalletPod
	for _, p := range c.Pods {
		if p != leader && p != next {
			other = p
		}
	}
	other.Sidecar.Stop(10 * time.Second)
	if err := os.WriteFile(other.PassphraseFile(), []byte("not the passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	seen.add("not the passphrase")
	if err := other.Walletd.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := other.StartSidecar(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		code, body, err := other.Get("/readyz")
		if err != nil {
			return false, err
		}
		return code == http.StatusServiceUnavailable && body["reason"] == "walletdLock: "+walletd.ReasonLocked &&
			strings.Contains(other.Sidecar.Logs(), `"event":"walletd_unlock_failed"`), fmt.Errorf("readyz %d %v", code, body)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct(other).WalletBackup(ctx); rpcCode(err) != walletd.CodeLocked {
		t.Fatalf("walletd with a wrong passphrase answered wallet-backup: %v", err)
	}
	seen.checkNoLeaks(t, c)
	for _, p := range c.Pods {
		seen.check(t, p.Name+" walletd output", p.Walletd.Logs())
	}
}
