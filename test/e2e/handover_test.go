package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// writeOutcome is one keystore write as its client saw it.
type writeOutcome struct {
	method string
	public string // acknowledged key
	code   int    // JSON-RPC error code, 0 if acknowledged
	msg    string
	err    error // transport error
}

func rawWrite(client *http.Client, url, method string) writeOutcome {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method})
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return writeOutcome{method: method, err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Result *struct {
			Public string `json:"public"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return writeOutcome{method: method, err: fmt.Errorf("HTTP %d, not JSON-RPC", resp.StatusCode)}
	}
	if env.Error != nil {
		return writeOutcome{method: method, code: env.Error.Code, msg: env.Error.Message}
	}
	if env.Result == nil || env.Result.Public == "" {
		return writeOutcome{method: method, err: fmt.Errorf("HTTP %d without a key", resp.StatusCode)}
	}
	return writeOutcome{method: method, public: env.Result.Public}
}

// A graceful handover (SIGTERM, as kubectl delete pod sends) in the middle
// of a burst of writes: every write walletd finished is acknowledged and
// committed, none is answered "not committed", and the new leader holds
// every acknowledged key. Writes that arrive after the gate closed are
// refused before walletd (not the leader, or the connection refused).
func TestGracefulHandoverDuringABurstFailsAndLosesNoWrite(t *testing.T) {
	c := newCluster(t, testenv.ClusterOptions{})
	leader, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	url := leader.ProxyURL()
	var (
		mu       sync.Mutex
		outcomes []writeOutcome
		acked    int
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	methods := []string{"generate-ec-address", "generate-factoid-address", "generate-identity-key"}
	for i := range 6 {
		wg.Go(func() {
			client := &http.Client{Timeout: 60 * time.Second}
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				o := rawWrite(client, url, methods[n%len(methods)])
				mu.Lock()
				outcomes = append(outcomes, o)
				if o.public != "" {
					acked++
				}
				mu.Unlock()
				if errors.Is(o.err, syscall.ECONNREFUSED) {
					return // the old leader's proxy is gone
				}
			}
		})
	}
	// Let the burst run, then stop the leader in its middle.
	if err := testenv.Eventually(60*time.Second, 20*time.Millisecond, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return acked >= 20, fmt.Errorf("%d writes acknowledged", acked)
	}); err != nil {
		t.Fatal(err)
	}
	if err := leader.Sidecar.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leader.Sidecar.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the leader's sidecar did not exit after SIGTERM")
	}
	close(stop)
	wg.Wait()

	var keys []string
	refused, dropped := 0, 0
	for _, o := range outcomes {
		switch {
		case o.public != "":
			keys = append(keys, o.public)
		case o.code == proxy.CodeNotLeader || errors.Is(o.err, syscall.ECONNREFUSED):
			refused++ // never reached walletd
		case o.err != nil:
			// The server closed an idle keep-alive connection as the
			// request went out (EOF): checked below to have done nothing.
			dropped++
		default:
			t.Errorf("%s failed in the handover: code %d %q", o.method, o.code, o.msg)
		}
	}
	t.Logf("%d writes: %d acknowledged, %d refused before walletd, %d on connections the stopping server closed", len(outcomes), len(keys), refused, dropped)

	next, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	held := publicKeys(t, direct(next))
	for _, k := range keys {
		if !contains(held, k) {
			t.Errorf("the new leader %s lacks acknowledged key %s", next.Name, k)
		}
	}
	// The keystore started empty and only these clients wrote: the old
	// leader's walletd holds exactly the acknowledged keys, so every write
	// walletd finished was acknowledged, and no unanswered one ran.
	sort.Strings(keys)
	if old := publicKeys(t, direct(leader)); !slices.Equal(old, keys) {
		t.Errorf("the old leader's walletd holds %d keys, %d were acknowledged:\nwalletd %v\nacked   %v", len(old), len(keys), old, keys)
	}
}
