package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Address is a walletd address as the JSON-RPC API returns it.
type Address struct {
	Public string `json:"public"`
	Secret string `json:"secret"`
}

// Call makes one JSON-RPC call to url with a 10 s timeout.
func Call(ctx context.Context, url, method string, params, result any) error {
	c := jsonrpc.New(url, jsonrpc.Options{Timeout: 10 * time.Second})
	return c.Call(ctx, method, params, result)
}

// Writer generates EC addresses through a Service until stopped, the way
// a client with a retry loop does, recording every acknowledged address
// and every error.
type Writer struct {
	url      string
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	mu     sync.Mutex
	acked  []string
	acks   []ack
	errors int
}

// ack is one acknowledged write: when it was sent and when answered.
type ack struct{ sent, answered time.Time }

// StartWriter starts writing to url.
func StartWriter(url string) *Writer {
	w := &Writer{url: url, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			var a Address
			sent := time.Now()
			err := Call(context.Background(), w.url, "generate-ec-address", nil, &a)
			w.mu.Lock()
			if err != nil {
				w.errors++
			} else {
				w.acked = append(w.acked, a.Public)
				w.acks = append(w.acks, ack{sent, time.Now()})
			}
			w.mu.Unlock()
			if err != nil {
				time.Sleep(100 * time.Millisecond) // a client's retry pause, not a wait for a condition
			}
		}
	}()
	return w
}

// Finish stops the writer and returns what it acknowledged and how many
// calls failed. Calling it again returns the same.
func (w *Writer) Finish() (acked []string, errors int) {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	return w.acked, w.errors
}

// LastAck is when the last write was acknowledged.
func (w *Writer) LastAck() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.acks) == 0 {
		return time.Time{}
	}
	return w.acks[len(w.acks)-1].answered
}

// firstSentAfter is the answer time of the first acknowledged write sent
// at or after t0.
func (w *Writer) firstSentAfter(t0 time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.acks {
		if !a.sent.Before(t0) {
			return a.answered, true
		}
	}
	return time.Time{}, false
}

// LongestGap is the longest time without an acknowledgement between from
// and to: what a client writing in a loop saw as unavailability.
func (w *Writer) LongestGap(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, gap := from, time.Duration(0)
	for _, a := range w.acks {
		if a.answered.Before(from) {
			continue
		}
		if a.answered.After(to) {
			break
		}
		gap = max(gap, a.answered.Sub(prev))
		prev = a.answered
	}
	return max(gap, to.Sub(prev))
}

// WaitAckAfter waits until a write sent at or after t0 is acknowledged
// and returns when it was: writes already in flight at t0 do not count.
func (w *Writer) WaitAckAfter(t0 time.Time, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := testenv.Eventually(timeout, 20*time.Millisecond, func() (bool, error) {
		select {
		case <-w.done:
			return false, fmt.Errorf("writer stopped")
		default:
		}
		var ok bool
		at, ok = w.firstSentAfter(t0)
		return ok, fmt.Errorf("no write sent since %s acknowledged through the Service", t0.Format(time.TimeOnly))
	})
	return at, err
}

// Unavailable is the time between from and to spent in gaps between
// acknowledgements longer than threshold: the write unavailability a
// client writing in a loop saw, its ordinary call latency left out.
func (w *Writer) Unavailable(from, to time.Time, threshold time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, total := from, time.Duration(0)
	add := func(at time.Time) {
		if g := at.Sub(prev); g > threshold {
			total += g
		}
		prev = at
	}
	for _, a := range w.acks {
		if a.answered.Before(from) {
			continue
		}
		if a.answered.After(to) {
			break
		}
		add(a.answered)
	}
	add(to)
	return total
}
