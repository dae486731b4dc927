package proxy

import (
	"strings"
	"testing"
)

// FuzzTransactionLost: walletd's error bodies never panic the check, and
// only walletd's own "not found" data counts as a lost transaction.
func FuzzTransactionLost(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"wallet: Transaction name was not found"}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"wallet: Transaction name already exists"}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error"}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"data":{"x":"wallet: Transaction name was not found"}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"name":"tx"}}`,
		`{"error":null}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if transactionLost(body) && !strings.Contains(string(body), "not found") && !strings.Contains(string(body), `\u`) {
			t.Fatalf("lost transaction read from %q", body)
		}
	})
}

func TestTransactionLost(t *testing.T) {
	for body, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"wallet: Transaction name was not found"}}`:  true,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"wallet: Transaction name already exists"}}`: false,
		`{"jsonrpc":"2.0","id":1,"result":"wallet: Transaction name was not found"}`:                                                   false,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error"}}`:                                                  false,
	} {
		if got := transactionLost([]byte(body)); got != want {
			t.Errorf("transactionLost(%s) = %v, want %v", body, got, want)
		}
	}
}
