package walletsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

const otherSeed = walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow")

// freshKeystore skips under -short, deletes the keystore Secret and
// returns a new sealing key: each integration test starts from nothing.
func freshKeystore(t testing.TB) *keystore.SealKey {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the API server and walletd")
	}
	deleteSecret(t)
	return newSealKey(t)
}

// foreign is key i of kind from a seed no replica uses: a key to import.
func foreign(t testing.TB, kind keystore.Kind, i uint32) walletd.Key {
	t.Helper()
	d, err := keystore.NewDeriver(otherSeed)
	if err != nil {
		t.Fatal(err)
	}
	k, err := d.Key(kind, i)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func importParams(keys ...walletd.Key) map[string]any {
	var list []map[string]string
	for _, k := range keys {
		list = append(list, map[string]string{"secret": k.Secret.Reveal()})
	}
	return map[string]any{"addresses": list}
}

// touchSecret changes the Secret behind the leader's back (a label), so its
// next conditional update conflicts.
func touchSecret(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	sec, err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Get(ctx, testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	sec.Labels["touched"] = time.Now().Format("150405.000000")
	if _, err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func loadSecret(t testing.TB, key *keystore.SealKey) *store.Snapshot {
	t.Helper()
	snap, err := newStore(t, key).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func imported(st *keystore.State, public string) bool {
	return slices.ContainsFunc(st.Imported, func(i keystore.Imported) bool { return i.Public == public })
}

// viaProxy points rep's walletd client at addr (a TCP proxy in front of
// its walletd).
func viaProxy(w *walletProc, addr string) *walletProc {
	rpc := jsonrpc.New("http://"+addr+"/v2", jsonrpc.Options{Timeout: 30 * time.Second})
	return &walletProc{proc: w.proc, path: w.path, addr: addr, rpc: rpc, client: walletd.New(rpc)}
}

func keysOf(t testing.TB, w *walletProc) []string {
	t.Helper()
	_, keys := keySet(t, w)
	return keys
}

// Defect 6: a demotion that arrives while Promote runs must win: the
// replica may not end up "leader" and in sync (serving stale reads) for a
// term the election already ended.
func TestADemotionDuringPromotionWins(t *testing.T) {
	key := freshKeystore(t)
	newLeader(t, key, testPods[0], 1)
	path := walletPath(t, testPods[1])
	if res, err := walletsync.InitWallet(context.Background(), newStore(t, key), path, false); err != nil || res.Outcome != walletsync.InitCreated {
		t.Fatalf("walletd-init: %+v %v", res, err)
	}
	w := startWalletd(t, path)
	tp, err := testenv.StartTCPProxy(w.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tp.Close)
	rep := newReplica(t, testPods[1], key, viaProxy(w, tp.Addr()))

	tp.Hold() // the promotion's wallet-backup is answered only on Release
	promoted := make(chan error, 1)
	go func() { promoted <- rep.r.Promote(context.Background(), 2) }()
	if err := testenv.Eventually(10*time.Second, 10*time.Millisecond, func() (bool, error) {
		return rep.r.Role() == "promoting", fmt.Errorf("role %s", rep.r.Role())
	}); err != nil {
		t.Fatal(err)
	}
	rep.r.OnDemote(2)
	tp.Release()
	if err := <-promoted; err == nil {
		t.Error("Promote succeeded for a term that was demoted meanwhile")
	}
	if rep.r.Role() != "follower" || rep.r.InSync() {
		t.Fatalf("after a demotion during promotion: role %s, in sync %v", rep.r.Role(), rep.r.InSync())
	}
	if _, err := write(t, rep, 2, walletd.MethodGenerateECAddress, nil); !errors.Is(err, walletsync.ErrNotPromoted) {
		t.Fatalf("commit after the demotion: %v, want ErrNotPromoted", err)
	}
}

func waitApplied(t testing.TB, rep *replica, gen int64) {
	t.Helper()
	err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		return rep.r.AppliedGeneration() == gen && rep.r.InSync(), errors.New(rep.r.ReadyCheck()().Reason)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
