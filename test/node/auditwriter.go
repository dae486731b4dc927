package node

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// AuditWriter appends entries to one chain as an audit-log application
// does: compose-entry through walletd (the factom-wallet Service), commit
// and reveal through factomd (the factom-bridge Service). It records every
// entry whose reveal factomd accepted and retries after any error.
type AuditWriter struct {
	wallet, factomd, ec, chain string
	accepted                   func(n int, hash string)
	stop, done                 chan struct{}

	mu     sync.Mutex
	hashes []string
	failed int
	lastAt time.Time
}

// StartAuditWriter starts writing; onAccepted, when set, is called for
// every accepted entry (n counts from 1).
func StartAuditWriter(wallet, factomd, ec, chain string, onAccepted func(n int, hash string)) *AuditWriter {
	w := &AuditWriter{wallet: wallet, factomd: factomd, ec: ec, chain: chain, accepted: onAccepted, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
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
		hash, err := testenv.WriteEntry(ctx, w.wallet, w.factomd, w.ec, w.chain, []byte("audit record "+strconv.Itoa(i)), []byte("factom-sidecar"), []byte(strconv.Itoa(i)))
		cancel()
		w.mu.Lock()
		if err != nil {
			w.failed++
		} else {
			w.hashes = append(w.hashes, hash)
			w.lastAt = time.Now()
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
