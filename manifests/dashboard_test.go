package manifests_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const dashboardFile = "manifests/helm/factom-sidecar/files/dashboard.json"

// dashboard is the part of Grafana's dashboard JSON model the checks read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// Grafana's variables, given values so a query is plain PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$namespace", "factom")

// labelValues is Grafana's variable query label_values(metric, label).
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)

// queries is every PromQL expression of the dashboard, variables filled in.
func (d dashboard) queries() []string {
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, grafanaVars.Replace(tg.Expr))
		}
	}
	return out
}

// The dashboard is well-formed as Grafana reads it: unique panel ids, every
// panel on the 24-column grid, every query with its own refId on the
// dashboard's data-source variable, and the variables it uses defined.
func TestDashboardStructure(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("title %q, uid %q, schemaVersion %d: want a title, a uid and a current schema", d.Title, d.UID, d.SchemaVersion)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["namespace"] {
		t.Errorf("variables %v, want datasource and namespace", vars)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d is zero or taken", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Type != "timeseries" && p.Type != "stat" {
			t.Errorf("panel %q: type %q", p.Title, p.Type)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			queries++
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: refId %q is empty or taken", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if !strings.Contains(tg.Expr, `namespace="$namespace"`) {
				t.Errorf("panel %q: query %q does not select $namespace", p.Title, tg.Expr)
			}
			for _, v := range regexp.MustCompile(`\$\{?([a-zA-Z_]+)`).FindAllStringSubmatch(tg.Expr, -1) {
				if !vars[v[1]] && !strings.HasPrefix(v[1], "__") {
					t.Errorf("panel %q: query uses undefined variable $%s", p.Title, v[1])
				}
			}
		}
	}
	if queries < 20 {
		t.Errorf("%d queries, want the panels the dashboard promises", queries)
	}
}

// PromQL words that are not metric names.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames lists the metric names a PromQL expression selects:
// identifiers that are not functions, keywords, label names or durations.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		return []string{m[1]}
	}
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		name, before, after := s[loc[0]:loc[1]], byte(' '), strings.TrimLeft(s[loc[1]:], " ")
		if loc[0] > 0 {
			before = s[loc[0]-1]
		}
		// A digit or dot before it: the unit of a duration or a number's exponent.
		if before >= '0' && before <= '9' || before == '.' || strings.HasPrefix(after, "(") || promqlWords[strings.ToLower(name)] {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNamesOfAQuery(t *testing.T) {
	for expr, want := range map[string]string{
		`histogram_quantile(0.99, sum by (class, le) (rate(factom_sidecar_proxy_request_duration_seconds_bucket{namespace="factom"}[5m])))`: "factom_sidecar_proxy_request_duration_seconds_bucket",
		`factom_sidecar_is_leader{namespace="x",pod=~"a|b"} == 1`:                                                                           "factom_sidecar_is_leader",
		`1 - factom_sidecar_keystore_in_sync`:                                                                                               "factom_sidecar_keystore_in_sync",
		`max(a_total offset 30m) and on (pod) b`:                                                                                            "a_total b",
		`label_values(factom_sidecar_build_info, namespace)`:                                                                                "factom_sidecar_build_info",
		`sum by (reason) (increase(x_total{reason!="by"}[1h])) > 0.5e3`:                                                                     "x_total",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
}

// Every dashboard query is valid PromQL: promtool parses them as recording
// rules.
func TestPromtoolParsesEveryDashboardQuery(t *testing.T) {
	d := readDashboard(t)
	type recording struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []recording
	for i, q := range d.queries() {
		rules = append(rules, recording{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: q})
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok && v.Type == "query" {
			if m := labelValues.FindStringSubmatch(fmt.Sprint(q["query"])); m == nil {
				t.Errorf("variable %s: query %v is not label_values(metric, label)", v.Name, q["query"])
			}
		}
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", path)
}

// dashboardMetrics is every metric name the dashboard's queries and
// variables select, sorted.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	d := readDashboard(t)
	set := map[string]bool{}
	for _, q := range d.queries() {
		for _, n := range metricNames(q) {
			set[n] = true
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			for _, n := range metricNames(fmt.Sprint(q["query"])) {
				set[n] = true
			}
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
