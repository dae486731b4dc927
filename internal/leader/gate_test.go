package leader

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestGate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	g := NewGate(clock.now, nil)
	ctx := context.Background()

	t.Run("closed gate refuses writes and names the leader", func(t *testing.T) {
		g.SetHolder("factom-wallet-2")
		if _, ok := g.Writable(); ok {
			t.Fatal("new gate is writable")
		}
		_, _, err := g.BeginWrite(ctx)
		if !errors.Is(err, ErrNotLeader) || err.Error() != "not the writable leader (leader: factom-wallet-2)" {
			t.Fatalf("BeginWrite() = %v", err)
		}
	})

	t.Run("open gate admits writes under its term", func(t *testing.T) {
		g.Open(7, clock.now().Add(time.Hour))
		term, done, err := g.BeginWrite(ctx)
		if err != nil || term != 7 {
			t.Fatalf("BeginWrite() = %d, %v", term, err)
		}
		if g.InFlight() != 1 {
			t.Fatalf("InFlight() = %d", g.InFlight())
		}
		done()
		done() // idempotent
		if g.InFlight() != 0 {
			t.Fatalf("InFlight() after done = %d", g.InFlight())
		}
	})

	t.Run("gate closes by itself when the renewal window passes", func(t *testing.T) {
		g.Open(8, clock.now().Add(3*time.Second))
		clock.add(2 * time.Second)
		if _, ok := g.Writable(); !ok {
			t.Fatal("not writable inside the window")
		}
		g.Extend(clock.now().Add(3 * time.Second))
		clock.add(2 * time.Second)
		if _, ok := g.Writable(); !ok {
			t.Fatal("not writable after an extension")
		}
		clock.add(2 * time.Second)
		if term, ok := g.Writable(); ok {
			t.Fatalf("writable (term %d) past the window", term)
		}
	})

	t.Run("extend never reopens a closed gate", func(t *testing.T) {
		g.Open(9, clock.now().Add(time.Hour))
		if !g.Close() {
			t.Fatal("Close() of an open gate = false")
		}
		g.Extend(clock.now().Add(2 * time.Hour))
		if _, ok := g.Writable(); ok {
			t.Fatal("writable after Close and Extend")
		}
	})

	t.Run("WaitIdle waits for writes in flight", func(t *testing.T) {
		g.Open(10, clock.now().Add(time.Hour))
		_, done, err := g.BeginWrite(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g.Close()
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := g.WaitIdle(short); err == nil {
			t.Fatal("WaitIdle returned with a write in flight")
		}
		go done()
		if err := g.WaitIdle(ctx); err != nil {
			t.Fatalf("WaitIdle() = %v", err)
		}
	})
}

func TestGateExpiryCallback(t *testing.T) {
	expired := make(chan int64, 1)
	g := NewGate(nil, func(term int64) { expired <- term })
	g.Open(3, time.Now().Add(30*time.Millisecond))
	select {
	case term := <-expired:
		if term != 3 {
			t.Fatalf("expired term %d, want 3", term)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gate did not close itself")
	}
	if _, ok := g.Writable(); ok {
		t.Fatal("writable after expiry")
	}
}
