package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/test/faults/history"
)

// Writer sends keystore writes to whichever replica the router picks and
// records each one, with its outcome, in the history.
type Writer struct {
	router  *Router
	rec     *history.Recorder
	http    *http.Client
	nextID  int64
	mu      sync.Mutex
	kinds   kindCounts
	secrets secretSet // every secret a client sent or received, for the leak check
}

// NewWriter returns a writer that records into rec.
func NewWriter(r *Router, rec *history.Recorder, timeout time.Duration) *Writer {
	return &Writer{router: r, rec: rec, http: &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

// owned is what one client may remove: addresses it was acknowledged.
type owned struct {
	keys     []string
	imported map[string]string // public → secret of owned imported keys
}

func (o *owned) add(k string) { o.keys = append(o.keys, k) }

func (o *owned) take(rng *rand.Rand) (string, bool) {
	if len(o.keys) == 0 {
		return "", false
	}
	i := rng.IntN(len(o.keys))
	k := o.keys[i]
	o.keys[i] = o.keys[len(o.keys)-1]
	o.keys = o.keys[:len(o.keys)-1]
	delete(o.imported, k)
	return k, true
}

// Client is one application writing in a loop; its random choices come from
// its own PCG source seeded with the schedule's seed and its number.
type Client struct {
	ID  int
	w   *Writer
	rng *rand.Rand
	own owned
}

// NewClient makes client id of the schedule seeded seed.
func (w *Writer) NewClient(seed uint64, id int) *Client {
	return &Client{ID: id, w: w, rng: rand.New(rand.NewPCG(seed, uint64(id)+1))}
}

// Run writes until ctx ends, with short random pauses between writes (the
// workload's pacing).
func (c *Client) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if !c.WriteOnce() {
			// No replica carries the leader label right now (as a Service
			// with no endpoints): try again shortly.
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		sleepCtx(ctx, time.Duration(c.rng.Int64N(int64(50*time.Millisecond))))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// WriteOnce sends one random keystore write; false when there was no
// replica to send it to.
//
// About a third of the writes are messy (ClientKinds): re-imports of
// acknowledged keys, partial batches, large imports, malformed params.
func (c *Client) WriteOnce() bool {
	switch n := c.rng.IntN(100); {
	case n < 8:
		return c.messy(Reimport)
	case n < 16:
		return c.messy(Partial)
	case n < 20:
		return c.messy(LargeImport)
	case n < 30:
		return c.messy(Malformed)
	}
	return c.polite()
}

// polite sends one of today's writes: a generate, the import of a fresh
// key, or the removal of an owned key.
func (c *Client) polite() bool {
	pod, url, ok := c.w.router.Pick(c.rng)
	if !ok {
		return false
	}
	op := history.Op{Client: c.ID, Replica: pod}
	var params any
	var importedPublic, sec string
	n := c.rng.IntN(100)
	switch {
	case n < 22:
		op.Kind, op.Method = history.Generate, "generate-ec-address"
	case n < 40:
		op.Kind, op.Method = history.Generate, "generate-factoid-address"
	case n < 55:
		op.Kind, op.Method = history.Generate, "generate-identity-key"
	case n < 78:
		op.Kind, op.Method = history.Import, "import-addresses"
		sec, importedPublic = freshAddress(c.rng)
		c.w.secrets.add(sec)
		op.Key = importedPublic
		params = map[string]any{"addresses": []map[string]string{{"secret": sec}}}
	default:
		key, ok := c.own.take(c.rng)
		if !ok {
			op.Kind, op.Method = history.Generate, "generate-ec-address"
			break
		}
		op.Kind, op.Method, op.Key = history.Remove, "remove-address", key
		params = map[string]any{"address": key}
	}

	c.w.kinds.add(Polite)
	op.Start = time.Now()
	res := c.w.call(url, op.Method, params)
	op.End = time.Now()
	op.Acked, op.Refused, op.Err = res.acked, res.refused, res.err
	if res.termKnown {
		op.Term, op.TermKnown = res.term, true
	}
	if op.Acked {
		switch op.Kind {
		case history.Generate:
			var k struct {
				Public string `json:"public"`
				Secret string `json:"secret"`
			}
			if err := json.Unmarshal(res.result, &k); err != nil || k.Public == "" {
				op.Err = fmt.Sprintf("acknowledged with an unreadable result: %s", res.result)
			}
			op.Key = k.Public
			c.w.secrets.add(k.Secret)
			if op.Method != "generate-identity-key" {
				c.own.add(k.Public)
			}
		case history.Import:
			c.own.add(importedPublic)
			c.own.addImported(importedPublic, sec)
		}
	}
	c.w.rec.Add(op)
	return true
}

type result struct {
	acked, refused bool
	result         json.RawMessage
	term           int64
	termKnown      bool
	err            string
}

// call sends one JSON-RPC request and classifies what came back.
func (w *Writer) call(url, method string, params any) result {
	w.mu.Lock()
	w.nextID++
	id := w.nextID
	w.mu.Unlock()
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	body, err := json.Marshal(req)
	if err != nil {
		return result{refused: true, err: err.Error()}
	}
	resp, err := w.http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		// Refused connections sent nothing; anything else (a reset, a
		// timeout) may have reached walletd.
		return result{refused: errors.Is(err, syscall.ECONNREFUSED), err: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return result{err: "reading the reply: " + err.Error()}
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return result{err: fmt.Sprintf("HTTP %d, not JSON-RPC", resp.StatusCode)}
	}
	if env.Error != nil {
		r := result{err: fmt.Sprintf("HTTP %d, error %d: %s", resp.StatusCode, env.Error.Code, env.Error.Message)}
		switch env.Error.Code {
		case proxy.CodeNotCommitted, proxy.CodeWalletd:
			// walletd may have made the change; the store may even hold it.
		case proxy.CodeNotLeader, proxy.CodeNotInSync, proxy.CodeInvalidRequest, proxy.CodeParseError:
			r.refused = true // answered before walletd was called
		default:
			r.refused = true // walletd's own error: it changed nothing
		}
		return r
	}
	if resp.StatusCode != http.StatusOK || len(env.Result) == 0 {
		return result{err: fmt.Sprintf("HTTP %d without a result", resp.StatusCode)}
	}
	r := result{acked: true, result: env.Result}
	if v := resp.Header.Get(proxy.TermHeader); v != "" {
		if t, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.term, r.termKnown = t, true
		}
	}
	return r
}
