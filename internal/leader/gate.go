package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ErrNotLeader is returned by BeginWrite when this replica may not write:
// the election's verdict, checked before walletd sees the write. (The
// keystore's own refusal of a commit for a term it was not promoted for is
// walletsync.ErrNotPromoted.)
var ErrNotLeader = errors.New("not the writable leader")

// Gate admits writes only while this replica holds the Lease and its
// promotion has finished. It closes before anything else happens when the
// lease is lost, and it closes on its own when no renewal has succeeded for
// the renew deadline: a paused or partitioned leader cannot keep writing on
// the strength of an old renewal, whatever client-go has noticed yet.
//
// Writers use Writable, BeginWrite (it satisfies the proxy's Gate) and
// WaitIdle; Open, Extend, Close and SetHolder belong to the Elector.
type Gate struct {
	now       func() time.Time
	afterFunc func(time.Duration, func()) clock.Timer

	mu         sync.Mutex
	open       bool
	term       int64
	validUntil time.Time
	holder     string // current holder as last observed, for error texts
	timer      clock.Timer
	onExpire   func(term int64)
	inflight   int
	idle       *sync.Cond
}

// NewGate returns a closed gate. now may be nil (time.Now). onExpire, if
// set, is called (without the gate's lock) when the gate closes because its
// validity window passed.
func NewGate(now func() time.Time, onExpire func(term int64)) *Gate {
	return newGate(now, clock.RealClock{}.AfterFunc, onExpire)
}

// newGate is NewGate with the expiry timer's clock injected.
func newGate(now func() time.Time, afterFunc func(time.Duration, func()) clock.Timer, onExpire func(term int64)) *Gate {
	if now == nil {
		now = time.Now
	}
	g := &Gate{now: now, afterFunc: afterFunc, onExpire: onExpire}
	g.idle = sync.NewCond(&g.mu)
	return g
}

// Writable reports the term writes are made under and whether writes are
// allowed right now.
func (g *Gate) Writable() (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.term, g.writableLocked()
}

func (g *Gate) writableLocked() bool {
	return g.open && g.now().Before(g.validUntil)
}

// BeginWrite admits one write and returns its term (the fencing token) and
// a done func that must be called when the write has finished. On a
// replica that may not write it returns an error wrapping ErrNotLeader
// that names the leader when known.
func (g *Gate) BeginWrite(ctx context.Context) (int64, func(), error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.writableLocked() {
		if g.holder != "" {
			return 0, nil, fmt.Errorf("%w (leader: %s)", ErrNotLeader, g.holder)
		}
		return 0, nil, ErrNotLeader
	}
	g.inflight++
	var once sync.Once
	done := func() {
		once.Do(func() {
			g.mu.Lock()
			g.inflight--
			if g.inflight == 0 {
				g.idle.Broadcast()
			}
			g.mu.Unlock()
		})
	}
	return g.term, done, nil
}

// InFlight is the number of writes begun and not yet done.
func (g *Gate) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inflight
}

// WaitIdle waits until no write is in flight, or ctx ends.
func (g *Gate) WaitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.idle.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.inflight > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d writes still in flight: %w", g.inflight, err)
		}
		g.idle.Wait()
	}
	return nil
}

// Open allows writes under term until validUntil (extended by Extend).
func (g *Gate) Open(term int64, validUntil time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	g.term = term
	g.validUntil = validUntil
	g.armLocked()
}

// Extend moves the end of the validity window after a successful renewal.
// It never reopens a closed gate.
func (g *Gate) Extend(validUntil time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open || !validUntil.After(g.validUntil) {
		return
	}
	g.validUntil = validUntil
	g.armLocked()
}

// Close stops admitting writes and reports whether the gate was open.
// Writes already in flight continue; WaitIdle waits for them.
func (g *Gate) Close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closeLocked()
}

func (g *Gate) closeLocked() bool {
	was := g.open
	g.open = false
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	return was
}

// SetHolder records the current holder for "not the leader" errors.
func (g *Gate) SetHolder(holder string) {
	g.mu.Lock()
	g.holder = holder
	g.mu.Unlock()
}

// armLocked (re)starts the timer that closes the gate at validUntil, so
// metrics, hooks and labels follow even when nobody calls Writable.
func (g *Gate) armLocked() {
	if g.timer != nil {
		g.timer.Stop()
	}
	term := g.term
	g.timer = g.afterFunc(g.validUntil.Sub(g.now()), func() {
		g.mu.Lock()
		if !g.open || g.term != term || g.now().Before(g.validUntil) {
			g.mu.Unlock()
			return
		}
		g.closeLocked()
		g.mu.Unlock()
		if g.onExpire != nil {
			g.onExpire(term)
		}
	})
}
