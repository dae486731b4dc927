package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/node"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// auditLog is the demo's audit-log application, writing through the
// Services across the failover and the frozen factomd.
type auditLog struct {
	out     io.Writer
	factomd string
	chain   string
	w       *node.AuditWriter
}

func startAuditLog(ctx context.Context, out io.Writer, wallet, factomd string) (*auditLog, error) {
	setup, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	ec, err := testenv.NewFundedECAddress(setup, wallet, factomd, 20000)
	if err != nil {
		return nil, fmt.Errorf("buy entry credits: %w", err)
	}
	fmt.Fprintf(out, "    bought 20,000 entry credits for %s with the LOCAL network's funded factoid key\n", ec)
	chain, err := testenv.CreateChain(setup, wallet, factomd, ec, []byte("factom-sidecar demo audit log"), []byte("factom-sidecar-demo"), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	if err != nil {
		return nil, fmt.Errorf("create the chain: %w", err)
	}
	fmt.Fprintf(out, "    created chain %s\n", chain)
	a := &auditLog{out: out, factomd: factomd, chain: chain}
	a.w = node.StartAuditWriter(wallet, factomd, ec, chain, func(n int, hash string) {
		if n <= 3 {
			fmt.Fprintf(out, "    entry %d accepted by factomd: %s\n", n, hash)
		}
	})
	return a, nil
}

// finish stops writing and shows where the entries landed.
func (a *auditLog) finish(ctx context.Context) error {
	accepted, failed := a.w.Finish()
	// Wait for the network's ack of every entry, sending again what a
	// killed factomd lost, as an audit-log client does.
	_, unacked, resent := a.w.Acknowledged()
	fmt.Fprintf(a.out, "    %d entries acknowledged by the network, %d of them after being sent again, %d never\n", len(accepted)-len(unacked), len(resent), len(unacked))
	check, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	entries, err := testenv.WaitOnChain(check, a.factomd, a.chain, accepted)
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
		len(accepted), len(on), len(blocks), twice, failed)
	if twice > 0 || len(on) < len(accepted) {
		return fmt.Errorf("audit log: %d entries twice, %d of %d on the chain", twice, len(on), len(accepted))
	}
	return nil
}
