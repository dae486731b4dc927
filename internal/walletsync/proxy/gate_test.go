package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParallelKeystoreWritesAreSerialisedAndCommittedBeforeTheReply(t *testing.T) {
	const n = 50
	var (
		mu        sync.Mutex
		committed []address
		inCommit  atomic.Int32
		overlaps  atomic.Int32
		begun     atomic.Int32
		finished  atomic.Int32
	)
	gate := gateFunc(func(context.Context) (int64, func(), error) {
		begun.Add(1)
		return 42, func() { finished.Add(1) }, nil
	})
	commit := commitFunc(func(ctx context.Context, term int64, method string, params, result json.RawMessage) error {
		if inCommit.Add(1) != 1 {
			overlaps.Add(1)
		}
		defer inCommit.Add(-1)
		if term != 42 || method != "generate-ec-address" {
			t.Errorf("Commit(term %d, method %q), want 42, generate-ec-address", term, method)
		}
		if begun.Load() != finished.Load()+1 {
			t.Errorf("Commit ran with %d writes begun and %d done, want exactly this one open", begun.Load(), finished.Load())
		}
		var a address
		if err := json.Unmarshal(result, &a); err != nil {
			t.Errorf("commit result: %v", err)
		}
		mu.Lock()
		committed = append(committed, a)
		mu.Unlock()
		return nil
	})
	tp := newTestProxy(t, Options{Gate: gate, Committer: commit})

	replies := make([]address, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := call(t, tp.URL, "generate-ec-address", nil)
			if r.Error != nil {
				t.Errorf("generate-ec-address: %s", r.Raw)
				return
			}
			if err := json.Unmarshal(r.Result, &replies[i]); err != nil {
				t.Errorf("result: %v", err)
			}
		})
	}
	wg.Wait()

	distinct := map[string]bool{}
	for _, a := range replies {
		distinct[a.Public] = true
	}
	if len(distinct) != n {
		t.Errorf("%d distinct addresses from %d parallel generate-ec-address, want %d", len(distinct), n, n)
	}
	if len(committed) != n {
		t.Fatalf("%d commits, want %d", len(committed), n)
	}
	if overlaps.Load() != 0 {
		t.Errorf("%d commits overlapped another commit", overlaps.Load())
	}
	if finished.Load() != n {
		t.Errorf("done called %d times, want %d", finished.Load(), n)
	}
	// Every acknowledged address was committed, each exactly once.
	seen := map[string]bool{}
	for _, a := range committed {
		if seen[a.Public] {
			t.Errorf("address %s committed twice", a.Public)
		}
		seen[a.Public] = true
	}
	for _, a := range replies {
		if !seen[a.Public] {
			t.Errorf("address %s acknowledged but not committed", a.Public)
		}
	}
}

func TestFailedCommitIsAnsweredWithAnErrorAndNeverTheResult(t *testing.T) {
	var generated json.RawMessage
	commit := commitFunc(func(_ context.Context, _ int64, _ string, _, result json.RawMessage) error {
		generated = append(json.RawMessage(nil), result...)
		return errInjected
	})
	tp := newTestProxy(t, Options{Committer: commit})

	r := call(t, tp.URL, "generate-factoid-address", nil)
	if r.code() != CodeNotCommitted || r.Result != nil {
		t.Fatalf("got %s, want error %d and no result", r.Raw, CodeNotCommitted)
	}
	var a address
	if err := json.Unmarshal(generated, &a); err != nil || a.Secret == "" {
		t.Fatalf("walletd's result reached the committer as %s (%v)", generated, err)
	}
	for _, leak := range []string{a.Public, a.Secret, errInjected.Error()} {
		if strings.Contains(r.Raw, leak) {
			t.Errorf("reply %s contains %q", r.Raw, leak)
		}
	}
	if !strings.Contains(r.Error.Message, "not committed") || !strings.Contains(r.Error.Message, "retry") {
		t.Errorf("message %q should say the write was not committed and must be retried", r.Error.Message)
	}
}

func TestWalletdErrorOnAWriteIsPassedBackAndNotCommitted(t *testing.T) {
	var commits atomic.Int32
	commit := commitFunc(func(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
		commits.Add(1)
		return nil
	})
	tp := newTestProxy(t, Options{Committer: commit})

	r := call(t, tp.URL, "import-addresses", map[string]any{"addresses": []map[string]string{{"secret": "Fs-not-a-key"}}})
	if r.Error == nil || r.Status != http.StatusOK {
		t.Fatalf("import of a bad key: got HTTP %d %s, want walletd's JSON-RPC error", r.Status, r.Raw)
	}
	if commits.Load() != 0 {
		t.Errorf("Commit called %d times for a write walletd refused", commits.Load())
	}
	if r := call(t, tp.URL, "no-such-method", nil); r.code() != -32601 || commits.Load() != 0 {
		t.Errorf("unknown method: got %s and %d commits, want walletd's -32601 and none", r.Raw, commits.Load())
	}
}

func TestFollowerAnswersWritesWithTheLeadersName(t *testing.T) {
	var commits atomic.Int32
	commit := commitFunc(func(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
		commits.Add(1)
		return nil
	})
	tp := newTestProxy(t, Options{
		Gate:       followerGate("factom-wallet-1"),
		LeaderName: func() string { return "factom-wallet-1" },
		Committer:  commit,
	})
	for _, method := range []string{"generate-ec-address", "new-transaction", "tmp-transactions", "unlock-wallet", "some-future-method"} {
		r := call(t, tp.URL, method, map[string]string{"name": "tx"})
		if r.code() != CodeNotLeader {
			t.Fatalf("%s on a follower: got %s, want error %d", method, r.Raw, CodeNotLeader)
		}
		var data struct{ Leader string }
		if err := json.Unmarshal(r.Error.Data, &data); err != nil || data.Leader != "factom-wallet-1" {
			t.Errorf("%s: data %s, want {\"leader\":\"factom-wallet-1\"}", method, r.Error.Data)
		}
		if !strings.Contains(r.Error.Message, "factom-wallet-1") {
			t.Errorf("%s: message %q does not name the leader", method, r.Error.Message)
		}
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Errorf("walletd called %d times by a follower's writes", n)
	}
	if commits.Load() != 0 {
		t.Errorf("Commit called on a follower")
	}
	// Reads are still served on an in-sync follower.
	if r := call(t, tp.URL, "properties", nil); r.Error != nil {
		t.Errorf("properties on an in-sync follower: %s", r.Raw)
	}
}

func TestTransactionBuildingRunsOnTheLeaderWithoutCommit(t *testing.T) {
	var commits atomic.Int32
	commit := commitFunc(func(context.Context, int64, string, json.RawMessage, json.RawMessage) error {
		commits.Add(1)
		return nil
	})
	tp := newTestProxy(t, Options{Committer: commit})
	mustResult[map[string]any](t, call(t, tp.URL, "new-transaction", map[string]string{"tx-name": "proxy-tx"}))
	tmp := mustResult[struct {
		Transactions []struct {
			Name string `json:"name"`
		} `json:"transactions"`
	}](t, call(t, tp.URL, "tmp-transactions", nil))
	found := false
	for _, tx := range tmp.Transactions {
		found = found || tx.Name == "proxy-tx"
	}
	if !found {
		t.Errorf("tmp-transactions %v does not list proxy-tx", tmp.Transactions)
	}
	mustResult[map[string]any](t, call(t, tp.URL, "delete-transaction", map[string]string{"tx-name": "proxy-tx"}))
	if commits.Load() != 0 {
		t.Errorf("Commit called %d times for transaction building", commits.Load())
	}
}

func TestAWriteQueuedBehindASlowCommitTimesOutWithoutReachingWalletd(t *testing.T) {
	commit, entered, release := heldCommit()
	tp := newTestProxy(t, Options{Committer: commit, RequestTimeout: 2 * time.Second, CommitTimeout: 20 * time.Second})

	first := make(chan rpcResponse, 1)
	go func() { first <- call(t, tp.URL, "generate-ec-address", nil) }()
	select { // the first write holds the lock, in its commit
	case <-entered:
	case r := <-first:
		t.Fatalf("first write ended before its commit: %s", r.Raw)
	}

	r := call(t, tp.URL, "generate-factoid-address", nil)
	if r.Status != http.StatusGatewayTimeout || !strings.Contains(r.Error.Message, "write lock") {
		t.Fatalf("queued write: got HTTP %d %s, want 504 waiting for the write lock", r.Status, r.Raw)
	}
	if n := tp.Upstream.n.Load(); n != 1 {
		t.Errorf("walletd called %d times, want only the first write", n)
	}
	// The commit outlives the first request's own timeout: walletd already
	// made the change, so it still gets committed and acknowledged.
	close(release)
	if r := <-first; r.Error != nil {
		t.Errorf("first write: %s", r.Raw)
	}
}
