package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/testenv"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
)

// proxyUsers are the proxy's users in the secured cluster.
var proxyUsers = map[string]struct{ password, role string }{
	"app":      {"app-proxy-pw-7f3a", "read"},
	"operator": {"operator-proxy-pw-91c2", "write"},
	"backup":   {"backup-proxy-pw-04de", "admin"},
}

func writeProxyUsers(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	for name, u := range proxyUsers {
		h, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s:%s\n", name, h, u.role)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// asUser talks to a pod's proxy as one of proxyUsers.
func asUser(p *testenv.WalletPod, user string) *walletd.Client {
	return walletd.New(jsonrpc.New(p.ProxyURL(), jsonrpc.Options{Timeout: 30 * time.Second, User: user, Password: proxyUsers[user].password}))
}

func rpcCode(err error) int {
	var rerr *walletd.Error
	if errors.As(err, &rerr) {
		return rerr.Code
	}
	return 0
}

// walletd with its RPC auth on, the proxy with its own users: the
// sidecars log in to walletd with walletd's credentials, replicate, fail
// over, and refuse each client what its role does not allow.
func TestSecuredProxyReplicatesAndFailsOverWithWalletdAuth(t *testing.T) {
	authFile := filepath.Join(t.TempDir(), "users")
	writeProxyUsers(t, authFile)
	const walletdUser, walletdPassword = "walletd-rpc", "walletd-rpc-pw-5be1"
	c := newCluster(t, testenv.ClusterOptions{
		WalletdUser: walletdUser, WalletdPassword: walletdPassword,
		ExtraArgs: []string{"--proxy-auth-file", authFile, "--allow-wallet-backup"},
	})
	var seen secrets
	seen.add(walletdPassword)
	for _, u := range proxyUsers {
		seen.add(walletd.Secret(u.password))
	}
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 5*time.Minute)

	// walletd itself wants its credentials: the sidecar could not have
	// replicated without sending them.
	bare := walletd.New(jsonrpc.New(leader.Walletd.URL(), jsonrpc.Options{Timeout: 10 * time.Second}))
	if _, err := bare.Properties(ctx); err == nil {
		t.Fatal("walletd answered without its credentials")
	}
	resp, err := http.Post(leader.ProxyURL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"properties"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("the proxy without credentials: HTTP %d, want 401 with a challenge", resp.StatusCode)
	}

	before := publicKeys(t, direct(leader))
	if _, err := asUser(leader, "app").GenerateECAddress(ctx); rpcCode(err) != proxy.CodeForbidden {
		t.Fatalf("a read user's generate-ec-address: %v, want forbidden", err)
	}
	if _, err := asUser(leader, "app").AllAddresses(ctx); rpcCode(err) != proxy.CodeForbidden {
		t.Fatalf("a read user's all-addresses: %v, want forbidden", err)
	}
	if _, err := asUser(leader, "operator").WalletBackup(ctx); rpcCode(err) != proxy.CodeForbidden {
		t.Fatalf("a write user's wallet-backup: %v, want forbidden", err)
	}
	if got := publicKeys(t, direct(leader)); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Fatalf("refused calls changed walletd's keystore: %d keys, had %d", len(got), len(before))
	}

	op := asUser(leader, "operator")
	var acked []string
	for range 3 {
		k, err := op.GenerateECAddress(ctx)
		if err != nil {
			t.Fatalf("operator's generate-ec-address: %v", err)
		}
		seen.addKeys(k)
		acked = append(acked, k.Public)
	}
	waitReplicated(t, c, leader)
	seen.addBackup(t, asUser(leader, "backup"))

	next, held := crashLeader(t, c, leader, acked)
	k, err := asUser(next, "operator").GenerateFactoidAddress(ctx)
	if err != nil {
		t.Fatalf("operator's write on the new leader: %v", err)
	}
	seen.addKeys(k)
	if contains(held, k.Public) {
		t.Fatalf("the new leader handed out %s again", k.Public)
	}
	seen.checkNoLeaks(t, c)
}
