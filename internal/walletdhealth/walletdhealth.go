// Package walletdhealth polls walletd's JSON-RPC API in the background and serves cached readiness, liveness and startup verdicts.
package walletdhealth

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

// Caller is the part of a JSON-RPC client the poller uses.
type Caller interface {
	Call(ctx context.Context, method string, params, result any) error
}

// Options tune a Poller. Zero values take the defaults.
type Options struct {
	// Interval between calls (default 2s).
	Interval time.Duration
	// Timeout of one call (default 1s).
	Timeout time.Duration
	// StaleAfter: a verdict older than this is not ready (default 3 × Interval).
	StaleAfter time.Duration
	// DeadAfter: walletd failing for this long after it once answered is
	// not live (default 30s).
	DeadAfter time.Duration
	Now       func() time.Time
}

// Poller calls walletd's `properties` and caches the outcome.
type Poller struct {
	c    Caller
	opts Options
	log  zerolog.Logger

	mu         sync.Mutex
	started    bool
	lastOK     time.Time
	lastCall   time.Time
	failing    time.Time // start of the current run of failures
	lastErr    string
	version    string
	apiVersion string
}

// New returns a poller for client.
func New(c Caller, opts Options, log zerolog.Logger) *Poller {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 3 * opts.Interval
	}
	if opts.DeadAfter <= 0 {
		opts.DeadAfter = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Poller{c: c, opts: opts, log: log}
}

// NewForURL is New with a jsonrpc client for walletd's /v2 URL.
func NewForURL(url string, opts Options, log zerolog.Logger) *Poller {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	return New(jsonrpc.New(url, jsonrpc.Options{Timeout: opts.Timeout}), opts, log)
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type properties struct {
	WalletVersion    string `json:"walletversion"`
	WalletAPIVersion string `json:"walletapiversion"`
}

// Poll makes one call and records the outcome.
func (p *Poller) Poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var props properties
	err := p.c.Call(ctx, "properties", nil, &props)
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastCall = now
	if err != nil {
		if p.lastErr == "" {
			p.failing = now
			p.log.Warn().Str("event", logging.EventWalletdUnhealthy).Err(err).Msg("walletd does not answer")
		}
		p.lastErr = err.Error()
		return
	}
	if p.lastErr != "" || !p.started {
		p.log.Info().Str("event", logging.EventWalletdHealthy).Str("walletVersion", props.WalletVersion).Msg("walletd answers")
	}
	p.started = true
	p.lastOK = now
	p.lastErr = ""
	p.version, p.apiVersion = props.WalletVersion, props.WalletAPIVersion
}

func (p *Poller) fields(now time.Time) map[string]any {
	f := map[string]any{"walletVersion": p.version}
	if !p.lastOK.IsZero() {
		f["lastOkAgoMs"] = now.Sub(p.lastOK).Milliseconds()
	}
	if p.lastErr != "" {
		f["error"] = p.lastErr
	}
	return f
}

// Ready: the latest call succeeded and is recent.
func (p *Poller) Ready() probe.Result {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fields(now)
	switch {
	case p.lastCall.IsZero():
		return probe.Result{Reason: "walletd not polled yet", Fields: f}
	case p.lastErr != "":
		return probe.Result{Reason: "walletd unreachable", Fields: f}
	case now.Sub(p.lastOK) > p.opts.StaleAfter:
		return probe.Result{Reason: "walletd verdict stale", Fields: f}
	}
	return probe.Result{OK: true, Reason: "ok", Fields: f}
}

// Live: walletd has not been failing for DeadAfter since it last answered.
// Before it first answers, the startup probe is in charge.
func (p *Poller) Live() probe.Result {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fields(now)
	if p.started && p.lastErr != "" && now.Sub(p.failing) > p.opts.DeadAfter {
		return probe.Result{Reason: "walletd unresponsive", Fields: f}
	}
	if p.started && p.lastErr == "" && now.Sub(p.lastOK) > p.opts.DeadAfter {
		// The poller itself is stuck.
		return probe.Result{Reason: "walletd not polled", Fields: f}
	}
	return probe.Result{OK: true, Reason: "ok", Fields: f}
}

// Started: walletd has answered at least once.
func (p *Poller) Started() probe.Result {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		return probe.Result{Reason: "walletd has not answered yet", Fields: p.fields(now)}
	}
	return probe.Result{OK: true, Reason: "ok", Fields: p.fields(now)}
}
