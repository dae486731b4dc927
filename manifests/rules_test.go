package manifests_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The one source of the alert rules; the chart and the kustomize
// component both ship it.
const rulesFile = "manifests/helm/factom-sidecar/files/prometheus-rules.yaml"

// ruleFile is the Prometheus rule-file format, as far as the checks read it.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func readYAML(t *testing.T, rel string, into any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return data
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var rf ruleFile
	readYAML(t, rulesFile, &rf)
	var out []rule
	for _, g := range rf.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return out
}

// Every alert carries what an on-call engineer needs, mixin style, and
// its runbook section exists.
func TestEveryAlertHasForSeveritySummaryDescriptionAndRunbook(t *testing.T) {
	runbook, err := os.ReadFile(filepath.Join(repoRoot(t), "docs/RUNBOOK.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range alertRules(t) {
		if r.Alert == "" {
			t.Errorf("a rule without an alert name (recording rules do not belong here): %q", r.Expr)
			continue
		}
		if r.For == "" {
			t.Errorf("%s: no for", r.Alert)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: no %s", r.Alert, a)
			}
		}
		if want := "docs/RUNBOOK.md#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !bytes.Contains(runbook, []byte("\n## "+r.Alert+"\n")) {
			t.Errorf("%s: docs/RUNBOOK.md has no section \"## %s\"", r.Alert, r.Alert)
		}
	}
}

// promtool's own tests (manifests/testdata/alerts_test.yaml) must give
// every alert at least one evaluation where it fires and one where it
// stays silent.
func TestEveryAlertHasAFiringAndASilentCase(t *testing.T) {
	var tests struct {
		Tests []struct {
			Name          string `json:"name"`
			AlertRuleTest []struct {
				AlertName string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	var loose map[string]any
	data := readYAML(t, "manifests/testdata/alerts_test.yaml", &loose)
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, ev := range tc.AlertRuleTest {
			if len(ev.ExpAlerts) > 0 {
				fires[ev.AlertName] = true
			} else {
				silent[ev.AlertName] = true
			}
		}
	}
	for _, r := range alertRules(t) {
		if !fires[r.Alert] {
			t.Errorf("%s: no promtool case where it fires", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no promtool case where it stays silent", r.Alert)
		}
	}
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := toolCommand(t, "promtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestPromtoolChecksTheRules(t *testing.T) {
	promtool(t, "check", "rules", rulesFile)
}

func TestPromtoolUnitTestsOfTheAlerts(t *testing.T) {
	promtool(t, "test", "rules", "manifests/testdata/alerts_test.yaml")
}
