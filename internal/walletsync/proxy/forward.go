package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/rs/zerolog"
)

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
