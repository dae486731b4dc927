package proxy

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// composeEntryParams asks walletd to compose an entry on a made-up chain
// with ecpub. force skips walletd's factomd look-ups (balance, chain), which
// the tests' factomd does not answer.
func composeEntryParams(ecpub, content string) map[string]any {
	return map[string]any{
		"entry": map[string]any{
			"chainid": strings.Repeat("ab", 32),
			"extids":  []string{hex.EncodeToString([]byte("audit"))},
			"content": hex.EncodeToString([]byte(content)),
		},
		"ecpub": ecpub,
		"force": true,
	}
}

// composed is compose-entry's result: the two factomd calls to make.
type composed struct {
	Commit struct {
		Method string `json:"method"`
		Params struct {
			Message string `json:"message"`
		} `json:"params"`
	} `json:"commit"`
	Reveal struct {
		Method string `json:"method"`
		Params struct {
			Entry string `json:"entry"`
		} `json:"params"`
	} `json:"reveal"`
}

func mustCompose(t *testing.T, base, ecpub string) {
	t.Helper()
	c := mustResult[composed](t, call(t, base, "compose-entry", composeEntryParams(ecpub, "entry through "+base)))
	if c.Commit.Method != "commit-entry" || c.Commit.Params.Message == "" || c.Reveal.Method != "reveal-entry" || c.Reveal.Params.Entry == "" {
		t.Fatalf("compose-entry result %+v, want a commit-entry and a reveal-entry", c)
	}
}

func TestComposeEntryOnAFollowerWhileTheLeadersWalletdIsBusy(t *testing.T) {
	dir := t.TempDir()
	leaderProc, leaderURL, err := startWalletd(dir, "leader")
	if err != nil {
		t.Fatal(err)
	}
	defer leaderProc.Stop(5 * time.Second)
	followerProc, followerURL, err := startWalletd(dir, "follower")
	if err != nil {
		t.Fatal(err)
	}
	defer followerProc.Stop(5 * time.Second)
	// The follower holds the leader's entry-credit key, as replication leaves it.
	ec := mustResult[address](t, call(t, leaderURL, "generate-ec-address", nil))
	mustResult[map[string]any](t, call(t, followerURL, "import-addresses", map[string]any{"addresses": []map[string]string{{"secret": ec.Secret}}}))

	u, _ := url.Parse(leaderURL)
	slow, err := testenv.StartTCPProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	leader := newTestProxy(t, Options{WalletdURL: "http://" + slow.Addr()})
	follower := newTestProxy(t, Options{WalletdURL: followerURL, Gate: followerGate("leader")})

	// A keystore write on the leader that walletd does not answer: it holds
	// the leader's write lock until the hold is released.
	slow.HoldRequests()
	write := make(chan rpcResponse, 1)
	go func() { write <- call(t, leader.URL, "generate-ec-address", nil) }()
	if err := testenv.Eventually(10*time.Second, 5*time.Millisecond, func() (bool, error) { return slow.RequestsWaiting() > 0, nil }); err != nil {
		t.Fatalf("the write never reached the leader's walletd: %v", err)
	}

	for range 3 {
		mustCompose(t, follower.URL, ec.Public)
	}
	select {
	case r := <-write:
		t.Fatalf("the leader's write ended while held: %s", r.Raw)
	default:
	}
	slow.ReleaseRequests()
	if r := <-write; r.Error != nil {
		t.Fatalf("the held write after release: %s", r.Raw)
	}
}

func TestComposeOnTheLeaderDoesNotQueueBehindAKeystoreWrite(t *testing.T) {
	commit, entered, release := heldCommit()
	tp := newTestProxy(t, Options{Committer: commit, CommitTimeout: 30 * time.Second})
	ec := mustResult[address](t, call(t, walletdURL, "generate-ec-address", nil))

	write := make(chan rpcResponse, 1)
	go func() { write <- call(t, tp.URL, "generate-factoid-address", nil) }()
	select { // the write holds the lock, in its commit to the replicated store
	case <-entered:
	case r := <-write:
		t.Fatalf("the write ended before its commit: %s", r.Raw)
	}
	mustCompose(t, tp.URL, ec.Public)
	select {
	case r := <-write:
		t.Fatalf("the write ended while its commit was held: %s", r.Raw)
	default:
	}
	close(release)
	if r := <-write; r.Error != nil {
		t.Fatalf("the write after its commit: %s", r.Raw)
	}
	// Composing is counted as its own class, outside the write lock.
	if !strings.Contains(strings.Join(tp.Logs.Lines(), "\n"), `"method":"compose-entry","class":"compose","outcome":"ok"`) {
		t.Errorf("no compose-class log line for compose-entry:\n%s", strings.Join(tp.Logs.Lines(), "\n"))
	}
}

func TestContinuingATransactionAfterAFailoverSaysItMustBeRebuilt(t *testing.T) {
	old := newTestProxy(t, Options{})
	mustResult[map[string]any](t, call(t, old.URL, "new-transaction", map[string]string{"tx-name": "buy-ec"}))
	defer call(t, old.URL, "delete-transaction", map[string]string{"tx-name": "buy-ec"})
	fct := mustResult[address](t, call(t, walletdURL, "generate-factoid-address", nil))

	// The new leader's walletd never saw the transaction.
	proc, newURL, err := startWalletd(t.TempDir(), "new-leader")
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(5 * time.Second)
	next := newTestProxy(t, Options{WalletdURL: newURL, Gate: leaderGate(2)})
	for _, m := range []string{"add-input", "add-ec-output", "sign-transaction", "compose-transaction", "delete-transaction"} {
		r := call(t, next.URL, m, map[string]any{"tx-name": "buy-ec", "address": fct.Public, "amount": 1})
		if r.code() != CodeTransactionLost || !strings.Contains(r.Error.Message, "rebuild it from new-transaction") ||
			!strings.Contains(r.Error.Message, "failover") {
			t.Errorf("%s on a transaction the new leader lacks: %s, want error %d saying to rebuild it", m, r.Raw, CodeTransactionLost)
		}
	}
	// Other walletd errors on transactions pass through as walletd gave them.
	mustResult[map[string]any](t, call(t, next.URL, "new-transaction", map[string]string{"tx-name": "again"}))
	r := call(t, next.URL, "add-input", map[string]any{"tx-name": "again", "address": fct.Public, "amount": 1})
	direct := call(t, newURL, "add-input", map[string]any{"tx-name": "again", "address": fct.Public, "amount": 1})
	if r.Error == nil || r.code() == CodeTransactionLost || r.Raw != direct.Raw {
		t.Errorf("add-input of an address the wallet lacks: proxy %s, walletd %s", r.Raw, direct.Raw)
	}
}

func TestGETAndTextPlainAreAnsweredLikeWalletd(t *testing.T) {
	tp := newTestProxy(t, Options{MaxBodyBytes: 4096})
	ec := mustResult[address](t, call(t, walletdURL, "generate-ec-address", nil))
	for _, tc := range []struct {
		name, method, contentType, body string
	}{
		{"GET with the request in the body", "GET", "application/json", `{"jsonrpc":"2.0","id":1,"method":"properties"}`},
		{"GET without a content type", "GET", "", `{"jsonrpc":"2.0","id":2,"method":"address","params":{"address":"` + ec.Public + `"}}`},
		{"POST text/plain", "POST", "text/plain", `{"jsonrpc":"2.0","id":"t","method":"properties"}`},
		{"POST text/plain with a charset", "POST", "text/plain; charset=utf-8", `{"jsonrpc":"2.0","id":3,"method":"all-addresses"}`},
		{"GET text/plain with a walletd error", "GET", "text/plain", `{"jsonrpc":"2.0","id":4,"method":"address","params":{"address":"EC1nothere"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			direct := do(t, tc.method, walletdURL+"/v2", tc.contentType, tc.body, nil)
			proxied := do(t, tc.method, tp.URL+"/v2", tc.contentType, tc.body, nil)
			if direct.Status != http.StatusOK || proxied.Status != direct.Status || proxied.Raw != direct.Raw {
				t.Fatalf("walletd answered HTTP %d %s; the proxy HTTP %d %s", direct.Status, direct.Raw, proxied.Status, proxied.Raw)
			}
		})
	}
	// The same bounds as POST: a body over the limit is refused unread.
	big := `{"jsonrpc":"2.0","id":1,"method":"properties","params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`
	for _, m := range []string{"GET", "POST"} {
		if r := do(t, m, tp.URL+"/v2", "text/plain", big, nil); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s text/plain over the limit: HTTP %d %s, want 413", m, r.Status, r.Raw)
		}
	}
	// A form body is what walletd cannot read either (its web server
	// consumes it as a form): both refuse it as an invalid request.
	direct := do(t, "POST", walletdURL+"/v2", "application/x-www-form-urlencoded", `{"jsonrpc":"2.0","id":1,"method":"properties"}`, nil)
	proxied := do(t, "POST", tp.URL+"/v2", "application/x-www-form-urlencoded", `{"jsonrpc":"2.0","id":1,"method":"properties"}`, nil)
	if direct.code() != CodeInvalidRequest || proxied.code() != CodeInvalidRequest {
		t.Errorf("form body: walletd %s, proxy %s; want both -32600", direct.Raw, proxied.Raw)
	}
}
