package proxy

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FactomProject/factom"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Test users; each password is its user name with "-pw".
var testUsers = []struct{ name, role string }{{"reader", "read"}, {"writer", "write"}, {"boss", "admin"}}

func password(user string) string { return user + "-pw" }

func authLine(t testing.TB, user, role string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password(user)), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%s:%s\n", user, h, role)
}

func writeAuthFile(t testing.TB, path string, users ...[2]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# proxy users\n")
	for _, u := range users {
		b.WriteString(authLine(t, u[0], u[1]))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newAuthenticator(t testing.TB, path string, opts AuthOptions, log zerolog.Logger) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(path, opts, log)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	return a
}

// newAuthProxy is a leader proxy in front of the shared walletd with the
// three test users.
func newAuthProxy(t *testing.T, opts Options) *testProxy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	var users [][2]string
	for _, u := range testUsers {
		users = append(users, [2]string{u.name, u.role})
	}
	writeAuthFile(t, path, users...)
	opts.Auth = newAuthenticator(t, path, AuthOptions{FailureBurst: 1000}, zerolog.Nop())
	return newTestProxy(t, opts)
}

func basic(user, pass string) http.Header {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header
}

func as(user string) http.Header { return basic(user, password(user)) }

func TestProxyWithoutCredentialsAnswers401(t *testing.T) {
	tp := newAuthProxy(t, Options{})
	for name, h := range map[string]http.Header{
		"none":           nil,
		"wrong password": basic("writer", "nope"),
		"unknown user":   basic("mallory", "writer-pw"),
		"two headers":    {"Authorization": {as("writer").Get("Authorization"), as("reader").Get("Authorization")}},
		"bearer":         {"Authorization": {"Bearer abc"}},
	} {
		r := callWith(t, tp.URL, "properties", nil, h)
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: HTTP %d WWW-Authenticate %q, want 401 with a Basic challenge", name, r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Fatalf("walletd called %d times for unauthenticated requests", n)
	}
	if r := callWith(t, tp.URL, "properties", nil, as("reader")); r.Error != nil {
		t.Fatalf("reader's properties: %s", r.Raw)
	}
}

func TestProxyRolesGateMethodsBeforeWalletd(t *testing.T) {
	tp := newAuthProxy(t, Options{AllowWalletBackup: true})
	before := mustResult[struct {
		Addresses []address `json:"addresses"`
	}](t, callWith(t, walletdURL, "all-addresses", nil, nil))

	for _, c := range []struct{ user, method string }{
		{"reader", "generate-ec-address"},
		{"reader", "import-addresses"},
		{"reader", "all-addresses"}, // returns private keys
		{"reader", "address"},
		{"reader", "new-transaction"},
		{"reader", "sign-data"},
		{"reader", "wallet-backup"},
		{"writer", "wallet-backup"},
	} {
		r := callWith(t, tp.URL, c.method, nil, as(c.user))
		if r.Status != http.StatusForbidden || r.code() != CodeForbidden {
			t.Errorf("%s calling %s: HTTP %d %s, want 403", c.user, c.method, r.Status, r.Raw)
		}
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Fatalf("walletd called %d times for forbidden requests", n)
	}
	after := mustResult[struct {
		Addresses []address `json:"addresses"`
	}](t, callWith(t, walletdURL, "all-addresses", nil, nil))
	if len(after.Addresses) != len(before.Addresses) {
		t.Fatalf("walletd holds %d addresses after refused writes, had %d", len(after.Addresses), len(before.Addresses))
	}

	mustResult[map[string]any](t, callWith(t, tp.URL, "properties", nil, as("reader")))
	gen := mustResult[address](t, callWith(t, tp.URL, "generate-ec-address", nil, as("writer")))
	mustResult[map[string]any](t, callWith(t, tp.URL, "all-addresses", nil, as("writer")))
	backup := mustResult[struct {
		Seed string `json:"wallet-seed"`
	}](t, callWith(t, tp.URL, "wallet-backup", nil, as("boss")))
	if backup.Seed == "" || gen.Secret == "" {
		t.Fatalf("admin's wallet-backup or writer's address came back empty")
	}
}

func TestWalletBackupIsOffByDefaultAndLeaderOnly(t *testing.T) {
	tp := newAuthProxy(t, Options{})
	r := callWith(t, tp.URL, "wallet-backup", nil, as("boss"))
	if r.Status != http.StatusForbidden || !strings.Contains(r.Error.Message, "--allow-wallet-backup") {
		t.Fatalf("wallet-backup with --allow-wallet-backup off: HTTP %d %s, want 403 naming the flag", r.Status, r.Raw)
	}
	// Without users as well.
	open := newTestProxy(t, Options{})
	if r := call(t, open.URL, "wallet-backup", nil); r.Status != http.StatusForbidden {
		t.Fatalf("wallet-backup on a proxy without users and the flag off: HTTP %d %s", r.Status, r.Raw)
	}
	follower := newAuthProxy(t, Options{AllowWalletBackup: true, Gate: followerGate("factom-wallet-0")})
	if r := callWith(t, follower.URL, "wallet-backup", nil, as("boss")); r.code() != CodeNotLeader {
		t.Fatalf("wallet-backup on a follower: %s, want not-the-leader", r.Raw)
	}
	if n := tp.Upstream.n.Load() + open.Upstream.n.Load() + follower.Upstream.n.Load(); n != 0 {
		t.Fatalf("walletd called %d times for refused wallet-backups", n)
	}
}

func TestFactomLibraryThroughTheAuthProxy(t *testing.T) {
	tp := newAuthProxy(t, Options{})
	factom.SetWalletServer(strings.TrimPrefix(tp.URL, "http://"))
	factom.SetWalletTimeout(10 * time.Second)
	t.Cleanup(func() { factom.SetWalletRpcConfig("", "") })

	factom.SetWalletRpcConfig("writer", "wrong")
	if _, err := factom.GenerateECAddress(); err == nil {
		t.Fatal("the factom library generated an address with a wrong password")
	}
	factom.SetWalletRpcConfig("writer", password("writer"))
	ec, err := factom.GenerateECAddress()
	if err != nil {
		t.Fatalf("factom.GenerateECAddress through the proxy: %v", err)
	}
	if !strings.HasPrefix(ec.String(), "EC") {
		t.Fatalf("generated %q, want an EC address", ec.String())
	}
}

// The file is swapped the way the kubelet updates a mounted Secret: a new
// directory and a renamed symlink.
func TestRotatedAuthFileTakesEffectWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	swap := func(name string, users ...[2]string) {
		data := filepath.Join(dir, name)
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		writeAuthFile(t, filepath.Join(data, "users"), users...)
		if err := os.Symlink(name, filepath.Join(dir, "..tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	swap("v1", [2]string{"alice", "write"})
	if err := os.Symlink("..data/users", filepath.Join(dir, "users")); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	a := newAuthenticator(t, filepath.Join(dir, "users"), AuthOptions{PollInterval: 20 * time.Millisecond, FailureBurst: 1000}, zerolog.New(logs))
	tp := newTestProxy(t, Options{Auth: a})
	go a.Run(t.Context())

	mustResult[map[string]any](t, callWith(t, tp.URL, "properties", nil, as("alice")))
	swap("v2", [2]string{"bob", "read"})
	err := testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		return callWith(t, tp.URL, "properties", nil, as("bob")).Status == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("the rotated user was not let in: %v", err)
	}
	if r := callWith(t, tp.URL, "properties", nil, as("alice")); r.Status != http.StatusUnauthorized {
		t.Fatalf("a user removed from the file: HTTP %d, want 401", r.Status)
	}

	// A bad file keeps the users in force and is logged.
	if err := os.Mkdir(filepath.Join(dir, "v3"), 0o700); err != nil {
		t.Fatal(err)
	}
	bad := "carol:not-a-hash:" + password("carol") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "v3", "users"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("v3", filepath.Join(dir, "..tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	err = testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		return strings.Contains(strings.Join(logs.Lines(), "\n"), "auth_reload_failed"), nil
	})
	if err != nil {
		t.Fatalf("a bad auth file was not logged: %v", err)
	}
	if r := callWith(t, tp.URL, "properties", nil, as("bob")); r.Status != http.StatusOK {
		t.Fatalf("after a bad reload the previous user got HTTP %d, want 200", r.Status)
	}
	for _, l := range logs.Lines() {
		if strings.Contains(l, password("carol")) || strings.Contains(l, "not-a-hash") {
			t.Fatalf("a log line holds the bad file's content: %s", l)
		}
	}
}

func TestFailedLoginsAreRateLimitedPerClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeAuthFile(t, path, [2]string{"writer", "write"})
	a := newAuthenticator(t, path, AuthOptions{FailuresPerSecond: 0.001, FailureBurst: 3}, zerolog.Nop())
	tp := newTestProxy(t, Options{Auth: a})
	// Asking without credentials guesses nothing and is not counted.
	for range 5 {
		if r := callWith(t, tp.URL, "properties", nil, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("without credentials: HTTP %d, want 401", r.Status)
		}
	}
	for i := range 3 {
		if r := callWith(t, tp.URL, "properties", nil, basic("writer", "guess")); r.Status != http.StatusUnauthorized {
			t.Fatalf("failed attempt %d: HTTP %d, want 401", i+1, r.Status)
		}
	}
	// Once over the limit even the right password waits: a guesser cannot
	// tell a hit from the refusal.
	r := callWith(t, tp.URL, "properties", nil, as("writer"))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after the burst of failures: HTTP %d, want 429 with Retry-After", r.Status)
	}
}

func TestAuthLogNamesTheUserNeverThePassword(t *testing.T) {
	tp := newAuthProxy(t, Options{})
	callWith(t, tp.URL, "properties", nil, as("reader"))
	callWith(t, tp.URL, "generate-ec-address", nil, as("reader"))
	callWith(t, tp.URL, "properties", nil, basic("writer", "a-wrong-password"))
	callWith(t, tp.URL, "properties", nil, basic("writer-pw", "writer")) // fields swapped
	var sawForbidden bool
	for _, l := range tp.Logs.Lines() {
		for _, u := range testUsers {
			if strings.Contains(l, password(u.name)) {
				t.Fatalf("a log line holds a password: %s", l)
			}
		}
		if strings.Contains(l, "a-wrong-password") {
			t.Fatalf("a log line holds a tried password: %s", l)
		}
		if strings.Contains(l, `"user":"reader"`) && strings.Contains(l, `"outcome":"forbidden"`) && strings.Contains(l, `"class":"keystore"`) {
			sawForbidden = true
		}
	}
	if !sawForbidden {
		t.Fatalf("no log line names the reader's refused keystore write:\n%s", strings.Join(tp.Logs.Lines(), "\n"))
	}
}

func TestBadAuthFileIsAnErrorNamingTheLine(t *testing.T) {
	for name, content := range map[string]string{
		"empty":          "",
		"two fields":     "alice:$2y$05$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234\n",
		"not bcrypt":     "alice:{SHA}abc:read\n",
		"unknown role":   authLine(t, "alice", "root"),
		"duplicate user": authLine(t, "alice", "read") + authLine(t, "alice", "write"),
	} {
		_, err := ParseAuthFile([]byte(content))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if name != "empty" && !strings.Contains(err.Error(), "line ") {
			t.Errorf("%s: %v, want the line named", name, err)
		}
		if strings.Contains(err.Error(), "$2") {
			t.Errorf("%s: the error holds a hash: %v", name, err)
		}
	}
	users, err := ParseAuthFile([]byte("# comment\n\n" + authLine(t, "alice", "admin")))
	if err != nil || users["alice"].role != RoleAdmin {
		t.Fatalf("a good file: %v %v", users, err)
	}
}

// recordingTransport keeps the Authorization header of each request to
// walletd.
type recordingTransport struct {
	mu   sync.Mutex
	seen []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.seen = append(rt.seen, r.Header.Get("Authorization"))
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// walletd with its own RPC auth gets walletd's credentials from the proxy,
// never the proxy user's.
func TestProxyLogsInToWalletdWithWalletdsCredentials(t *testing.T) {
	proc, url, err := startWalletd(t.TempDir(), "with-auth", "-walletuser", "wd", "-walletpassword", "wd-secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Stop(5 * time.Second) })
	path := filepath.Join(t.TempDir(), "users")
	writeAuthFile(t, path, [2]string{"writer", "write"})
	rec := &recordingTransport{}
	opts := Options{WalletdURL: url, Auth: newAuthenticator(t, path, AuthOptions{}, zerolog.Nop()), WalletdUser: "wd", WalletdPassword: "wd-secret"}
	p := newTestProxy(t, opts)
	p.Proxy.client.HTTPClient.Transport = rec
	mustResult[address](t, callWith(t, p.URL, "generate-ec-address", nil, as("writer")))

	// Without walletd's credentials walletd refuses, whatever the client sent.
	opts.WalletdUser, opts.WalletdPassword = "", ""
	bare := newTestProxy(t, opts)
	if r := callWith(t, bare.URL, "properties", nil, as("writer")); r.Status != http.StatusUnauthorized {
		t.Fatalf("walletd without its credentials: HTTP %d %s, want walletd's 401", r.Status, r.Raw)
	}
	want := basic("wd", "wd-secret").Get("Authorization")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) != 1 || rec.seen[0] != want {
		t.Fatalf("walletd was sent %q, want walletd's own credentials once", rec.seen)
	}
}

// An unknown user is checked against a hash as slow as the file's slowest,
// so that a refusal takes as long whether or not the user exists.
func TestUnknownUsersAreCheckedAtTheFilesCost(t *testing.T) {
	fast, err := bcrypt.GenerateFromPassword([]byte("a"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := bcrypt.GenerateFromPassword([]byte("b"), bcrypt.MinCost+3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("fast:%s:read\nslow:%s:write\n", fast, slow)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAuthenticator(t, path, AuthOptions{}, zerolog.Nop())
	if c, err := bcrypt.Cost(a.table.Load().dummy); err != nil || c != bcrypt.MinCost+3 {
		t.Fatalf("the dummy hash has cost %d (%v), want the file's highest, %d", c, err, bcrypt.MinCost+3)
	}
}
