package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A write that waited so long for the lock that walletd would not get its
// whole timeout is not sent: cut short, its outcome would be unknown.
func TestAWriteWithLessThanTheWalletdTimeoutLeftIsNotSent(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	commit := commitFunc(func(ctx context.Context, _ int64, _ string, _, _ json.RawMessage) error {
		entered <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	tp := newTestProxy(t, Options{Committer: commit, RequestTimeout: 4 * time.Second, WalletdTimeout: 2 * time.Second, CommitTimeout: 20 * time.Second})

	first := make(chan rpcResponse, 1)
	go func() { first <- call(t, tp.URL, "generate-ec-address", nil) }()
	<-entered // the first write holds the lock, in its commit

	second := make(chan rpcResponse, 1)
	sent := time.Now()
	go func() { second <- call(t, tp.URL, "generate-factoid-address", nil) }()
	// Hold the lock until the queued write has less than its 2 s left.
	for time.Since(sent) < 2500*time.Millisecond {
		select {
		case r := <-second:
			t.Fatalf("queued write answered while the lock was held: %s", r.Raw)
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(release)
	if r := <-first; r.Error != nil {
		t.Fatalf("first write: %s", r.Raw)
	}
	r := <-second
	if r.Error == nil || !strings.Contains(r.Error.Message, "nothing was sent to walletd") {
		t.Fatalf("queued write: got HTTP %d %s, want a refusal that sent nothing", r.Status, r.Raw)
	}
	if n := tp.Upstream.n.Load(); n != 1 {
		t.Errorf("walletd called %d times, want only the first write", n)
	}
}

// An import too large to finish within the walletd timeout (walletd syncs
// its file once per key) is refused before it reaches walletd.
func TestAnOversizedImportIsRefusedBeforeWalletd(t *testing.T) {
	tp := newTestProxy(t, Options{MaxImportKeys: 3})
	for _, tc := range []struct{ method, field string }{{"import-addresses", "addresses"}, {"import-identity-keys", "keys"}} {
		var keys []map[string]string
		for i := range 4 {
			keys = append(keys, map[string]string{"secret": fmt.Sprintf("not-a-secret-%d", i)})
		}
		r := call(t, tp.URL, tc.method, map[string]any{tc.field: keys})
		if r.Status != http.StatusOK || r.code() != -32602 || !strings.Contains(r.Error.Message, "at most 3 keys") {
			t.Errorf("%s of 4 keys: got HTTP %d %s, want invalid params naming the bound", tc.method, r.Status, r.Raw)
		}
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Errorf("walletd called %d times", n)
	}
}
