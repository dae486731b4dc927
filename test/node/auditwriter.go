package node

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// AuditWriter appends entries to one chain as an audit-log application
// does: compose-entry through walletd (the factom-wallet Service), commit
// and reveal through factomd (the factom-bridge Service). It records every
// entry whose reveal factomd accepted and retries after any error, and
// follows each accepted entry until the network acknowledges it.
type AuditWriter struct {
	wallet, factomd, ec, chain string
	accepted                   func(n int, hash string)
	stop, done                 chan struct{}
	acksDone                   chan struct{}

	mu      sync.Mutex
	hashes  []string
	failed  int
	lastAt  time.Time
	pending map[string]time.Time // accepted, not acknowledged yet → when accepted
	acked   []string
	unacked []string
}

// ackWindow is how long an accepted entry may stay unacknowledged before
// the writer counts it as never acknowledged: the network acknowledges a
// reveal within a block (6 s on the LOCAL networks here) unless the node
// that took it died first.
const ackWindow = 2 * time.Minute

// StartAuditWriter starts writing; onAccepted, when set, is called for
// every accepted entry (n counts from 1).
func StartAuditWriter(wallet, factomd, ec, chain string, onAccepted func(n int, hash string)) *AuditWriter {
	w := &AuditWriter{wallet: wallet, factomd: factomd, ec: ec, chain: chain, accepted: onAccepted,
		stop: make(chan struct{}), done: make(chan struct{}), acksDone: make(chan struct{}), pending: map[string]time.Time{}}
	go w.run()
	go w.followAcks()
	return w
}

// followAcks asks factomd (through the same Service) for the status of
// every accepted entry until it is acknowledged, or factomd has answered
// "not acknowledged" for ackWindow. It ends once the writer has stopped
// and nothing is pending, or ackWindow after that when factomd stopped
// answering. Queries run a few at a time: one to a frozen node waits out
// its timeout without holding up the others.
func (w *AuditWriter) followAcks() {
	defer close(w.acksDone)
	var stopped time.Time
	for {
		w.mu.Lock()
		hashes := make([]string, 0, len(w.pending))
		for h := range w.pending {
			hashes = append(hashes, h)
		}
		w.mu.Unlock()
		var g errgroup.Group
		g.SetLimit(8)
		for _, h := range hashes {
			g.Go(func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				ok, err := testenv.EntryAcknowledged(ctx, w.factomd, w.chain, h)
				cancel()
				w.mu.Lock()
				defer w.mu.Unlock()
				switch {
				case err == nil && ok:
					w.acked = append(w.acked, h)
					delete(w.pending, h)
				case err == nil && time.Since(w.pending[h]) > ackWindow:
					w.unacked = append(w.unacked, h)
					delete(w.pending, h)
				}
				return nil
			})
		}
		_ = g.Wait()
		select {
		case <-w.done:
			if stopped.IsZero() {
				stopped = time.Now()
			}
			w.mu.Lock()
			if time.Since(stopped) > ackWindow {
				for h := range w.pending {
					w.unacked = append(w.unacked, h)
					delete(w.pending, h)
				}
			}
			left := len(w.pending)
			w.mu.Unlock()
			if left == 0 {
				return
			}
		default:
		}
		time.Sleep(500 * time.Millisecond) // the poll period of a client following its writes
	}
}

func (w *AuditWriter) run() {
	defer close(w.done)
	for i := 1; ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		hash, err := testenv.WriteEntry(ctx, w.wallet, w.factomd, w.ec, w.chain, []byte("audit record "+strconv.Itoa(i)), []byte("factom-sidecar"), []byte(strconv.Itoa(i)))
		cancel()
		w.mu.Lock()
		if err != nil {
			w.failed++
		} else {
			w.hashes = append(w.hashes, hash)
			w.lastAt = time.Now()
			w.pending[hash] = w.lastAt
			if w.accepted != nil {
				w.accepted(len(w.hashes), hash)
			}
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(200 * time.Millisecond) // a client's retry pause
		}
	}
}

// WaitAcceptedAfter waits until an entry is accepted after t0.
func (w *AuditWriter) WaitAcceptedAfter(t0 time.Time, timeout time.Duration) error {
	return testenv.Eventually(timeout, 100*time.Millisecond, func() (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.lastAt.After(t0), fmt.Errorf("no entry accepted since %s (%d attempts failed so far)", t0.Format(time.TimeOnly), w.failed)
	})
}

// Finish stops writing and returns the accepted entries' hashes and how
// many attempts failed (and were retried).
func (w *AuditWriter) Finish() (accepted []string, failed int) {
	close(w.stop)
	<-w.done
	return w.hashes, w.failed
}

// Acknowledged waits, after Finish, until every accepted entry is
// acknowledged by the network or has waited ackWindow, and returns the
// acknowledged entries and those never acknowledged.
func (w *AuditWriter) Acknowledged() (acked, unacked []string) {
	<-w.acksDone
	return w.acked, w.unacked
}
