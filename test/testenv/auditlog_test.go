package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The audit-log helpers against a real factomd LOCAL network and a real
// walletd: funding, a chain, entries, and the check that they are on it.
func TestAuditLogHelpersOnARealNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real factomd and walletd; skipped in -short mode")
	}
	dir := t.TempDir()
	node, err := StartFactomd("factomd-audit", FactomdOptions{Dir: dir, BlockTime: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop(10 * time.Second)
	w, err := StartWalletd(WalletdOptions{Dir: dir + "/walletd", Factomd: strings.TrimPrefix(node.URL(), "http://")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ec, err := NewFundedECAddress(ctx, w.URL(), node.URL(), 100)
	if err != nil {
		t.Fatalf("funding: %v\nwalletd:\n%s", err, Tail(w.Logs(), 2000))
	}
	if b, err := ECBalance(ctx, node.URL(), ec); err != nil || b < 100 {
		t.Fatalf("balance %d, %v; want at least 100", b, err)
	}
	chain, err := CreateChain(ctx, w.URL(), node.URL(), ec, []byte("audit log"), []byte("audit"), []byte(t.Name()))
	if err != nil {
		t.Fatalf("chain: %v", err)
	}
	var hashes []string
	var composedEntries []ComposedEntry
	for i := range 5 {
		c, err := ComposeEntry(ctx, w.URL(), ec, chain, []byte(fmt.Sprintf("record %d", i)), []byte("seq"))
		if err != nil {
			t.Fatalf("compose entry %d: %v", i, err)
		}
		h, err := c.Submit(ctx, node.URL())
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		hashes = append(hashes, h)
		composedEntries = append(composedEntries, c)
	}
	// A client that sends an entry again, racing the original, does not
	// write it twice (checked below: each entry once on the chain).
	_ = composedEntries[0].Resubmit(ctx, node.URL())
	// Each entry is acknowledged by the network (TransactionACK, then
	// DBlockConfirmed); an entry never written is not.
	for _, h := range hashes {
		if err := pollUntil(ctx, 200*time.Millisecond, func() (bool, error) {
			ok, err := EntryAcknowledged(ctx, node.URL(), chain, h)
			return ok, fmt.Errorf("entry %s not acknowledged (%v)", h, err)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Nor does one that sends an acknowledged entry again.
	_ = composedEntries[1].Resubmit(ctx, node.URL())
	if ok, err := EntryAcknowledged(ctx, node.URL(), chain, strings.Repeat("ab", 32)); err != nil || ok {
		t.Errorf("an entry never written: acknowledged %v, %v; want false, nil", ok, err)
	}
	if _, err := WaitOnChain(ctx, node.URL(), chain, hashes); err != nil {
		t.Fatal(err)
	}
	// Two more blocks, so an entry sent again and taken twice would be
	// on the chain twice by now.
	h, err := node.Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WaitHeight(h+2, time.Minute); err != nil {
		t.Fatal(err)
	}
	entries, err := ChainEntries(ctx, node.URL(), chain)
	if err != nil {
		t.Fatal(err)
	}
	// A chain read again from the cache of saved blocks lists at least
	// what the first read did.
	reader := newChainReader(node.URL(), chain)
	first, err := reader.entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cached := len(reader.blocks)
	again, err := reader.entries(ctx)
	if err != nil || len(again) < len(first) || len(reader.blocks) < cached {
		t.Errorf("second read: %d entries (first %d), %d blocks cached (first %d), %v", len(again), len(first), len(reader.blocks), cached, err)
	}
	// The first entry of the chain plus the five, each once, in blocks
	// after the chain's.
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.Hash]++
		if e.DBHeight <= 0 {
			t.Errorf("entry %s without a block height", e.Hash)
		}
	}
	for _, h := range hashes {
		if seen[h] != 1 {
			t.Errorf("entry %s on the chain %d times", h, seen[h])
		}
	}
	if len(entries) != len(hashes)+1 {
		t.Errorf("chain holds %d entries, want %d", len(entries), len(hashes)+1)
	}
}
