// Command test-walletd is factom-walletd v2.4.2 built from the published
// wallet library, for the integration tests, the demo and the test node's
// walletd image. It takes factom-walletd's own flags (-p, -w, -s,
// -walletuser, -walletpassword, -wallettls, ...) and, like factom-walletd,
// opens the transaction cache beside the wallet file and syncs it from
// factomd before it listens. The long names the tests used first (-addr,
// -wallet, -factomd, -rpc-user, -rpc-password) still work; -addr and
// -mnemonic-file have no factom-walletd equivalent.
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
	var path, factomd, user, pass string
	port := flag.Int("p", 8089, "set the port to host the wsapi (all interfaces, as factom-walletd)")
	addr := flag.String("addr", "", "host:port to serve on instead of -p (tests bind loopback)")
	flag.StringVar(&path, "w", "", "set the default wallet location (required)")
	flag.StringVar(&path, "wallet", "", "same as -w")
	flag.StringVar(&factomd, "s", "localhost:8088", "IPAddr:port# of factomd API to use to access blockchain")
	flag.StringVar(&factomd, "factomd", "localhost:8088", "same as -s")
	flag.StringVar(&user, "walletuser", "", "Username to expect before allowing connections")
	flag.StringVar(&user, "rpc-user", "", "same as -walletuser")
	flag.StringVar(&pass, "walletpassword", "", "Password to expect before allowing connections")
	flag.StringVar(&pass, "rpc-password", "", "same as -walletpassword")
	tlsOn := flag.Bool("wallettls", false, "Set to true to require encrypted connections to the wallet")
	tlsKey := flag.String("walletkey", "", "the PRIVATE TLS key of the wallet API")
	tlsCert := flag.String("walletcert", "", "the PUBLIC TLS certificate of the wallet API")
	factomdUser := flag.String("factomduser", "", "Username for API connections to factomd")
	factomdPass := flag.String("factomdpassword", "", "Password for API connections to factomd")
	encrypted := flag.Bool("encrypted", false, "open an encrypted wallet file (as walletd -encrypted); it stays locked until unlock-wallet")
	mnemonicFile := flag.String("mnemonic-file", "", "create the wallet from the 12-word mnemonic in this file when it does not exist yet")
	flag.Parse()
	if path == "" {
		fmt.Fprintln(os.Stderr, "test-walletd: -w is required")
		os.Exit(2)
	}
	listen := *addr
	if listen == "" {
		listen = fmt.Sprintf(":%d", *port)
	}

	var w *wallet.Wallet
	var err error
	_, statErr := os.Stat(path)
	switch {
	case *encrypted && statErr != nil:
		// factom-walletd asks for a new wallet's passphrase on its
		// terminal; here walletd-init writes the encrypted file first.
		fmt.Fprintln(os.Stderr, "test-walletd: -encrypted needs an existing encrypted wallet file:", statErr)
		os.Exit(1)
	case *encrypted:
		w, err = wallet.NewEncryptedBoltDBWalletAwaitingPassphrase(path)
	case os.IsNotExist(statErr) && *mnemonicFile != "":
		raw, rerr := os.ReadFile(*mnemonicFile)
		if rerr != nil {
			fmt.Fprintln(os.Stderr, "test-walletd:", rerr)
			os.Exit(1)
		}
		w, err = wallet.ImportWalletFromMnemonic(strings.TrimSpace(string(raw)), path)
	default:
		w, err = wallet.NewOrOpenBoltDBWallet(path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test-walletd:", err)
		os.Exit(1)
	}
	factom.SetFactomdServer(factomd)
	factom.SetFactomdRpcConfig(*factomdUser, *factomdPass)

	// factom-walletd v2.4.2 opens the transaction cache beside the wallet
	// and brings it up to date from factomd before it serves: on a long
	// chain this is why walletd listens late (the startup probe's reason).
	if txdb, err := wallet.NewTXBoltDB(path + ".cache"); err != nil {
		fmt.Println("Could not add transaction database to wallet:", err)
	} else {
		if _, err := txdb.Update(); err != nil {
			fmt.Println("transaction cache not updated:", err)
		}
		w.AddTXDB(txdb)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		wsapi.Stop()
		os.Exit(0)
	}()
	wsapi.Start(w, listen, factom.RPCConfig{
		WalletRPCUser: user, WalletRPCPassword: pass,
		WalletTLSEnable: *tlsOn, WalletTLSKeyFile: *tlsKey, WalletTLSCertFile: *tlsCert,
	})
}
