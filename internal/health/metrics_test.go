package health

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func gatheredNames(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return " " + strings.Join(names, " ") + " "
}

// walletd mode watches a factomd under its own names, so a query on
// factom_sidecar_ready cannot pick up a walletd pod.
func TestMetricPrefixRenamesEveryMetric(t *testing.T) {
	for _, tc := range []struct{ prefix, want, notWant string }{
		{"", " factom_sidecar_ready ", " factom_sidecar_walletd_factomd_ready "},
		{"factom_sidecar_walletd_factomd_", " factom_sidecar_walletd_factomd_ready ", " factom_sidecar_ready "},
	} {
		reg := prometheus.NewRegistry()
		if _, err := NewWithOptions(DefaultConfig(), zerolog.Nop(), reg, nil, Options{MetricPrefix: tc.prefix}); err != nil {
			t.Fatal(err)
		}
		names := gatheredNames(t, reg)
		if !strings.Contains(names, tc.want) || strings.Contains(names, tc.notWant) {
			t.Errorf("prefix %q: metrics %s, want %s and not %s", tc.prefix, names, tc.want, tc.notWant)
		}
		for _, n := range strings.Fields(names) {
			if want := tc.prefix; want != "" && !strings.HasPrefix(n, want) {
				t.Errorf("prefix %q: metric %s keeps another name", tc.prefix, n)
			}
		}
	}
}
