package proxy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"
)

// write runs a leader-only call: one at a time under writeLock, and only
// once the Gate has admitted it under a term.
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
