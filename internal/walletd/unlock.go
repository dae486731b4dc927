package walletd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

// walletd's JSON-RPC codes of an encrypted wallet (wsapi v2.4.2).
const (
	CodeLocked              = -32001
	CodeIncorrectPassphrase = -32003
)

// ReasonLocked is the readiness reason while an encrypted walletd is locked.
const ReasonLocked = "walletd_locked"

// ReadPassphrase reads an encrypted wallet's passphrase from a file (a
// trailing newline is not part of it). Errors never contain it.
func ReadPassphrase(path string) (Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("wallet passphrase: %w", err)
	}
	p := strings.TrimRight(string(data), "\r\n")
	clear(data)
	if p == "" {
		return "", fmt.Errorf("wallet passphrase: %s is empty", path)
	}
	return Secret(p), nil
}

// UnlockWallet calls unlock-wallet for d (walletd caps it at 2^30 s) and
// returns when the unlock expires.
func (c *Client) UnlockWallet(ctx context.Context, passphrase Secret, d time.Duration) (time.Time, error) {
	var res struct {
		Success       bool  `json:"success"`
		UnlockedUntil int64 `json:"unlockeduntil"`
	}
	params := map[string]any{"passphrase": passphrase.Reveal(), "timeout": int64(d / time.Second)}
	if err := c.call(ctx, "unlock-wallet", params, &res); err != nil {
		return time.Time{}, err
	}
	if !res.Success {
		return time.Time{}, &Error{Method: "unlock-wallet", Err: errors.New("walletd did not report success")}
	}
	return time.Unix(res.UnlockedUntil, 0), nil
}

// Locked reports whether walletd refuses keystore calls as locked: it looks
// up an empty address, which an unlocked walletd answers with another error
// and which returns no key either way.
func (c *Client) Locked(ctx context.Context) (bool, error) {
	_, err := c.Address(ctx, "")
	var e *Error
	if errors.As(err, &e) && e.Code == CodeLocked {
		return true, nil
	}
	if errors.As(err, &e) && e.Code != 0 {
		return false, nil // walletd answered past its lock
	}
	if err != nil {
		return false, err
	}
	return false, nil
}

// UnlockOptions tune an Unlocker; zero values take the defaults.
type UnlockOptions struct {
	// For is how long each unlock lasts (default 10m); the Unlocker
	// unlocks again once a third of it is left.
	For time.Duration
	// Check is how often walletd is checked for a lock (a restarted
	// walletd starts locked; default 2s).
	Check time.Duration
	Now   func() time.Time
}

// Unlocker keeps an encrypted walletd (factom-walletd -encrypted)
// unlocked: unlock-wallet at start, again before each unlock expires, and
// at once when walletd turns out locked (it restarted). Ready is its
// cached verdict: not ready with ReasonLocked while walletd is locked.
type Unlocker struct {
	c    *Client
	pass Secret
	opts UnlockOptions
	log  zerolog.Logger

	mu       sync.Mutex
	unlocked bool
	until    time.Time
	lastErr  string
}

// NewUnlocker returns an Unlocker of c's walletd with passphrase.
func NewUnlocker(c *Client, passphrase Secret, opts UnlockOptions, log zerolog.Logger) *Unlocker {
	if opts.For <= 0 {
		opts.For = 10 * time.Minute
	}
	if opts.Check <= 0 {
		opts.Check = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Unlocker{c: c, pass: passphrase, opts: opts, log: log}
}

// Run keeps walletd unlocked until ctx ends.
func (u *Unlocker) Run(ctx context.Context) {
	t := time.NewTicker(u.opts.Check)
	defer t.Stop()
	for {
		u.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step checks walletd once and unlocks it when it is locked or its unlock
// is about to expire.
func (u *Unlocker) Step(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.Check+5*time.Second)
	defer cancel()
	u.mu.Lock()
	due := !u.unlocked || u.opts.Now().After(u.until.Add(-u.opts.For/3))
	u.mu.Unlock()
	if !due {
		locked, err := u.c.Locked(ctx)
		if err != nil {
			u.failed(err, false)
			return
		}
		if !locked {
			return
		}
		u.log.Warn().Str("event", logging.EventWalletdLocked).Msg("walletd is locked (restarted?); unlocking it")
	}
	until, err := u.c.UnlockWallet(ctx, u.pass, u.opts.For)
	if err != nil {
		var e *Error
		u.failed(err, errors.As(err, &e) && e.Code != 0)
		return
	}
	u.mu.Lock()
	was := u.unlocked
	u.unlocked, u.until, u.lastErr = true, until, ""
	u.mu.Unlock()
	ev := u.log.Debug()
	if !was {
		ev = u.log.Info()
	}
	ev.Str("event", logging.EventWalletdUnlocked).Time("until", until).Msg("walletd unlocked")
}

// failed records a failed check or unlock. walletd refusing the unlock
// (answered) means it is locked; an unreachable walletd keeps the last
// verdict until the unlock expires (walletd's own health check reports
// it unreachable).
func (u *Unlocker) failed(err error, answered bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if answered {
		u.unlocked = false
	}
	if err.Error() != u.lastErr {
		u.log.Error().Str("event", logging.EventWalletdUnlockFailed).Err(err).Msg("could not unlock walletd; retrying")
	}
	u.lastErr = err.Error()
}

// Ready is the cached verdict: ready while walletd is unlocked.
func (u *Unlocker) Ready() probe.Result {
	u.mu.Lock()
	defer u.mu.Unlock()
	f := map[string]any{"walletdEncrypted": true}
	if !u.until.IsZero() {
		f["walletdUnlockedUntil"] = u.until.UTC().Format(time.RFC3339)
	}
	if u.lastErr != "" {
		f["walletdUnlockError"] = u.lastErr
	}
	if !u.unlocked || !u.opts.Now().Before(u.until) {
		return probe.Result{Reason: ReasonLocked, Fields: f}
	}
	return probe.Result{OK: true, Reason: "ok", Fields: f}
}
