package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Prometheus is a real Prometheus on the host that scrapes the node's
// sidecars the way the shipped ServiceMonitor selects them: the endpoints
// of the Services labelled part-of factom-sidecar and component metrics,
// their port named metrics, with namespace and pod as target labels. It
// evaluates the shipped alert rules.
type Prometheus struct {
	URL  string
	proc *testenv.Process
}

// promConfig mirrors manifests/components/monitoring/servicemonitor.yaml
// (what prometheus-operator generates from it, less its bookkeeping
// labels), scraping every second so a test sees a failover.
const promConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: factom-sidecar
    metrics_path: /metrics
    kubernetes_sd_configs:
      - role: endpointslice
        kubeconfig_file: %q
        namespaces: {names: [%q]}
    relabel_configs:
      - source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_part_of, __meta_kubernetes_service_label_app_kubernetes_io_component]
        regex: factom-sidecar;metrics
        action: keep
      - source_labels: [__meta_kubernetes_endpointslice_port_name]
        regex: metrics
        action: keep
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_service_name]
        target_label: service
`

// StartPrometheus starts Prometheus for the sidecars in ns with the alert
// rules in rulesFile, and waits until it answers.
func (n *Node) StartPrometheus(ns, rulesFile string) (*Prometheus, error) {
	bin, err := testenv.Binary("prometheus")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(n.dir, "prometheus-"+ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, promConfig, rulesFile, n.kubeconfig, ns), 0o644); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	proc, err := testenv.Start("prometheus", bin, []string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--log.format=json",
	}, nil, filepath.Join(dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	p := &Prometheus{URL: "http://" + addr, proc: proc}
	err = testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/-/ready: %s", resp.Status)
	})
	if err != nil {
		proc.Stop(5 * time.Second)
		return nil, fmt.Errorf("prometheus did not become ready: %w\n%s", err, p.Logs())
	}
	return p, nil
}

// Stop stops Prometheus.
func (p *Prometheus) Stop() { p.proc.Stop(10 * time.Second) }

// Logs is what Prometheus printed.
func (p *Prometheus) Logs() string { return p.proc.Logs() }

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query.
func (p *Prometheus) Query(ctx context.Context, query string) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, body.Error)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", query, r.Value[1], err)
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// errNoSample is returned by Scalar for an empty answer.
var errNoSample = errors.New("no sample")

// Scalar runs a query expected to give one series and returns its value.
func (p *Prometheus) Scalar(ctx context.Context, query string) (float64, error) {
	s, err := p.Query(ctx, query)
	if err != nil {
		return 0, err
	}
	if len(s) != 1 {
		return 0, fmt.Errorf("query %s: %d series: %w", query, len(s), errNoSample)
	}
	return s[0].Value, nil
}
