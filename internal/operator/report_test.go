package operator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

// Bodies as the sidecars serve them on /status (trimmed to what is read).
const (
	leaderBody   = `{"mode":"walletd","election":{"role":"leader","writable":true,"term":4},"keystore":{"role":"leader","appliedGeneration":9,"keystoreInSync":true,"keystoreSyncMessage":"leader"},"walletd":{"ready":true,"reason":"ok"}}`
	followerBody = `{"mode":"walletd","election":{"role":"follower","writable":false,"term":4},"keystore":{"role":"follower","appliedGeneration":9,"keystoreInSync":true,"keystoreSyncMessage":"in sync"},"walletd":{"ready":true,"reason":"ok"}}`
	behindBody   = `{"mode":"walletd","election":{"role":"follower","writable":false,"term":4},"keystore":{"role":"follower","appliedGeneration":7,"keystoreInSync":false,"keystoreSyncMessage":"applying the keystore to walletd failed"},"walletd":{"ready":false,"reason":"walletd unreachable"}}`
	bridgeReady  = `{"ready":{"ready":true,"reason":"ok","lag":0},"local":{"height":120,"entryHeight":120},"networkHeight":120}`
	bridgeLag    = `{"ready":{"ready":false,"reason":"lagging","lag":12},"local":{"height":108,"entryHeight":100},"networkHeight":120}`
)

func podState(t *testing.T, name, body string) PodState {
	t.Helper()
	ps := PodState{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{PodIP: "10.0.0.1"}}}
	if body != "" {
		if err := json.Unmarshal([]byte(body), &ps.Body); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

func TestReportOfAHealthySystem(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := &Snapshot{
		Namespace: "factom",
		Lease:     LeaseState{Found: true, Holder: "factom-wallet-0", Term: 4},
		Keystore:  KeystoreState{Found: true, Term: 4, Generation: 9},
		Wallet:    []PodState{podState(t, "factom-wallet-0", leaderBody), podState(t, "factom-wallet-1", followerBody)},
		Bridge:    []PodState{podState(t, "factom-bridge-0", bridgeReady)},
		History:   []control.Transition{{Term: 4, From: "factom-wallet-1", To: "factom-wallet-0", Reason: "switchover", Time: now.Add(-90 * time.Second)}},
	}
	r := BuildReport(s, now)
	if !r.Healthy || len(r.Problems) != 0 {
		t.Fatalf("problems %v on a healthy system", r.Problems)
	}
	if w := r.Wallet[0]; w.Role != "leader" || !w.Writable || w.Term != 4 || w.AppliedGeneration != 9 || w.LastTransition != "leader since term 4, 1m30s ago" {
		t.Errorf("leader row %+v", w)
	}
	if w := r.Wallet[1]; w.LastTransition != "follower since term 4 (factom-wallet-0 took over), 1m30s ago" {
		t.Errorf("follower row %+v", w)
	}
	var out bytes.Buffer
	if err := PrintTables(&out, false, WalletTable(r), BridgeTable(r)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"factom-wallet-0   leader", "factom-bridge-0   yes     ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReportNamesEveryProblem(t *testing.T) {
	s := &Snapshot{
		Namespace: "factom",
		Lease:     LeaseState{Found: true, Holder: "factom-wallet-0", Term: 4, Paused: true},
		Keystore:  KeystoreState{Found: true, Term: 4, Generation: 9},
		Wallet: []PodState{
			podState(t, "factom-wallet-0", leaderBody),
			podState(t, "factom-wallet-1", behindBody),
			{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "factom-wallet-2"}}, Error: "no pod IP"},
		},
		Bridge: []PodState{podState(t, "factom-bridge-0", bridgeLag)},
	}
	r := BuildReport(s, time.Now())
	want := []string{
		"factom-wallet-1: follower out of sync (applying the keystore to walletd failed)",
		"factom-wallet-1: walletd unhealthy (walletd unreachable)",
		"factom-wallet-2: no pod IP",
		"factom-bridge-0: bridge not ready (lagging)",
	}
	if r.Healthy || strings.Join(r.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(r.Problems, "\n"), strings.Join(want, "\n"))
	}
	if b := r.Bridge[0]; *b.Lag != 12 || *b.LocalHeight != 108 || *b.NetworkHeight != 120 || *b.EntryHeight != 100 {
		t.Errorf("bridge row %+v", b)
	}
	var out bytes.Buffer
	if err := PrintTables(&out, true, WalletTable(r)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"leader (paused)", "no: applying the keystore", "no pod IP", "10.0.0.1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("wide table lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(Summary(r), "failover PAUSED") {
		t.Errorf("summary %q does not say paused", Summary(r))
	}
}

func TestReportWithoutALeader(t *testing.T) {
	s := &Snapshot{Lease: LeaseState{Found: true, Term: 4}, Wallet: []PodState{podState(t, "factom-wallet-1", followerBody)}}
	r := BuildReport(s, time.Now())
	if r.Healthy || !strings.Contains(strings.Join(r.Problems, ";"), "no leader") || !strings.Contains(strings.Join(r.Problems, ";"), "no writable leader") {
		t.Errorf("problems %v", r.Problems)
	}
}

func TestSwitchoverTargetChoice(t *testing.T) {
	s := &Snapshot{
		Lease:    LeaseState{Found: true, Holder: "factom-wallet-0", Term: 4},
		Keystore: KeystoreState{Found: true, Generation: 9},
		Wallet:   []PodState{podState(t, "factom-wallet-0", leaderBody), podState(t, "factom-wallet-1", behindBody), podState(t, "factom-wallet-2", followerBody)},
	}
	r := BuildReport(s, time.Now())
	from, to, err := chooseTarget(r, "")
	if err != nil || from != "factom-wallet-0" || to.Pod != "factom-wallet-2" {
		t.Errorf("best target: %s → %s, %v; want factom-wallet-0 → factom-wallet-2", from, to.Pod, err)
	}
	for target, reason := range map[string]string{
		"factom-wallet-1": "factom-wallet-1: it is not in sync: applying the keystore to walletd failed",
		"factom-wallet-0": "factom-wallet-0: it is already the leader",
		"factom-wallet-9": `no wallet pod "factom-wallet-9"`,
	} {
		if _, _, err := chooseTarget(r, target); err == nil || err.Error() != "switchover refused: "+reason {
			t.Errorf("--to %s: %v, want the refusal %q", target, err, reason)
		}
	}
	r.Lease.Paused = true
	if _, _, err := chooseTarget(r, "factom-wallet-2"); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Errorf("switchover while paused: %v", err)
	}
}

func TestUnknownOutputFormatIsRefusedBeforeAnyRequest(t *testing.T) {
	var out, errOut bytes.Buffer
	cmd := NewCommand(Streams{Out: &out, ErrOut: &errOut})
	// An unreachable server: the refusal must come before any request.
	cmd.SetArgs([]string{"status", "-o", "xml", "--server", "https://127.0.0.1:1"})
	err := cmd.Execute()
	if err == nil || err.Error() != `-o "xml": want table, wide, json or yaml` {
		t.Errorf("err %v", err)
	}
}
