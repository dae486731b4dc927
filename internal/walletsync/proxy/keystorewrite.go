package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/rs/zerolog"
)

// walletd's JSON-RPC errors that it sends before a keystore handler acts:
// the request or its params do not decode, the method is unknown, or an
// encrypted wallet is locked (wsapi v2.4.2). Any other error can follow a
// partial change.
const (
	walletdInvalidRequest = -32600
	walletdMethodNotFound = -32601
	walletdInvalidParams  = -32602
	walletdLocked         = -32001
)

// keystoreWrite runs one committed-class write under the write lock: the
// Committer's Prepare, walletd, then Commit or Abort. end releases the
// lock and the gate; if walletd has not answered within WalletdTimeout the
// client is told so at once and the write keeps both (set *held) until
// walletd answers, then it is taken back: no other write runs on walletd
// beside it, and none starts before walletd's state is known.
func (p *Proxy) keystoreWrite(ctx context.Context, r *http.Request, req request, term int64, end func(), held *bool) (reply, outcome) {
	fail := func(code int, msg string, name string, err error, level zerolog.Level) (reply, outcome) {
		status := http.StatusOK
		if name == outcomeTimeout {
			status = http.StatusGatewayTimeout
		}
		return errorReply(status, req.ID, &rpcError{Code: code, Message: msg}),
			outcome{name: name, term: term, admitted: true, err: err, level: level}
	}
	if n, ok := importSize(req); ok && n > p.opts.MaxImportKeys {
		return fail(walletdInvalidParams, fmt.Sprintf("invalid params: at most %d keys per import; split the batch (nothing was sent to walletd)", p.opts.MaxImportKeys),
			outcomeBadRequest, nil, zerolog.InfoLevel)
	}
	// Identity imports go to walletd in a form it does not print.
	fwd, translate := req, func(up upstream, out outcome) (upstream, outcome) { return up, out }
	if req.Method == "import-identity-keys" {
		q, quiet, rerr := quietIdentityImport(req)
		if rerr != nil {
			return fail(rerr.Code, rerr.Message, outcomeBadRequest, nil, zerolog.InfoLevel)
		}
		if quiet != nil {
			fwd, translate = q, quiet
		}
	}
	// A write gets its whole walletd timeout, and at most half the
	// request's: the other half is for waiting for the lock.
	timeout := min(p.opts.WalletdTimeout, p.opts.RequestTimeout/2)
	deadline, _ := ctx.Deadline()
	if time.Until(deadline) < timeout {
		// Queued too long: walletd would not get its whole timeout, and a
		// write cut short leaves its outcome unknown.
		return fail(CodeWalletd, "request timed out waiting for the write lock; nothing was sent to walletd", outcomeTimeout,
			fmt.Errorf("%s left of the request, walletd timeout %s", time.Until(deadline).Round(time.Millisecond), timeout), zerolog.WarnLevel)
	}
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CommitTimeout)
	err := p.opts.Committer.Prepare(pctx, term)
	pcancel()
	if err != nil {
		return fail(CodeNotCommitted, "write not started: the keystore is not ready for a write (an earlier write is still being taken back); nothing was sent to walletd, retry the request",
			outcomeNotCommitted, fmt.Errorf("prepare: %w", err), zerolog.WarnLevel)
	}

	// walletd runs the write to its end whatever happens to the client, so
	// the call is not cut at WalletdTimeout: only the client's answer is.
	type answer struct {
		up  upstream
		out outcome
	}
	answered := make(chan answer, 1)
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+p.opts.HoldTimeout)
	go func() {
		up, out := translate(p.forward(hctx, timeout+p.opts.HoldTimeout, r, fwd))
		answered <- answer{up, out}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-answered:
		hcancel()
		return p.finish(ctx, req, term, a.up, a.out)
	case <-timer.C:
	}
	*held = true
	go func() {
		a := <-answered
		hcancel()
		actx, acancel := context.WithTimeout(context.Background(), p.opts.CommitTimeout)
		err := p.opts.Committer.Abort(actx, term, req.Method, false)
		acancel()
		ev := p.log.Warn().Str("event", logging.EventProxyWriteReleased).Str("method", req.Method).Int64("term", term).Str("walletd", a.out.name)
		if err != nil {
			ev = ev.Err(err)
		}
		ev.Msg("a keystore write that outlasted the walletd timeout has ended on walletd and was taken back")
		end()
	}()
	return fail(CodeWalletd, "walletd did not answer in time; the write is not acknowledged and is taken back once walletd has finished it",
		outcomeTimeout, fmt.Errorf("walletd: no answer within %s", timeout), zerolog.WarnLevel)
}

// finish commits a write walletd answered with a result, and ends any other
// with Abort.
func (p *Proxy) finish(ctx context.Context, req request, term int64, up upstream, out outcome) (reply, outcome) {
	out.term, out.admitted = term, true
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CommitTimeout)
	defer ccancel()
	if out.name != outcomeOK {
		unchanged := out.name == outcomeWalletdError &&
			(up.errCode == walletdInvalidRequest || up.errCode == walletdMethodNotFound || up.errCode == walletdInvalidParams || up.errCode == walletdLocked)
		if err := p.opts.Committer.Abort(cctx, term, req.Method, unchanged); err != nil && out.err == nil {
			out.err = fmt.Errorf("abort: %w", err)
		}
		return up.reply, out
	}
	if err := p.opts.Committer.Commit(cctx, term, req.Method, req.Params, up.result); err != nil {
		return errorReply(http.StatusOK, req.ID, &rpcError{Code: CodeNotCommitted, Message: "write not committed: walletd's change could not be replicated, so it is not acknowledged; retry the request"}),
			outcome{name: outcomeNotCommitted, term: term, admitted: true, err: fmt.Errorf("commit: %w", err), level: zerolog.ErrorLevel}
	}
	out.level = zerolog.InfoLevel
	// The fencing token the write was committed under: clients (and the
	// fault-injection suite's history) can tell which term acknowledged it.
	if up.reply.header == nil {
		up.reply.header = http.Header{}
	}
	up.reply.header.Set(TermHeader, strconv.FormatInt(term, 10))
	return up.reply, out
}

// importSize is the number of keys an import-addresses or
// import-identity-keys request carries (false for other methods or params
// that do not decode: walletd refuses those itself).
func importSize(req request) (int, bool) {
	var field string
	switch req.Method {
	case "import-addresses":
		field = "addresses"
	case "import-identity-keys":
		field = "keys"
	default:
		return 0, false
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(req.Params, &p) != nil {
		return 0, false
	}
	var keys []json.RawMessage
	if json.Unmarshal(p[field], &keys) != nil {
		return 0, false
	}
	return len(keys), true
}
