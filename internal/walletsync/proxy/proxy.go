package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// TermHeader is the response header that carries the term a keystore write
// was committed under. It is set only on a write that walletd did and the
// replicated store committed: its presence means the write is acknowledged.
const TermHeader = "X-Factom-Term"

// Gate says whether this replica may write, and under which term.
type Gate interface {
	// BeginWrite admits one write if this replica is the writable leader.
	// term is the fencing token the commit is made under; done must be
	// called once the write, commit included, has finished. When the replica
	// is not writable it returns an error; its text goes into the JSON-RPC
	// error, so it may name the leader but must not hold secrets.
	BeginWrite(ctx context.Context) (term int64, done func(), err error)
}

// Committer replicates the keystore change a write made. For each keystore
// write the proxy calls Prepare before walletd, then exactly one of Commit
// (walletd answered with a result) or Abort (any other outcome), all under
// the write lock.
type Committer interface {
	// Prepare refuses a write that must not start: this replica is not the
	// leader for term, or walletd still holds an earlier write's change
	// that could not be taken back. Nothing is sent to walletd then.
	Prepare(ctx context.Context, term int64) error
	// Commit stores the keystore change of one write under term. It returns
	// an error when the change is not durably replicated (store unreachable,
	// term fenced): the proxy then tells the client the write failed. params
	// and result carry secrets; the error text must not.
	Commit(ctx context.Context, term int64, method string, params, result json.RawMessage) error
	// Abort ends a write walletd did not answer with a result. unchanged
	// says walletd refused it before acting (an unknown method, params that
	// do not decode); otherwise walletd may have made part of the change
	// (it imports a batch key by key and stops at the first bad one), or
	// still be making it, and the Committer takes back whatever the store
	// does not hold before the next write.
	Abort(ctx context.Context, term int64, method string, unchanged bool) error
}

// ReadGate says whether this replica may serve reads.
type ReadGate interface {
	// InSync reports whether the local walletd holds the replicated keystore
	// (a follower that applied the latest generation, or the leader).
	InSync() bool
}

// Defaults for the zero values of Options.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxResponseBytes = 16 << 20 // wallet-backup of ~10,000 addresses is ~2 MB
	DefaultRequestTimeout   = 30 * time.Second
	DefaultWalletdTimeout   = 15 * time.Second
	DefaultCommitTimeout    = 10 * time.Second
	DefaultHoldTimeout      = 30 * time.Second
	// DefaultMaxImportKeys keeps an import well inside the walletd
	// timeout: walletd syncs its file once per key (≈ 40 ms here).
	DefaultMaxImportKeys = 100
)

// Options configure a Proxy. WalletdURL, Gate, Committer and ReadGate are
// required; zero values of the rest take the defaults above.
type Options struct {
	// WalletdURL is walletd's base URL (http://127.0.0.1:8089); /v2 is
	// appended unless the path already ends with it.
	WalletdURL string
	Gate       Gate
	Committer  Committer
	ReadGate   ReadGate
	// LeaderName returns the current leader's pod name ("" if unknown); a
	// follower puts it in the "not the leader" error as data.leader.
	LeaderName func() string
	Log        zerolog.Logger
	// Registerer receives the proxy's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds a request body (larger: HTTP 413).
	MaxBodyBytes int64
	// MaxResponseBytes bounds what is read from walletd.
	MaxResponseBytes int64
	// RequestTimeout bounds a request from its arrival until walletd has
	// answered, waiting for the write lock included.
	RequestTimeout time.Duration
	// WalletdTimeout bounds one call to walletd (within RequestTimeout).
	WalletdTimeout time.Duration
	// CommitTimeout bounds the commit of a write walletd has already done.
	// It starts when walletd answers and is not cut short by
	// RequestTimeout or by the client going away: a change walletd has made
	// gets its full chance to be committed.
	CommitTimeout time.Duration
	// HoldTimeout bounds how long a keystore write walletd has not
	// answered within WalletdTimeout keeps the write lock after its client
	// was told it timed out: walletd is still running it, and no other
	// write may run beside it. Once walletd answers (or this passes) the
	// write is taken back.
	HoldTimeout time.Duration
	// MaxImportKeys bounds the keys of one import-addresses or
	// import-identity-keys call (more: an invalid-params error, nothing
	// sent), so an import cannot outlast WalletdTimeout.
	MaxImportKeys int
	// Transport replaces the HTTP transport to walletd (tests).
	Transport http.RoundTripper
	// WalletdTLS is the client TLS config for an https WalletdURL
	// (walletd -wallettls).
	WalletdTLS *tls.Config
	// Auth checks each client's basic auth and role (see auth.go); nil
	// lets every client do everything but wallet-backup, as walletd does.
	Auth *Authenticator
	// AllowWalletBackup serves wallet-backup (admin role, leader only).
	AllowWalletBackup bool
	// WalletdUser and WalletdPassword are walletd's RPC credentials; when
	// set they replace whatever the client sent.
	WalletdUser, WalletdPassword string
}

// Proxy is the http.Handler serving POST /v2.
type Proxy struct {
	opts    Options
	target  string
	client  *retryablehttp.Client
	metrics *metrics
	log     zerolog.Logger
	// writeLock serialises every leader-only call (a channel so waiting for
	// it honours the request's context). walletd is not safe under parallel
	// keystore writes, and its transactions in progress are an unguarded map.
	writeLock chan struct{}
}

// New checks opts and returns the proxy.
func New(opts Options) (*Proxy, error) {
	target, err := walletdEndpoint(opts.WalletdURL)
	if err != nil {
		return nil, err
	}
	if opts.Gate == nil || opts.Committer == nil || opts.ReadGate == nil {
		return nil, errors.New("proxy: Gate, Committer and ReadGate are required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.WalletdTimeout <= 0 {
		opts.WalletdTimeout = DefaultWalletdTimeout
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	if opts.HoldTimeout <= 0 {
		opts.HoldTimeout = DefaultHoldTimeout
	}
	if opts.MaxImportKeys <= 0 {
		opts.MaxImportKeys = DefaultMaxImportKeys
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	transport := opts.Transport
	if transport == nil {
		transport = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        32,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			TLSClientConfig:     opts.WalletdTLS,
			TLSHandshakeTimeout: 5 * time.Second,
		}
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.HTTPClient = &http.Client{Transport: transport}
	// Never retry: writes are not idempotent (a retried generate-* hands out
	// a second address), and the client decides whether to retry a read.
	rc.RetryMax = 0
	rc.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return false, nil }
	return &Proxy{
		opts:      opts,
		target:    target,
		client:    rc,
		metrics:   m,
		log:       opts.Log.With().Str("subsystem", "proxy").Logger(),
		writeLock: make(chan struct{}, 1),
	}, nil
}

// MaxRequestDuration is the longest a request can take (RequestTimeout plus
// CommitTimeout); the HTTP server's write timeout must be above it.
func (p *Proxy) MaxRequestDuration() time.Duration {
	return p.opts.RequestTimeout + p.opts.CommitTimeout
}

func walletdEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("proxy: walletd URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("proxy: walletd URL %q: want http(s)://host:port", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, "/v2") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v2"
	}
	return u.String(), nil
}

// reply is what goes back to the client.
type reply struct {
	status int
	header http.Header // extra headers (WWW-Authenticate on 401)
	body   []byte
}

// outcome is what a request came to, for the log line and the metrics.
type outcome struct {
	name     string
	term     int64
	admitted bool  // a write was admitted under term (term 0 is a real term)
	err      error // internal cause, logged; never sent to the client
	level    zerolog.Level
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	p.metrics.inFlight.Inc()
	defer p.metrics.inFlight.Dec()

	class := classNone
	method := ""
	var id identity
	rep, out := p.serve(r, &class, &method, &id)

	for k, vs := range rep.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // results can hold secrets
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)

	elapsed := time.Since(start)
	p.metrics.requests.WithLabelValues(class, out.name).Inc()
	p.metrics.duration.WithLabelValues(class).Observe(elapsed.Seconds())
	ev := p.log.WithLevel(out.level).
		Str("event", logging.EventProxyRequest).
		Str("method", method).
		Str("class", class).
		Str("outcome", out.name).
		Int("status", rep.status).
		Float64("durationMs", float64(elapsed.Microseconds())/1000)
	if id.user != "" {
		ev = ev.Str("user", id.user)
	}
	if out.admitted {
		ev = ev.Int64("term", out.term)
	}
	if out.err != nil {
		ev = ev.Err(out.err)
	}
	ev.Send()
}

// serve handles one request; class and method are filled in as soon as
// they are known, for the log line.
func (p *Proxy) serve(r *http.Request, class, method *string, who *identity) (reply, outcome) {
	if rep, out, ok := p.authenticate(r, who); !ok {
		return rep, out
	}
	if r.URL.Path != "/v2" {
		return errorReply(http.StatusNotFound, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: "not found: the JSON-RPC endpoint is POST /v2"}), outcome{name: outcomeBadRequest, level: zerolog.DebugLevel}
	}
	if rep, bad := checkHTTPRequest(r); bad {
		return rep, outcome{name: outcomeBadRequest, level: zerolog.DebugLevel}
	}
	tooLarge := func() (reply, outcome) {
		return errorReply(http.StatusRequestEntityTooLarge, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: fmt.Sprintf("request too large: the body exceeds %d bytes", p.opts.MaxBodyBytes)}),
			outcome{name: outcomeTooLarge, level: zerolog.InfoLevel}
	}
	if r.ContentLength > p.opts.MaxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, p.opts.MaxBodyBytes+1))
	if err != nil {
		return errorReply(http.StatusBadRequest, jsonNull, &rpcError{Code: CodeParseError, Message: "parse error: the body could not be read"}), outcome{name: outcomeBadRequest, err: fmt.Errorf("read body: %w", err), level: zerolog.DebugLevel}
	}
	if int64(len(body)) > p.opts.MaxBodyBytes {
		return tooLarge()
	}
	req, id, perr := parseRequest(body)
	if perr != nil {
		return errorReply(http.StatusOK, id, perr), outcome{name: outcomeBadRequest, level: zerolog.DebugLevel}
	}
	c := Classify(req.Method)
	*class = c.String()
	*method = logMethod(req.Method, c)
	if rep, out, ok := p.authorize(*who, req, c); !ok {
		return rep, out
	}

	ctx, cancel := context.WithTimeout(r.Context(), p.opts.RequestTimeout)
	defer cancel()
	if !c.LeaderOnly() && !leaderOnlyMethod(req.Method) {
		return p.read(ctx, r, req)
	}
	return p.write(ctx, r, req, c)
}

// logMethod is the method name as logged. Unknown names are client input
// and could be anything (a key pasted into the wrong field): they are
// logged only when they look like a method name, which keys (base58,
// mixed case) and mnemonics (spaces) do not.
func logMethod(m string, c Class) string {
	if c != ClassUnknown {
		return m
	}
	if len(m) > 64 || strings.TrimLeft(m, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return "(not a method name)"
	}
	return m
}

func (p *Proxy) read(ctx context.Context, r *http.Request, req request) (reply, outcome) {
	if !p.opts.ReadGate.InSync() {
		return errorReply(http.StatusOK, req.ID, &rpcError{Code: CodeNotInSync, Message: "replica not in sync: its keystore may be behind the leader's; retry on the leader or another replica"}),
			outcome{name: outcomeNotInSync, level: zerolog.InfoLevel}
	}
	up, out := p.call(ctx, r, req)
	if out.name != outcomeOK {
		return up.reply, out
	}
	out.level = zerolog.DebugLevel
	return up.reply, out
}

func (p *Proxy) write(ctx context.Context, r *http.Request, req request, c Class) (reply, outcome) {
	select {
	case p.writeLock <- struct{}{}:
	case <-ctx.Done():
		return ctxFailure(ctx, req, fmt.Errorf("waiting for the write lock: %w", ctx.Err()),
			"request timed out waiting for the write lock; nothing was sent to walletd")
	}
	// Released before the reply is written: a slow client must not hold up
	// the writes queued behind it. A keystore write walletd is still running
	// keeps it (and its place in the gate) until walletd is done.
	held := false
	defer func() {
		if !held {
			<-p.writeLock
		}
	}()

	// The gate is asked after the lock is held, so the term belongs to the
	// write that runs now, not to one that queued before a failover.
	term, done, err := p.opts.Gate.BeginWrite(ctx)
	if err != nil {
		rerr := &rpcError{Code: CodeNotLeader, Message: "not the leader: " + err.Error()}
		if p.opts.LeaderName != nil {
			if name := p.opts.LeaderName(); name != "" {
				rerr.Data = map[string]string{"leader": name}
			}
		}
		return errorReply(http.StatusOK, req.ID, rerr), outcome{name: outcomeNotLeader, level: zerolog.InfoLevel}
	}
	defer func() {
		if !held {
			done()
		}
	}()
	if c.Committed() {
		return p.keystoreWrite(ctx, r, req, term, func() { <-p.writeLock; done() }, &held)
	}

	// Once a write is sent, the client going away must not abandon it
	// halfway.
	deadline, _ := ctx.Deadline()
	wctx, wcancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer wcancel()
	up, out := p.call(wctx, r, req)
	out.term, out.admitted = term, true
	if c == ClassTransaction && out.name == outcomeWalletdError && transactionLost(up.reply.body) {
		return errorReply(http.StatusOK, req.ID, &rpcError{Code: CodeTransactionLost, Message: txLostMessage}), out
	}
	if out.name == outcomeOK {
		out.level = zerolog.InfoLevel
	}
	return up.reply, out
}

const timeoutMessage = "walletd did not answer in time; a write may or may not have been applied and is not acknowledged"

// upstream is walletd's answer.
type upstream struct {
	reply   reply
	result  json.RawMessage // set when walletd returned a result
	errCode int             // walletd's JSON-RPC error code, when it sent one
	errData json.RawMessage // and its data
}

// call forwards req to walletd. The outcome is outcomeOK only when walletd
// returned a result.
func (p *Proxy) call(ctx context.Context, r *http.Request, req request) (upstream, outcome) {
	return p.forward(ctx, p.opts.WalletdTimeout, r, req)
}

// forward is call with its own bound on walletd's answer.
func (p *Proxy) forward(ctx context.Context, timeout time.Duration, r *http.Request, req request) (upstream, outcome) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := retryablehttp.NewRequestWithContext(cctx, http.MethodPost, p.target, req.encode())
	if err != nil {
		return upstream{reply: errorReply(http.StatusInternalServerError, req.ID, &rpcError{Code: CodeWalletd, Message: "walletd request could not be built"})},
			outcome{name: outcomeUnavailable, err: fmt.Errorf("walletd request: %w", err), level: zerolog.ErrorLevel}
	}
	hreq.Header.Set("Content-Type", "application/json") // walletd requires it
	p.upstreamAuth(r, hreq.Header)
	resp, err := p.client.Do(hreq)
	if err != nil {
		if cctx.Err() != nil {
			rep, out := ctxFailure(ctx, req, fmt.Errorf("walletd: %w", err), timeoutMessage)
			return upstream{reply: rep}, out
		}
		return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: "walletd unavailable"})},
			outcome{name: outcomeUnavailable, err: fmt.Errorf("walletd: %w", err), level: zerolog.WarnLevel}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.opts.MaxResponseBytes+1))
	if err != nil {
		if cctx.Err() != nil {
			rep, out := ctxFailure(ctx, req, fmt.Errorf("walletd: %w", err), timeoutMessage)
			return upstream{reply: rep}, out
		}
		return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: "walletd's response could not be read"})},
			outcome{name: outcomeUnavailable, err: fmt.Errorf("walletd response: %w", err), level: zerolog.WarnLevel}
	}
	if int64(len(body)) > p.opts.MaxResponseBytes {
		return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: fmt.Sprintf("walletd's response exceeds %d bytes", p.opts.MaxResponseBytes)})},
			outcome{name: outcomeUnavailable, err: errors.New("walletd response too large"), level: zerolog.WarnLevel}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		h := http.Header{}
		if v := resp.Header.Get("WWW-Authenticate"); v != "" {
			h.Set("WWW-Authenticate", v)
		}
		return upstream{reply: reply{status: http.StatusUnauthorized, header: h, body: body}},
			outcome{name: outcomeUnauthorized, level: zerolog.InfoLevel}
	case resp.StatusCode != http.StatusOK:
		// Not passed through: walletd's panic pages (wallet-balances without
		// factomd) are not JSON and may echo request data.
		return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: fmt.Sprintf("walletd failed with HTTP %d", resp.StatusCode)})},
			outcome{name: outcomeUnavailable, err: fmt.Errorf("walletd: HTTP %d", resp.StatusCode), level: zerolog.WarnLevel}
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: "walletd's response is not a JSON-RPC response"})},
			outcome{name: outcomeUnavailable, err: errors.New("walletd response is not JSON-RPC"), level: zerolog.WarnLevel}
	}
	rep := reply{status: http.StatusOK, body: body}
	if len(env.Error) > 0 && !bytes.Equal(env.Error, jsonNull) {
		var e struct {
			Code int             `json:"code"`
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(env.Error, &e)
		return upstream{reply: rep, errCode: e.Code, errData: e.Data}, outcome{name: outcomeWalletdError, level: zerolog.InfoLevel}
	}
	if len(env.Result) == 0 {
		return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: "walletd's response has neither result nor error"})},
			outcome{name: outcomeUnavailable, err: errors.New("walletd response without result"), level: zerolog.WarnLevel}
	}
	return upstream{reply: rep, result: env.Result}, outcome{name: outcomeOK}
}

// ctxFailure answers a request whose context ended: the client went away
// (nobody reads the reply; 499 is nginx's "client closed request"), or time
// ran out.
func ctxFailure(ctx context.Context, req request, cause error, msg string) (reply, outcome) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return errorReply(499, req.ID, &rpcError{Code: CodeWalletd, Message: "request canceled by the client"}),
			outcome{name: outcomeCanceled, err: cause, level: zerolog.InfoLevel}
	}
	return errorReply(http.StatusGatewayTimeout, req.ID, &rpcError{Code: CodeWalletd, Message: msg}),
		outcome{name: outcomeTimeout, err: cause, level: zerolog.WarnLevel}
}

func errorReply(status int, id json.RawMessage, e *rpcError) reply {
	body, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *rpcError       `json:"error"`
	}{"2.0", id, e})
	if err != nil {
		// Only a broken id could fail; answer without it.
		body, _ = json.Marshal(struct {
			JSONRPC string    `json:"jsonrpc"`
			ID      any       `json:"id"`
			Error   *rpcError `json:"error"`
		}{"2.0", nil, e})
	}
	return reply{status: status, body: body}
}
