package main

import (
	"flag"
	"os"
	"strings"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

// rpcLogin is --NAME-user and --NAME-password-file: the basic auth the
// sidecar sends to a JSON-RPC server it polls.
type rpcLogin struct {
	name               string
	User, passwordFile string
	// Password is read from the file by Load.
	Password string
}

func (l *rpcLogin) RegisterFlags(fs *flag.FlagSet, name, userHelp, fileHelp string) {
	l.name = name
	fs.StringVar(&l.User, name+"-user", "", userHelp)
	fs.StringVar(&l.passwordFile, name+"-password-file", "", fileHelp)
}

// Validate checks that the user and the password file go together.
func (l *rpcLogin) Validate() error {
	if (l.User == "") != (l.passwordFile == "") {
		return config.Errorf(l.name+"-user", "--%s-user and --%s-password-file go together", l.name, l.name)
	}
	return nil
}

// Load reads the password file.
func (l *rpcLogin) Load() error {
	if l.passwordFile == "" {
		return nil
	}
	data, err := os.ReadFile(l.passwordFile)
	if err != nil {
		return config.Errorf(l.name+"-password-file", "%w", err)
	}
	// A file written by echo ends in a newline that is not the password's.
	l.Password = strings.TrimRight(string(data), "\r\n")
	if l.Password == "" {
		return config.Errorf(l.name+"-password-file", "%s: empty", l.passwordFile)
	}
	return nil
}

// registerFactomdLogin adds --factomd-user and --factomd-password-file.
func registerFactomdLogin(l *rpcLogin, fs *flag.FlagSet) {
	l.RegisterFlags(fs, "factomd", "factomd's RPC user (factomd -rpcuser), sent by the sidecar's polls of --factomd-url (never to other nodes)",
		"file holding factomd's RPC password (factomd -rpcpass)")
}
