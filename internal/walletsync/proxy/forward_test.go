package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestBasicAuthIsPassedThroughToWalletd(t *testing.T) {
	proc, url, err := startWalletd(t.TempDir(), "auth", "-rpc-user", "alice", "-rpc-password", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Stop(5 * time.Second) })
	tp := newTestProxy(t, Options{WalletdURL: url})

	basic := func(user, pass string) http.Header {
		req, _ := http.NewRequest("GET", "http://x", nil)
		req.SetBasicAuth(user, pass)
		return req.Header
	}
	for name, hdr := range map[string]http.Header{"no credentials": nil, "wrong password": basic("alice", "nope")} {
		r := callWith(t, tp.URL, "properties", nil, hdr)
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Raw, "401") {
			t.Errorf("%s: got HTTP %d %q, want walletd's 401", name, r.Status, r.Raw)
		}
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: walletd's WWW-Authenticate not passed back", name)
		}
	}
	if r := callWith(t, tp.URL, "generate-ec-address", nil, basic("alice", "nope")); r.Status != http.StatusUnauthorized {
		t.Errorf("write with a wrong password: HTTP %d %s, want 401", r.Status, r.Raw)
	}
	mustResult[map[string]any](t, callWith(t, tp.URL, "properties", nil, basic("alice", "s3cret")))
	mustResult[address](t, callWith(t, tp.URL, "generate-ec-address", nil, basic("alice", "s3cret")))
	for _, line := range tp.Logs.Lines() {
		if strings.Contains(line, "s3cret") || strings.Contains(line, "YWxpY2U6czNjcmV0") {
			t.Errorf("log line holds the credentials: %s", line)
		}
	}
}

// hangingWalletd accepts requests and never answers until the caller gives
// up: a hung walletd, as fault injection.
func hangingWalletd(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets net/http notice a closed
		// connection and cancel r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv
}

func TestAHungWalletdTimesOut(t *testing.T) {
	srv := hangingWalletd(t)
	var commits atomic.Int32
	commit := commitFunc(func(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
		commits.Add(1)
		return nil
	})
	// A keystore write walletd has not answered keeps the write lock for
	// HoldTimeout after its client got the timeout (walletd may still be
	// running it); the next write waits for it.
	tp := newTestProxy(t, Options{WalletdURL: srv.URL, WalletdTimeout: 200 * time.Millisecond, RequestTimeout: 5 * time.Second, HoldTimeout: 300 * time.Millisecond, Committer: commit})

	for _, method := range []string{"properties", "generate-ec-address", "generate-ec-address"} {
		start := time.Now()
		r := call(t, tp.URL, method, nil)
		if r.Status != http.StatusGatewayTimeout || r.code() != CodeWalletd || r.Result != nil {
			t.Fatalf("%s: got HTTP %d %s, want 504 with error %d", method, r.Status, r.Raw, CodeWalletd)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s took %s with a 200ms walletd timeout", method, took)
		}
	}
	if commits.Load() != 0 {
		t.Errorf("a write that timed out was committed")
	}

	// The request timeout bounds the walletd call too.
	tp2 := newTestProxy(t, Options{WalletdURL: srv.URL, WalletdTimeout: time.Minute, RequestTimeout: 200 * time.Millisecond})
	if r := call(t, tp2.URL, "all-addresses", nil); r.Status != http.StatusGatewayTimeout {
		t.Errorf("request timeout: got HTTP %d %s, want 504", r.Status, r.Raw)
	}
}
