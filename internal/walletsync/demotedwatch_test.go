package walletsync_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// A leader demoted right after a commit may get, from its watch, the
// version of the Secret before that commit. Applying it would take the
// acknowledged key back out of its walletd (the keystore does not account
// for it yet); it waits for its own commit's version instead.
func TestADemotedLeaderDoesNotApplyAVersionOlderThanItsLastCommit(t *testing.T) {
	key := freshKeystore(t)
	rep := newLeader(t, key, testPods[0], 1)
	ctx := context.Background()
	secrets := userClient(t).CoreV1().Secrets(testenv.KubeTestNamespace)
	before, err := secrets.Get(ctx, testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := write(t, rep, 1, walletd.MethodGenerateECAddress, nil)
	if err != nil {
		t.Fatalf("acknowledged write: %v", err)
	}
	var k walletd.Key
	if err := json.Unmarshal(res, &k); err != nil || k.Public == "" {
		t.Fatalf("generate-ec-address answered %d bytes: %v", len(res), err)
	}
	acked := k.Public
	rep.r.OnDemote(1)

	if err := walletsync.ReconcileForTest(ctx, rep.r, before); err != nil {
		t.Fatal(err)
	}
	if rep.r.InSync() {
		t.Error("in sync with a version older than its own last commit")
	}
	_, held := keySet(t, rep.w)
	if !containsPublic(held, acked) {
		t.Fatalf("the acknowledged key was taken out of walletd by an older version: %s", acked)
	}

	now, err := secrets.Get(ctx, testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := walletsync.ReconcileForTest(ctx, rep.r, now); err != nil {
		t.Fatal(err)
	}
	if !rep.r.InSync() {
		t.Error("not in sync with the current version")
	}
	if _, held := keySet(t, rep.w); !containsPublic(held, acked) {
		t.Fatalf("the acknowledged key is gone after the current version: %s", acked)
	}
}

// containsPublic reports whether keySet's lines hold the public key.
func containsPublic(lines []string, public string) bool {
	for _, l := range lines {
		if pub, _, _ := strings.Cut(l, "="); pub == public {
			return true
		}
	}
	return false
}
