// Command test-walletd is factom-walletd's JSON-RPC server built from the
// published wallet library, for the integration tests and the demo. It
// serves the same API as factom-walletd on a loopback address.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FactomProject/factom"
	"github.com/FactomProject/wallet/v2"
	"github.com/FactomProject/wallet/v2/wsapi"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "address to serve the JSON-RPC API on")
	path := flag.String("wallet", "", "path of the bolt wallet file (required)")
	mnemonicFile := flag.String("mnemonic-file", "", "create the wallet from the 12-word mnemonic in this file when it does not exist yet")
	factomd := flag.String("factomd", "127.0.0.1:8088", "factomd API host:port")
	user := flag.String("rpc-user", "", "basic-auth user (empty: no auth)")
	pass := flag.String("rpc-password", "", "basic-auth password")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "test-walletd: -wallet is required")
		os.Exit(2)
	}

	var w *wallet.Wallet
	var err error
	if _, statErr := os.Stat(*path); os.IsNotExist(statErr) && *mnemonicFile != "" {
		raw, rerr := os.ReadFile(*mnemonicFile)
		if rerr != nil {
			fmt.Fprintln(os.Stderr, "test-walletd:", rerr)
			os.Exit(1)
		}
		w, err = wallet.ImportWalletFromMnemonic(strings.TrimSpace(string(raw)), *path)
	} else {
		w, err = wallet.NewOrOpenBoltDBWallet(*path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test-walletd:", err)
		os.Exit(1)
	}
	factom.SetFactomdServer(*factomd)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		wsapi.Stop()
		os.Exit(0)
	}()
	wsapi.Start(w, *addr, factom.RPCConfig{WalletRPCUser: *user, WalletRPCPassword: *pass})
}
