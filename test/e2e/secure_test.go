package e2e

import (
	"crypto/tls"
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
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
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

// securedProxy reaches the proxies over TLS, trusting the test's CA.
type securedProxy struct{ transport *http.Transport }

func (s securedProxy) url(p *testenv.WalletPod) string {
	return "https://" + strings.TrimPrefix(p.ProxyURL(), "http://")
}

// asUser talks to a pod's proxy as one of proxyUsers.
func (s securedProxy) asUser(p *testenv.WalletPod, user string) *walletd.Client {
	return walletd.New(jsonrpc.New(s.url(p), jsonrpc.Options{Timeout: 30 * time.Second, User: user, Password: proxyUsers[user].password, Transport: s.transport}))
}

// serverCert writes a CA-signed certificate for 127.0.0.1 into dir.
func serverCert(t *testing.T, dir string) (ca *testenv.CA, certFile, keyFile string) {
	t.Helper()
	ca, err := testenv.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(2, false)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca, certFile, keyFile
}

func rpcCode(err error) int {
	var rerr *walletd.Error
	if errors.As(err, &rerr) {
		return rerr.Code
	}
	return 0
}

// walletd with its RPC auth on, the proxy with its own users and TLS: the
// sidecars log in to walletd with walletd's credentials, replicate, fail
// over, and refuse each client what its role does not allow.
func TestSecuredProxyReplicatesAndFailsOverWithWalletdAuth(t *testing.T) {
	dir := t.TempDir()
	authFile := filepath.Join(dir, "users")
	writeProxyUsers(t, authFile)
	ca, certFile, keyFile := serverCert(t, dir)
	sp := securedProxy{transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	const walletdUser, walletdPassword = "walletd-rpc", "walletd-rpc-pw-5be1"
	c := newCluster(t, testenv.ClusterOptions{
		WalletdUser: walletdUser, WalletdPassword: walletdPassword,
		ExtraArgs: []string{"--proxy-auth-file", authFile, "--allow-wallet-backup",
			"--proxy-tls-cert-file", certFile, "--proxy-tls-key-file", keyFile},
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
	// Go's TLS server answers a plain-HTTP request with a bare 400.
	if plain, err := http.Post(leader.ProxyURL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"properties"}`)); err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS proxy: HTTP %d, want 400", plain.StatusCode)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: sp.transport}
	resp, err := client.Post(sp.url(leader), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"properties"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("the proxy without credentials: HTTP %d, want 401 with a challenge", resp.StatusCode)
	}

	before := publicKeys(t, direct(leader))
	if _, err := sp.asUser(leader, "app").GenerateECAddress(ctx); rpcCode(err) != proxy.CodeForbidden {
		t.Fatalf("a read user's generate-ec-address: %v, want forbidden", err)
	}
	if _, err := sp.asUser(leader, "app").AllAddresses(ctx); rpcCode(err) != proxy.CodeForbidden {
		t.Fatalf("a read user's all-addresses: %v, want forbidden", err)
	}
	if _, err := sp.asUser(leader, "operator").WalletBackup(ctx); rpcCode(err) != proxy.CodeForbidden {
		t.Fatalf("a write user's wallet-backup: %v, want forbidden", err)
	}
	if got := publicKeys(t, direct(leader)); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Fatalf("refused calls changed walletd's keystore: %d keys, had %d", len(got), len(before))
	}

	op := sp.asUser(leader, "operator")
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
	seen.addBackup(t, sp.asUser(leader, "backup"))

	next, held := crashLeader(t, c, leader, acked)
	k, err := sp.asUser(next, "operator").GenerateFactoidAddress(ctx)
	if err != nil {
		t.Fatalf("operator's write on the new leader: %v", err)
	}
	seen.addKeys(k)
	if contains(held, k.Public) {
		t.Fatalf("the new leader handed out %s again", k.Public)
	}
	seen.checkNoLeaks(t, c)
}
