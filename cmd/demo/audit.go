package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/testenv"
)

// auditLog is the demo's audit-log application: it appends entries to one
// chain through the Services (compose-entry through factom-wallet, commit
// and reveal through factom-bridge) until stopped, across the failover and
// the frozen factomd.
type auditLog struct {
	out                        io.Writer
	wallet, factomd, ec, chain string
	stop, done                 chan struct{}

	mu       sync.Mutex
	accepted []string
	failed   int
}

func startAuditLog(ctx context.Context, out io.Writer, wallet, factomd string) (*auditLog, error) {
	a := &auditLog{out: out, wallet: wallet, factomd: factomd, stop: make(chan struct{}), done: make(chan struct{})}
	setup, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var err error
	if a.ec, err = testenv.NewFundedECAddress(setup, wallet, factomd, 20000); err != nil {
		return nil, fmt.Errorf("buy entry credits: %w", err)
	}
	fmt.Fprintf(out, "    bought 20,000 entry credits for %s with the LOCAL network's funded factoid key\n", a.ec)
	if a.chain, err = testenv.CreateChain(setup, wallet, factomd, a.ec, []byte("factom-sidecar demo audit log"), []byte("factom-sidecar-demo"), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return nil, fmt.Errorf("create the chain: %w", err)
	}
	fmt.Fprintf(out, "    created chain %s\n", a.chain)
	go a.run()
	return a, nil
}

func (a *auditLog) run() {
	defer close(a.done)
	for i := 1; ; i++ {
		select {
		case <-a.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		hash, err := testenv.WriteEntry(ctx, a.wallet, a.factomd, a.ec, a.chain, []byte("audit record "+strconv.Itoa(i)), []byte("record"), []byte(strconv.Itoa(i)))
		cancel()
		a.mu.Lock()
		if err != nil {
			a.failed++
		} else {
			a.accepted = append(a.accepted, hash)
			if len(a.accepted) <= 3 {
				fmt.Fprintf(a.out, "    entry %d accepted by factomd: %s\n", len(a.accepted), hash)
			}
		}
		a.mu.Unlock()
		if err != nil {
			time.Sleep(200 * time.Millisecond) // a client's retry pause
		}
	}
}

// finish stops writing and shows where the entries landed.
func (a *auditLog) finish(ctx context.Context) error {
	close(a.stop)
	<-a.done
	check, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	entries, err := testenv.WaitOnChain(check, a.factomd, a.chain, a.accepted)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	on := map[string]int{}
	blocks := map[int64]int{}
	for _, e := range entries {
		on[e.Hash]++
		blocks[e.DBHeight]++
	}
	for i, e := range entries {
		if i < 3 || i == len(entries)-1 {
			fmt.Fprintf(a.out, "    %s landed in directory block %d\n", e.Hash, e.DBHeight)
		}
	}
	twice := 0
	for _, n := range on {
		if n > 1 {
			twice++
		}
	}
	fmt.Fprintf(a.out, "    %d entries written, %d on the chain (in %d blocks), %d twice; %d attempts failed during the disruptions and were retried\n",
		len(a.accepted), len(on), len(blocks), twice, a.failed)
	if twice > 0 || len(on) < len(a.accepted) {
		return fmt.Errorf("audit log: %d entries twice, %d of %d on the chain", twice, len(on), len(a.accepted))
	}
	return nil
}
