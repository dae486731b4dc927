package walletsync

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

func TestKeystoreSizeIsReportedOnceASecretWasSeen(t *testing.T) {
	n, seen := 0, false
	c := &sizeCollector{sealedBytes: func() (int, bool) { return n, seen }, historyEntries: func() (int, bool) { return 0, false }}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	// Before the first Secret only the limit is known.
	if got := testutil.CollectAndCount(c); got != 1 {
		t.Fatalf("before any Secret: %d series, want only the limit", got)
	}
	n, seen = store.MaxSealedBytes*3/4, true
	want := `
# HELP factom_sidecar_keystore_size_ratio Sealed keystore size as a fraction of its limit; at 1 keystore writes fail (keystore_too_large).
# TYPE factom_sidecar_keystore_size_ratio gauge
factom_sidecar_keystore_size_ratio 0.75
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "factom_sidecar_keystore_size_ratio"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.CollectAndCount(c, "factom_sidecar_keystore_sealed_bytes"); got != 1 {
		t.Fatalf("sealed bytes series: %d, want 1", got)
	}
}

func TestTheLeaderHistoryLengthIsReportedFromTheNewestSecret(t *testing.T) {
	r := &Replicator{}
	if _, ok := r.historyEntries(); ok {
		t.Fatal("a history length before any Secret was seen")
	}
	hist := ""
	for term := range int64(3) {
		hist = control.AppendHistory(hist, control.Transition{Term: term, To: "factom-wallet-0", Reason: "test"})
	}
	r.latest = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{control.AnnotationHistory: hist}}}
	c := &sizeCollector{sealedBytes: r.sealedBytes, historyEntries: r.historyEntries}
	want := `
# HELP factom_sidecar_leader_history_entries Leader transitions the keystore Secret's history holds (kubectl factom history; the last 100 are kept).
# TYPE factom_sidecar_leader_history_entries gauge
factom_sidecar_leader_history_entries 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "factom_sidecar_leader_history_entries"); err != nil {
		t.Fatal(err)
	}
	r.latest.Annotations[control.AnnotationHistory] = "not json"
	if got := testutil.CollectAndCount(c, "factom_sidecar_leader_history_entries"); got != 0 {
		t.Errorf("an unreadable history reported as %d series", got)
	}
}
