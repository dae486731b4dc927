package walletsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// fixedGate admits every write under one term.
type fixedGate int64

func (g fixedGate) BeginWrite(context.Context) (int64, func(), error) {
	return int64(g), func() {}, nil
}

// countingTransport counts the requests that reach walletd.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

type proxyUnderTest struct {
	url      string
	walletd  *countingTransport
	registry *prometheus.Registry
}

// serveProxy fronts walletdAddr with the real proxy, committing through
// rep under term 1.
func serveProxy(t *testing.T, rep *replica, walletdAddr string, opts proxy.Options) *proxyUnderTest {
	t.Helper()
	ct := &countingTransport{}
	reg := prometheus.NewRegistry()
	opts.WalletdURL = "http://" + walletdAddr
	opts.Gate, opts.Committer, opts.ReadGate = fixedGate(1), rep.r, rep.r
	opts.Log, opts.Registerer, opts.Transport = zerolog.New(rep.logs), reg, ct
	p, err := proxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &proxyUnderTest{url: srv.URL + "/v2", walletd: ct, registry: reg}
}

type rpcAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func rpcCall(t testing.TB, url, method string, params any) rpcAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: %v", method, err)
		return rpcAnswer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a rpcAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Errorf("%s: HTTP %d %q", method, resp.StatusCode, raw)
	}
	return a
}

func inFlight(t testing.TB, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "factom_sidecar_proxy_in_flight_requests" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// Defect 2: a keystore write walletd has not answered within the walletd
// timeout is told to its client as not acknowledged, but keeps the write
// lock until walletd has finished it: the next write does not run on
// walletd beside it, and the late change is taken back before that write.
func TestAWriteThatOutlastsTheWalletdTimeoutKeepsTheLockAndIsTakenBack(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	tp, err := testenv.StartTCPProxy(leader.w.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.Close)
	p := serveProxy(t, leader, tp.Addr(), proxy.Options{WalletdTimeout: 500 * time.Millisecond, RequestTimeout: 10 * time.Second, HoldTimeout: 20 * time.Second})

	late := foreign(t, keystore.FCT, 7)
	tp.Hold() // walletd imports the key; its answer waits
	first := rpcCall(t, p.url, walletd.MethodImportAddresses, importParams(late))
	if first.Error == nil || first.Error.Code != proxy.CodeWalletd {
		t.Fatalf("import whose answer is held: %+v, want a walletd timeout", first)
	}
	if err := testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
		return slices.Contains(publics(keysOf(t, leader.w)), late.Public), errors.New("walletd has not imported the key yet")
	}); err != nil {
		t.Fatal(err)
	}

	second := make(chan rpcAnswer, 1)
	go func() { second <- rpcCall(t, p.url, walletd.MethodGenerateECAddress, nil) }()
	if err := testenv.Eventually(10*time.Second, 10*time.Millisecond, func() (bool, error) {
		return inFlight(t, p.registry) == 1, fmt.Errorf("%v requests in the proxy", inFlight(t, p.registry))
	}); err != nil {
		t.Fatal(err)
	}
	if n := p.walletd.n.Load(); n != 1 {
		t.Fatalf("%d requests reached walletd while the first write was still running there, want 1", n)
	}
	tp.Release()
	ans := <-second
	if ans.Error != nil {
		t.Fatalf("the next write: %+v", ans.Error)
	}
	expectTakenBack(t, leader, key, late)
}

// expectTakenBack checks that a write nobody was acknowledged left k
// neither on the leader's walletd nor in the keystore, and that the leader
// is in sync again.
func expectTakenBack(t *testing.T, leader *replica, key *keystore.SealKey, k walletd.Key) {
	t.Helper()
	if slices.Contains(publics(keysOf(t, leader.w)), k.Public) {
		t.Errorf("the leader's walletd keeps %s, which nobody was acknowledged", k.Public)
	}
	if imported(loadSecret(t, key).State, k.Public) {
		t.Errorf("the keystore holds %s, which nobody was acknowledged", k.Public)
	}
	if !leader.r.InSync() {
		t.Errorf("leader not in sync: %s", leader.r.ReadyCheck()().Reason)
	}
}

// Defect 3: walletd inserts a batch key by key and stops at the first bad
// one. The valid keys before it must not stay on the leader's walletd when
// the client is told the call failed.
func TestAPartialBatchLeavesNothingBehind(t *testing.T) {
	key := freshKeystore(t)
	leader := newLeader(t, key, testPods[0], 1)
	p := serveProxy(t, leader, leader.w.addr, proxy.Options{})
	valid := foreign(t, keystore.EC, 8)
	ans := rpcCall(t, p.url, walletd.MethodImportAddresses, map[string]any{"addresses": []map[string]string{{"secret": valid.Secret.Reveal()}, {"secret": "garbage"}}})
	if ans.Error == nil {
		t.Fatalf("a batch with a malformed key was acknowledged: %s", ans.Result)
	}
	expectTakenBack(t, leader, key, valid)
}
