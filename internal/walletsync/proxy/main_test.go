package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
	"github.com/rs/zerolog"
)

// walletdURL is the real walletd every test in the package shares.
var walletdURL string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "proxy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	factomd := noFactomd()
	defer factomd.Close()
	factomdAddr = factomd.Listener.Addr().String()
	proc, url, err := startWalletd(dir, "shared")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer proc.Stop(5 * time.Second)
	walletdURL = url
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "walletd output:\n%s\n", proc.Logs())
	}
	return code
}

// factomdAddr is where the walletds look for factomd.
var factomdAddr string

// noFactomd answers every factomd call at once with an error. walletd asks
// factomd for the EC rate in new-transaction; a port this process owns
// cannot be taken over by another program's factomd (one stopped with
// SIGSTOP would hang walletd).
func noFactomd() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"no factomd in this test"}}`)
	}))
}

// startWalletd starts bin/test-walletd on a free port with a new wallet in
// dir and waits until it answers.
func startWalletd(dir, name string, extra ...string) (*testenv.Process, string, error) {
	bin, err := testenv.Binary("test-walletd")
	if err != nil {
		return nil, "", err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return nil, "", err
	}
	args := append([]string{
		"-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"-wallet", filepath.Join(dir, name+".db"),
		"-factomd", factomdAddr,
	}, extra...)
	proc, err := testenv.Start("walletd-"+name, bin, args, nil, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	err = testenv.Eventually(20*time.Second, 20*time.Millisecond, func() (bool, error) {
		if proc.Exited() {
			return false, fmt.Errorf("walletd exited: %s", proc.Logs())
		}
		resp, err := http.Post(url+"/v2", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"properties"}`))
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		// 401 counts: walletd with credentials is up too.
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized, nil
	})
	if err != nil {
		proc.Kill()
		return nil, "", fmt.Errorf("walletd %s: %w", name, err)
	}
	return proc, url, nil
}

// Function-typed fakes: each test injects the leader state and the
// commit's behaviour it needs.
type gateFunc func(ctx context.Context) (int64, func(), error)

func (f gateFunc) BeginWrite(ctx context.Context) (int64, func(), error) { return f(ctx) }

type commitFunc func(ctx context.Context, term int64, method string, params, result json.RawMessage) error

func (f commitFunc) Commit(ctx context.Context, term int64, method string, params, result json.RawMessage) error {
	return f(ctx, term, method, params, result)
}

func (commitFunc) Prepare(context.Context, int64) error { return nil }

func (commitFunc) Abort(context.Context, int64, string, bool) error { return nil }

type readGateFunc func() bool

func (f readGateFunc) InSync() bool { return f() }

func leaderGate(term int64) gateFunc {
	return func(context.Context) (int64, func(), error) { return term, func() {}, nil }
}

func followerGate(leader string) gateFunc {
	return func(context.Context) (int64, func(), error) {
		return 0, nil, fmt.Errorf("this replica is a follower; the leader is %s", leader)
	}
}

func commitNothing(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
	return nil
}

func inSync() bool { return true }

// heldCommit is a commit that closes entered once it runs and returns when
// release is closed: a keystore write holding the write lock.
func heldCommit() (commit commitFunc, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	commit = func(ctx context.Context, _ int64, _ string, _, _ json.RawMessage) error {
		close(entered)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return commit, entered, release
}

// countingTransport counts the requests that reach walletd.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// logBuffer collects the proxy's log lines; zerolog writes from many
// goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

type testProxy struct {
	URL      string
	Proxy    *Proxy
	Upstream *countingTransport
	Logs     *logBuffer
}

// newTestProxy serves a proxy in front of opts.WalletdURL (the shared
// walletd when empty) with leader/in-sync/no-op-commit defaults.
func newTestProxy(t *testing.T, opts Options) *testProxy {
	t.Helper()
	if opts.WalletdURL == "" {
		opts.WalletdURL = walletdURL
	}
	if opts.Gate == nil {
		opts.Gate = leaderGate(1)
	}
	if opts.Committer == nil {
		opts.Committer = commitFunc(commitNothing)
	}
	if opts.ReadGate == nil {
		opts.ReadGate = readGateFunc(inSync)
	}
	logs := &logBuffer{}
	opts.Log = zerolog.New(logs).Level(zerolog.DebugLevel)
	ct := &countingTransport{next: http.DefaultTransport}
	opts.Transport = ct
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &testProxy{URL: srv.URL, Proxy: p, Upstream: ct, Logs: logs}
}

// rpcResponse is a JSON-RPC response as the client sees it.
type rpcResponse struct {
	Status int
	Header http.Header
	Raw    string
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

func (r rpcResponse) code() int {
	if r.Error == nil {
		return 0
	}
	return r.Error.Code
}

// do sends one HTTP request and decodes the JSON-RPC answer (if any).
func do(t *testing.T, method, url, contentType, body string, header http.Header) rpcResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := rpcResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil && resp.StatusCode != http.StatusUnauthorized && method != http.MethodHead {
		t.Fatalf("%s %s: answer is not JSON (HTTP %d): %q", method, url, resp.StatusCode, raw)
	}
	return out
}

// call sends a JSON-RPC call to base/v2.
func call(t *testing.T, base, method string, params any) rpcResponse {
	t.Helper()
	return callWith(t, base, method, params, nil)
}

func callWith(t *testing.T, base, method string, params any, header http.Header) rpcResponse {
	t.Helper()
	req := map[string]any{"jsonrpc": "2.0", "id": 1, "method": method}
	if params != nil {
		req["params"] = params
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, http.MethodPost, base+"/v2", "application/json", string(body), header)
}

// address is what generate-*-address returns.
type address struct {
	Public string `json:"public"`
	Secret string `json:"secret"`
}

func mustResult[T any](t *testing.T, r rpcResponse) T {
	t.Helper()
	var v T
	if r.Status != http.StatusOK || r.Error != nil || len(r.Result) == 0 {
		t.Fatalf("want a result, got HTTP %d %s", r.Status, r.Raw)
	}
	if err := json.Unmarshal(r.Result, &v); err != nil {
		t.Fatalf("result %s: %v", r.Result, err)
	}
	return v
}

var errInjected = errors.New("keystore secret update: conflict on resourceVersion (injected)")
