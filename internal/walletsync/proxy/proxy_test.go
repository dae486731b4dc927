package proxy

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/FactomProject/factom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestReadsNeedAReplicaInSync(t *testing.T) {
	var synced atomic.Bool
	tp := newTestProxy(t, Options{
		Gate:     followerGate("factom-wallet-0"),
		ReadGate: readGateFunc(synced.Load),
	})
	for _, method := range []string{"properties", "all-addresses"} {
		r := call(t, tp.URL, method, nil)
		if r.code() != CodeNotInSync || !strings.Contains(r.Error.Message, "not in sync") {
			t.Errorf("%s out of sync: got %s, want error %d", method, r.Raw, CodeNotInSync)
		}
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Fatalf("walletd called %d times while out of sync", n)
	}

	synced.Store(true)
	props := mustResult[map[string]any](t, call(t, tp.URL, "properties", nil))
	if props["walletversion"] == nil {
		t.Errorf("properties: %v, want walletd's versions", props)
	}
	mustResult[map[string]any](t, call(t, tp.URL, "all-addresses", nil))
}

func TestMalformedRequestsGetClearErrorsAndNeverReachWalletd(t *testing.T) {
	tp := newTestProxy(t, Options{MaxBodyBytes: 4096})
	big := `{"jsonrpc":"2.0","id":1,"method":"properties","params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`
	cases := []struct {
		name, method, path, contentType, body string
		status, code                          int
		id                                    string
		message                               string
	}{
		{"not JSON", "POST", "/v2", "application/json", `{"jsonrpc":"2.0",`, 200, CodeParseError, "null", "not valid JSON"},
		{"empty body", "POST", "/v2", "application/json", ``, 200, CodeParseError, "null", "not valid JSON"},
		{"trailing garbage", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":1,"method":"properties"} x`, 200, CodeParseError, "null", "not valid JSON"},
		{"batch array", "POST", "/v2", "application/json", `[{"jsonrpc":"2.0","id":1,"method":"properties"}]`, 200, CodeInvalidRequest, "null", "batch"},
		{"a string", "POST", "/v2", "application/json", `"properties"`, 200, CodeInvalidRequest, "null", "request object"},
		{"missing method", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":7}`, 200, CodeInvalidRequest, "7", "method is missing"},
		{"numeric method", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":"a","method":5}`, 200, CodeInvalidRequest, `"a"`, "method must be a string"},
		{"null method", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":8,"method":null}`, 200, CodeInvalidRequest, "8", "method must be a string"},
		{"empty method", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":8,"method":""}`, 200, CodeInvalidRequest, "8", "non-empty"},
		{"capitalised key", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":8,"Method":"generate-ec-address"}`, 200, CodeInvalidRequest, "8", "method is missing"},
		{"wrong version", "POST", "/v2", "application/json", `{"jsonrpc":"1.0","id":9,"method":"properties"}`, 200, CodeInvalidRequest, "9", `jsonrpc must be "2.0"`},
		{"object id", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":{},"method":"properties"}`, 200, CodeInvalidRequest, "null", "id must be"},
		{"string params", "POST", "/v2", "application/json", `{"jsonrpc":"2.0","id":3,"method":"address","params":"EC..."}`, 200, CodeInvalidRequest, "3", "params must be"},
		{"form content", "POST", "/v2", "application/x-www-form-urlencoded", `method=properties`, 415, CodeInvalidRequest, "null", "application/json or text/plain"},
		{"multipart content", "POST", "/v2", "multipart/form-data; boundary=x", `--x--`, 415, CodeInvalidRequest, "null", "application/json or text/plain"},
		{"unparsable content type", "POST", "/v2", "text/", `{"jsonrpc":"2.0","id":1,"method":"properties"}`, 415, CodeInvalidRequest, "null", "unsupported content type"},
		{"oversized body", "POST", "/v2", "application/json", big, 413, CodeInvalidRequest, "null", "exceeds 4096 bytes"},
		{"GET /v2 without a body", "GET", "/v2", "", ``, 200, CodeParseError, "null", "not valid JSON"},
		{"HEAD /v2", "HEAD", "/v2", "application/json", `{"jsonrpc":"2.0","id":1,"method":"generate-ec-address"}`, 405, 0, "", ""},
		{"PUT /v2", "PUT", "/v2", "application/json", `{"jsonrpc":"2.0","id":1,"method":"properties"}`, 405, CodeInvalidRequest, "null", "use POST (or GET)"},
		{"other path", "POST", "/v1", "application/json", `{"jsonrpc":"2.0","id":1,"method":"properties"}`, 404, CodeInvalidRequest, "null", "POST /v2"},
		{"root path", "GET", "/", "", ``, 404, CodeInvalidRequest, "null", "POST /v2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, tp.URL+tc.path, tc.contentType, tc.body, nil)
			if tc.method == http.MethodHead { // no body to read
				if r.Status != tc.status || r.Header.Get("Allow") != "GET, POST" {
					t.Fatalf("HEAD: HTTP %d, Allow %q", r.Status, r.Header.Get("Allow"))
				}
				return
			}
			if r.Status != tc.status || r.code() != tc.code {
				t.Fatalf("got HTTP %d %s, want HTTP %d code %d", r.Status, r.Raw, tc.status, tc.code)
			}
			if string(r.ID) != tc.id {
				t.Errorf("id %s, want %s", r.ID, tc.id)
			}
			if !strings.Contains(r.Error.Message, tc.message) {
				t.Errorf("message %q does not say %q", r.Error.Message, tc.message)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if r := do(t, "PUT", tp.URL+"/v2", "", "", nil); r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("405 without Allow: GET, POST")
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Errorf("walletd called %d times for malformed requests", n)
	}
	// The same proxy serves a well-formed request, also without a
	// Content-Type (the proxy sets the one walletd requires).
	r := do(t, "POST", tp.URL+"/v2", "", `{"jsonrpc":"2.0","id":"x","method":"properties"}`, nil)
	if r.Error != nil || string(r.ID) != `"x"` {
		t.Errorf("well-formed request: %s", r.Raw)
	}
}

func TestNoSecretReachesTheLog(t *testing.T) {
	var failCommit atomic.Bool
	commit := commitFunc(func(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
		if failCommit.Load() {
			return errInjected
		}
		return nil
	})
	tp := newTestProxy(t, Options{Committer: commit, AllowWalletBackup: true})

	secrets := []string{}
	ec := mustResult[address](t, call(t, tp.URL, "generate-ec-address", nil))
	fct := mustResult[address](t, call(t, tp.URL, "generate-factoid-address", nil))
	idk := mustResult[address](t, call(t, tp.URL, "generate-identity-key", nil))
	secrets = append(secrets, ec.Secret, fct.Secret, idk.Secret)

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	imported, err := factom.MakeECAddress(raw)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, imported.SecString())
	mustResult[map[string]any](t, call(t, tp.URL, "import-addresses", map[string]any{"addresses": []map[string]string{{"secret": imported.SecString()}}}))

	// A key sent as the method name (a client mix-up) is not logged either.
	if r := call(t, tp.URL, imported.SecString(), nil); r.code() != -32601 {
		t.Errorf("a key as method name: %s, want walletd's -32601", r.Raw)
	}

	failCommit.Store(true)
	failed := call(t, tp.URL, "generate-ec-address", nil)
	if failed.code() != CodeNotCommitted {
		t.Fatalf("injected commit failure: %s", failed.Raw)
	}
	failCommit.Store(false)
	passphrase := "correct horse battery staple"
	secrets = append(secrets, passphrase)
	call(t, tp.URL, "unlock-wallet", map[string]any{"passphrase": passphrase, "timeout": 10})
	call(t, tp.URL, "sign-data", map[string]string{"signer": ec.Public, "data": "aGVsbG8="})

	backup := mustResult[struct {
		Seed      string    `json:"wallet-seed"`
		Addresses []address `json:"addresses"`
		Keys      []address `json:"identity-keys"`
	}](t, call(t, tp.URL, "wallet-backup", nil))
	if backup.Seed == "" || len(backup.Addresses) == 0 {
		t.Fatalf("wallet-backup returned no seed or addresses")
	}
	secrets = append(secrets, backup.Seed)
	for _, a := range append(backup.Addresses, backup.Keys...) {
		secrets = append(secrets, a.Secret)
	}

	lines := tp.Logs.Lines()
	if len(lines) < 8 {
		t.Fatalf("%d log lines, want one per request", len(lines))
	}
	for _, line := range lines {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if fields["event"] != "proxy_request" {
			t.Errorf("log line without event proxy_request: %s", line)
		}
		for _, key := range []string{"params", "result", "body"} {
			if _, ok := fields[key]; ok {
				t.Errorf("log line has %q: %s", key, line)
			}
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log line holds a secret (%d chars): %s", len(s), line)
			}
		}
	}
	if !strings.Contains(strings.Join(lines, "\n"), `"outcome":"commit_failed"`) {
		t.Errorf("the failed commit was not logged")
	}
}

func TestMetricsCountRequestsByClassAndOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	var synced atomic.Bool
	tp := newTestProxy(t, Options{Registerer: reg, ReadGate: readGateFunc(synced.Load), Gate: followerGate("w-1")})
	call(t, tp.URL, "properties", nil)
	synced.Store(true)
	call(t, tp.URL, "properties", nil)
	call(t, tp.URL, "generate-ec-address", nil)
	do(t, "POST", tp.URL+"/v2", "application/json", "[]", nil)

	m := tp.Proxy.metrics
	for _, c := range []struct {
		class, outcome string
		want           float64
	}{
		{"read", "not_in_sync", 1},
		{"read", "ok", 1},
		{"keystore", "not_leader", 1},
		{"none", "bad_request", 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.class, c.outcome)); got != c.want {
			t.Errorf("requests{class=%s,outcome=%s} = %v, want %v", c.class, c.outcome, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in flight %v after all requests ended", got)
	}
	if n, err := testutil.GatherAndCount(reg, "factom_sidecar_proxy_request_duration_seconds"); err != nil || n != 3 {
		t.Errorf("duration series: %d (%v), want 3 classes", n, err)
	}
	if _, err := New(Options{WalletdURL: walletdURL, Gate: leaderGate(1), Committer: commitFunc(commitNothing), ReadGate: readGateFunc(inSync), Registerer: reg}); err == nil {
		t.Errorf("registering the metrics twice did not fail")
	}
}

func TestNewChecksOptions(t *testing.T) {
	base := Options{WalletdURL: "http://127.0.0.1:8089", Gate: leaderGate(1), Committer: commitFunc(commitNothing), ReadGate: readGateFunc(inSync)}
	for name, mutate := range map[string]func(*Options){
		"no scheme":    func(o *Options) { o.WalletdURL = "127.0.0.1:8089" },
		"ftp":          func(o *Options) { o.WalletdURL = "ftp://127.0.0.1:8089" },
		"no gate":      func(o *Options) { o.Gate = nil },
		"no committer": func(o *Options) { o.Committer = nil },
		"no read gate": func(o *Options) { o.ReadGate = nil },
	} {
		o := base
		mutate(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	for in, want := range map[string]string{
		"http://127.0.0.1:8089":     "http://127.0.0.1:8089/v2",
		"http://127.0.0.1:8089/":    "http://127.0.0.1:8089/v2",
		"http://127.0.0.1:8089/v2":  "http://127.0.0.1:8089/v2",
		"https://walletd:8089/base": "https://walletd:8089/base/v2",
	} {
		o := base
		o.WalletdURL = in
		p, err := New(o)
		if err != nil || p.target != want {
			t.Errorf("WalletdURL %q: target %q (%v), want %q", in, p.target, err, want)
		}
	}
}

// TestMain's walletd must still be running: a crash (walletd is not safe
// under parallel keystore writes) would show here.
func TestWalletdSurvivedTheSuite(t *testing.T) {
	mustResult[map[string]any](t, call(t, walletdURL, "properties", nil))
}
