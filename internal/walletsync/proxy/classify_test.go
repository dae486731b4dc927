package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// walletdMethods is every method walletd v2.4.2 serves (wsapi.go,
// handleV2Request) with the class the proxy gives it.
var walletdMethods = map[string]Class{
	"address":                                ClassRead,
	"all-addresses":                          ClassRead,
	"generate-ec-address":                    ClassKeystore,
	"generate-factoid-address":               ClassKeystore,
	"import-addresses":                       ClassKeystore,
	"import-koinify":                         ClassKeystore,
	"wallet-backup":                          ClassRead,
	"transactions":                           ClassRead,
	"new-transaction":                        ClassTransaction,
	"delete-transaction":                     ClassTransaction,
	"tmp-transactions":                       ClassTransaction,
	"transaction-hash":                       ClassTransaction,
	"add-input":                              ClassTransaction,
	"add-output":                             ClassTransaction,
	"add-ec-output":                          ClassTransaction,
	"add-fee":                                ClassTransaction,
	"sub-fee":                                ClassTransaction,
	"sign-transaction":                       ClassTransaction,
	"sign-data":                              ClassRead,
	"compose-transaction":                    ClassTransaction,
	"remove-address":                         ClassKeystore,
	"properties":                             ClassRead,
	"compose-chain":                          ClassCompose,
	"compose-entry":                          ClassCompose,
	"get-height":                             ClassRead,
	"wallet-balances":                        ClassRead,
	"identity-key":                           ClassRead,
	"all-identity-keys":                      ClassRead,
	"import-identity-keys":                   ClassKeystore,
	"generate-identity-key":                  ClassKeystore,
	"remove-identity-key":                    ClassKeystore,
	"active-identity-keys":                   ClassRead,
	"compose-identity-chain":                 ClassCompose,
	"compose-identity-key-replacement":       ClassCompose,
	"compose-identity-attribute":             ClassCompose,
	"compose-identity-attribute-endorsement": ClassCompose,
	"unlock-wallet":                          ClassUnlock,
}

func TestClassifyEveryWalletdMethod(t *testing.T) {
	for method, want := range walletdMethods {
		if got := Classify(method); got != want {
			t.Errorf("Classify(%q) = %s, want %s", method, got, want)
		}
	}
	if len(methods) != len(walletdMethods) {
		t.Errorf("the classifier knows %d methods, the table %d", len(methods), len(walletdMethods))
	}
	for _, method := range []string{"", "Generate-EC-Address", "generate-ec-address ", "wallet-passphrase", "delete-everything"} {
		c := Classify(method)
		if c != ClassUnknown || !c.LeaderOnly() || !c.Committed() {
			t.Errorf("Classify(%q) = %s, want unknown (a committed leader-only write)", method, c)
		}
	}
	for c, want := range map[Class][2]bool{
		ClassRead:        {false, false},
		ClassCompose:     {false, false},
		ClassKeystore:    {true, true},
		ClassTransaction: {true, false},
		ClassUnlock:      {true, false},
	} {
		if c.LeaderOnly() != want[0] || c.Committed() != want[1] {
			t.Errorf("%s: leader only %v, committed %v; want %v", c, c.LeaderOnly(), c.Committed(), want)
		}
	}
}

// The table above must match the walletd the project builds: read the
// method names from the wallet module's wsapi.go (the version
// tools/factom pins, in the module cache since `make tools`).
func TestClassifyTableMatchesWalletdSource(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/FactomProject/wallet/v2")
	cmd.Dir = filepath.Join(root, "tools", "factom")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("locate the wallet module: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "wsapi", "wsapi.go"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "func handleV2Request(")
	if start < 0 {
		t.Fatal("handleV2Request not found in wsapi.go")
	}
	body = body[start:]
	body = body[:strings.Index(body, "\n}\n")]
	var inSource []string
	for _, m := range regexp.MustCompile(`case "([^"]+)":`).FindAllStringSubmatch(body, -1) {
		if !slices.Contains(inSource, m[1]) {
			inSource = append(inSource, m[1])
		}
	}
	if len(inSource) < 30 {
		t.Fatalf("found only %d methods in wsapi.go: %v", len(inSource), inSource)
	}
	for _, m := range inSource {
		if _, ok := walletdMethods[m]; !ok {
			t.Errorf("walletd serves %q, which the table does not classify", m)
		}
	}
	for m := range walletdMethods {
		if !slices.Contains(inSource, m) {
			t.Errorf("the table classifies %q, which walletd does not serve", m)
		}
	}
}

func TestLogMethodKeepsUnknownClientInputOutOfTheLog(t *testing.T) {
	for in, want := range map[string]string{
		"generate-ec-address": "generate-ec-address",
		"wallet-passphrase":   "wallet-passphrase",
		"Fs1KWJrpLdfucvmYwN2nWrwepLn8ercpMbzXshd1g8zyhKXLVLWj":    "(not a method name)",
		"abandon ability able about above absent absorb abstract": "(not a method name)",
		strings.Repeat("a", 65):                                   "(not a method name)",
	} {
		if got := logMethod(in, Classify(in)); got != want {
			t.Errorf("logMethod(%q) = %q, want %q", in, got, want)
		}
	}
}
