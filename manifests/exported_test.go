package manifests_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// exportedNames reads the metric names (samples, so histogram _bucket,
// _sum and _count included) from a sidecar's /metrics.
func exportedNames(addr string, into map[string]bool) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			into[line[:i]] = true
		}
	}
	return sc.Err()
}

func rpc(url, method string) error {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q}`, method)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("%s: HTTP %d %s", method, resp.StatusCode, out)
	}
	return nil
}

// Every metric the dashboard and the alert rules query is one that real
// sidecars export: a factomd-mode sidecar next to a real factomd (with one
// reference down, so poll errors exist), and three walletd replicas on the
// real API server after a write and a read through the proxy.
func TestDashboardAndAlertsQueryMetricsRealSidecarsExport(t *testing.T) {
	needKube(t)
	dir := t.TempDir()
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	node, err := testenv.StartFactomd("factomd", testenv.FactomdOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Stop(10 * time.Second) })
	listenPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	deadPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	bridgeAddr := "127.0.0.1:" + strconv.Itoa(listenPort)
	bridge, err := testenv.Start("bridge-sidecar", sidecar, []string{"factomd", "--listen", bridgeAddr,
		"--factomd-url", node.URL(), "--reference-url", node.URL(), "--reference-url", "http://127.0.0.1:" + strconv.Itoa(deadPort),
		"--poll-interval", "500ms", "--poll-timeout", "400ms"}, nil, filepath.Join(dir, "bridge-sidecar.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bridge.Stop(10 * time.Second) })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{Dir: filepath.Join(dir, "wallet"), Sidecar: sidecar,
		Factomd: strings.TrimPrefix(node.URL(), "http://"), LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	leader, err := cluster.Leader(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := rpc(leader.ProxyURL(), "generate-ec-address"); err != nil {
		t.Fatal(err)
	}
	addrs := []string{bridgeAddr}
	for _, p := range cluster.Pods {
		addrs = append(addrs, p.Listen)
	}
	// Wait for what the write and the read leave behind: the followers
	// apply it (replication lag observed), the bridge sees its heights.
	wantSeen := []string{"factom_sidecar_replication_lag_seconds_bucket", "factom_sidecar_proxy_requests_total",
		"factom_sidecar_poll_errors_total", "factom_sidecar_lag_blocks", "leader_election_master_status", "factom_sidecar_keystore_size_ratio"}
	exported := map[string]bool{}
	err = testenv.Eventually(time.Minute, 250*time.Millisecond, func() (bool, error) {
		for _, p := range cluster.Pods {
			if err := rpc(p.ProxyURL(), "properties"); err != nil {
				return false, err
			}
		}
		exported = map[string]bool{}
		for _, a := range addrs {
			if err := exportedNames(a, exported); err != nil {
				return false, err
			}
		}
		for _, n := range wantSeen {
			if !exported[n] {
				return false, fmt.Errorf("no sidecar exports %s yet", n)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	queried := dashboardMetrics(t)
	if len(queried) < 25 {
		t.Fatalf("the dashboard names only %d metrics: %v", len(queried), queried)
	}
	for _, n := range queried {
		if !exported[n] {
			t.Errorf("the dashboard queries %s, which no sidecar exports", n)
		}
	}
	for _, r := range alertRules(t) {
		for _, n := range metricNames(r.Expr) {
			if !exported[n] {
				t.Errorf("alert %s queries %s, which no sidecar exports", r.Alert, n)
			}
		}
	}
	if t.Failed() {
		var names []string
		for n := range exported {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Logf("exported: %s", strings.Join(names, " "))
	}
}
