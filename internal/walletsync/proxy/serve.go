package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/rs/zerolog"
)

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
