package walletsync

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
)

func TestKeystoreSizeIsReportedOnceASecretWasSeen(t *testing.T) {
	n, seen := 0, false
	c := &sizeCollector{sealedBytes: func() (int, bool) { return n, seen }}
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
