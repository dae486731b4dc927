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
// and reveal through factomd (the factom-bridge Service), retrying after
// any error. It follows each accepted entry until the network acknowledges
// it, and sends an entry's commit and reveal again while the network does
// not know it: a factomd that took a reveal and was killed before it passed
// it on has lost it, and only the client still holds it.
type AuditWriter struct {
	wallet, factomd, ec, chain string
	accepted                   func(n int, hash string)
	stop, done                 chan struct{}
	acksDone                   chan struct{}

	mu      sync.Mutex
	hashes  []string
	failed  int
	lastAt  time.Time
	at      map[string]time.Time     // accepted → when
	pending map[string]*pendingEntry // accepted, not acknowledged yet
	acked   []string
	unacked []string
	resent  map[string]bool // entries whose commit and reveal were sent again
}

type pendingEntry struct {
	entry testenv.ComposedEntry
	sent  time.Time // when the commit and reveal were last sent
}

const (
	// resendAfter is how long an accepted entry may go unacknowledged
	// before its commit and reveal are sent again: the network
	// acknowledges a reveal within a second unless the node that took
	// it died first, and 15 s is more than two blocks here.
	resendAfter = 15 * time.Second
	// ackWindow is how long the writer follows an entry before it
	// counts it as never acknowledged.
	ackWindow = 2 * time.Minute
)

// StartAuditWriter starts writing; onAccepted, when set, is called for
// every accepted entry (n counts from 1).
func StartAuditWriter(wallet, factomd, ec, chain string, onAccepted func(n int, hash string)) *AuditWriter {
	w := &AuditWriter{wallet: wallet, factomd: factomd, ec: ec, chain: chain, accepted: onAccepted,
		stop: make(chan struct{}), done: make(chan struct{}), acksDone: make(chan struct{}),
		pending: map[string]*pendingEntry{}, at: map[string]time.Time{}, resent: map[string]bool{}}
	go w.run()
	go w.followAcks()
	return w
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
		entry, hash, err := w.write(ctx, i)
		cancel()
		w.mu.Lock()
		if err != nil {
			w.failed++
		} else {
			w.hashes = append(w.hashes, hash)
			w.lastAt = time.Now()
			w.pending[hash] = &pendingEntry{entry: entry, sent: w.lastAt}
			w.at[hash] = w.lastAt
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

func (w *AuditWriter) write(ctx context.Context, i int) (testenv.ComposedEntry, string, error) {
	entry, err := testenv.ComposeEntry(ctx, w.wallet, w.ec, w.chain, []byte("audit record "+strconv.Itoa(i)), []byte("factom-sidecar"), []byte(strconv.Itoa(i)))
	if err != nil {
		return entry, "", err
	}
	hash, err := entry.Submit(ctx, w.factomd)
	return entry, hash, err
}

// followAcks asks factomd (through the same Service) for the status of
// every pending entry, sends again those unacknowledged for resendAfter,
// and gives up on an entry after ackWindow. It ends once the writer has
// stopped and nothing is pending. Queries run a few at a time: one to a
// frozen node waits out its timeout without holding up the others.
func (w *AuditWriter) followAcks() {
	defer close(w.acksDone)
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
				w.follow(h)
				return nil
			})
		}
		_ = g.Wait()
		select {
		case <-w.done:
			w.mu.Lock()
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

func (w *AuditWriter) follow(h string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, err := testenv.EntryAcknowledged(ctx, w.factomd, w.chain, h)
	w.mu.Lock()
	p := w.pending[h]
	switch {
	case err == nil && ok:
		w.acked = append(w.acked, h)
		delete(w.pending, h)
		w.mu.Unlock()
		return
	case time.Since(w.at[h]) > ackWindow:
		w.unacked = append(w.unacked, h)
		delete(w.pending, h)
		w.mu.Unlock()
		return
	case err != nil || time.Since(p.sent) < resendAfter:
		w.mu.Unlock()
		return
	}
	p.sent = time.Now()
	w.resent[h] = true
	w.mu.Unlock()
	// The same signed commit and reveal: the network takes them once,
	// so a send that races the original cannot write the entry twice. A
	// failed send is tried again after resendAfter.
	_ = p.entry.Resubmit(ctx, w.factomd)
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
// acknowledged by the network or was followed for ackWindow, and returns
// the acknowledged entries, those never acknowledged, and those whose
// commit and reveal had to be sent again.
func (w *AuditWriter) Acknowledged() (acked, unacked, resent []string) {
	<-w.acksDone
	for h := range w.resent {
		resent = append(resent, h)
	}
	return w.acked, w.unacked, resent
}

// AcceptedAt is when factomd first accepted an entry's reveal.
func (w *AuditWriter) AcceptedAt(hash string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at[hash]
}
