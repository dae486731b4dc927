package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// TestWalletdWithTLSAndAuth runs walletd as a locked-down deployment would:
// -wallettls with a CA-signed certificate and -walletuser/-walletpassword.
// The sidecars reach it over https, trusting the CA (--walletd-ca-file),
// with its credentials: health, replication, the proxy's writes and a
// failover all work. A client that does not trust the CA is refused by
// walletd's TLS, and plain HTTP reaches no walletd method.
func TestWalletdWithTLSAndAuth(t *testing.T) {
	ca, err := testenv.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, testenv.ClusterOptions{WalletdTLS: ca, WalletdUser: "sidecar", WalletdPassword: "walletd-rpc-pw-3e9b"})
	var seen secrets
	seen.add("walletd-rpc-pw-3e9b")
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)
	h := &handedOut{seen: &seen}
	h.generate(t, ctx, leader, 4)
	waitReplicated(t, c, leader)
	seen.addBackup(t, direct(leader))
	for _, p := range c.Pods {
		code, body, err := p.Get("/readyz")
		if err != nil || code != 200 {
			t.Fatalf("%s not ready over walletd TLS: %d %v %v", p.Name, code, body, err)
		}
	}

	untrusted := walletd.New(jsonrpc.New(leader.Walletd.URL(), jsonrpc.Options{Timeout: 5 * time.Second, User: "sidecar", Password: "walletd-rpc-pw-3e9b"}))
	if _, err := untrusted.Properties(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the CA reached walletd: %v", err)
	}
	plain := walletd.New(jsonrpc.New(strings.Replace(leader.Walletd.URL(), "https://", "http://", 1), jsonrpc.Options{Timeout: 5 * time.Second, User: "sidecar", Password: "walletd-rpc-pw-3e9b"}))
	if _, err := plain.Properties(context.Background()); err == nil {
		t.Fatal("plain HTTP reached walletd -wallettls")
	}

	next, _ := crashLeader(t, c, leader, h.acked)
	h.generate(t, ctx, next, 4)
	waitReplicated(t, c, next)
	seen.checkNoLeaks(t, c)
}
