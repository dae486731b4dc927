package proxy

import (
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/FactomProject/factom"
)

func newIdentitySecret(t *testing.T) *factom.IdentityKey {
	t.Helper()
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	k, err := factom.MakeIdentityKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A client's identity import through the proxy lands in walletd, is
// answered as walletd answers it, and its secret never reaches walletd's
// own output (which prints the params of every call that succeeds).
func TestAnIdentityImportIsAnsweredAndNotPrintedByWalletd(t *testing.T) {
	proc, url, err := startWalletd(t.TempDir(), "quiet")
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(5e9)
	tp := newTestProxy(t, Options{WalletdURL: url})
	a, b := newIdentitySecret(t), newIdentitySecret(t)
	resp := call(t, tp.URL, "import-identity-keys", map[string]any{"keys": []map[string]string{{"secret": a.SecString()}, {"secret": b.SecString()}}})
	if resp.Error != nil {
		t.Fatalf("import-identity-keys: %s", resp.Raw)
	}
	var got struct {
		Keys []struct{ Public, Secret string } `json:"keys"`
	}
	if err := json.Unmarshal(resp.Result, &got); err != nil || len(got.Keys) != 2 || got.Keys[0].Public != a.PubString() || got.Keys[1].Secret != b.SecString() {
		t.Fatalf("answer %s, want walletd's shape with both keys", resp.Raw)
	}
	held := call(t, url, "all-identity-keys", nil)
	for _, k := range []*factom.IdentityKey{a, b} {
		if !strings.Contains(held.Raw, k.PubString()) {
			t.Fatalf("walletd does not hold %s: %s", k.PubString(), held.Raw)
		}
		if strings.Contains(proc.Logs(), k.SecString()) {
			t.Fatalf("walletd printed an imported identity secret (log %s)", filepath.Base(proc.LogPath))
		}
	}
}

// A batch with a key that is not an identity secret is refused before
// walletd sees it, so walletd does not insert the valid keys before it.
func TestAnIdentityBatchWithABadKeyReachesNothing(t *testing.T) {
	proc, url, err := startWalletd(t.TempDir(), "quietbad")
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(5e9)
	tp := newTestProxy(t, Options{WalletdURL: url})
	good := newIdentitySecret(t)
	resp := call(t, tp.URL, "import-identity-keys", map[string]any{"keys": []map[string]string{{"secret": good.SecString()}, {"secret": "idsec-not-a-key"}}})
	if resp.code() != walletdInvalidParams || !strings.Contains(resp.Error.Message, "key 2") {
		t.Fatalf("want invalid params naming key 2, got %s", resp.Raw)
	}
	if strings.Contains(resp.Raw, "idsec-not-a-key") || strings.Contains(resp.Raw, good.SecString()) {
		t.Fatalf("the refusal echoes a key: %s", resp.Raw)
	}
	if n := tp.Upstream.n.Load(); n != 0 {
		t.Fatalf("%d requests reached walletd", n)
	}
	if held := call(t, url, "all-identity-keys", nil); strings.Contains(held.Raw, good.PubString()) {
		t.Fatalf("walletd holds a key of the refused batch: %s", held.Raw)
	}
}
