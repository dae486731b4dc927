package walletsync

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "key")
	if err := os.WriteFile(good, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("secret-ish but short"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string // "" = valid
	}{
		{"defaults with a key file", []string{"--keystore-key-file", good}, ""},
		{"no key file", nil, "invalid --keystore-key-file: required"},
		{"a key file of the wrong size", []string{"--keystore-key-file", bad}, "invalid --keystore-key-file: keystore key: want 32 raw bytes"},
		{"a missing key file", []string{"--keystore-key-file", filepath.Join(dir, "nope")}, "invalid --keystore-key-file"},
		{"an empty secret name", []string{"--keystore-key-file", good, "--keystore-secret", ""}, "invalid --keystore-secret"},
		{"a previous key file", []string{"--keystore-key-file", good, "--keystore-previous-key-file", good}, ""},
		{"a previous key file that does not exist yet", []string{"--keystore-key-file", good, "--keystore-previous-key-file", filepath.Join(dir, "nope")}, ""},
		{"a previous key file of the wrong size", []string{"--keystore-key-file", good, "--keystore-previous-key-file", bad}, "invalid --keystore-previous-key-file: previous keystore key"},
		{"a tiny resync period", []string{"--keystore-key-file", good, "--keystore-resync-period", "10ms"}, "invalid --keystore-resync-period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := DefaultFlags()
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			f.RegisterFlags(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			err := f.Validate()
			if err == nil {
				err = f.Load()
			}
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				r, err := f.NewReplicator(fake.NewClientset(), "ns", nil, walletd.New(jsonrpc.New("http://127.0.0.1:1/v2", jsonrpc.Options{})), zerolog.Nop(), nil)
				if err != nil || r.InSync() {
					t.Fatalf("replicator: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secret-ish") {
				t.Fatal("key file content in error")
			}
		})
	}
}

// Validate reads nothing: a key file that does not exist passes it and is
// Load's error, named by its flag.
func TestFlagsValidateReadsNoFileAndLoadDoes(t *testing.T) {
	f := DefaultFlags()
	f.KeyFile = filepath.Join(t.TempDir(), "not-there")
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil (no I/O)", err)
	}
	if f.Keys() != nil {
		t.Fatal("keys before Load")
	}
	if err := f.Load(); err == nil || !strings.Contains(err.Error(), "invalid --keystore-key-file") {
		t.Fatalf("Load() = %v, want an error naming --keystore-key-file", err)
	}
	if _, err := f.NewReplicator(fake.NewClientset(), "ns", nil, walletd.New(jsonrpc.New("http://127.0.0.1:1/v2", jsonrpc.Options{})), zerolog.Nop(), nil); err == nil {
		t.Fatal("a replicator from flags whose keys were not loaded")
	}
}
