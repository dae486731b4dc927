package manifests_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var updateChartReadme = flag.Bool("update-chart-readme", false, "rewrite the chart README's values table from values.yaml")

const (
	readmeBegin = "<!-- values table: generated from values.yaml by `make chart-readme`; do not edit -->"
	readmeEnd   = "<!-- end of values table -->"
)

// valuesTable is the README's table of values: every key that a `# --`
// comment documents, with its default, in the file's order (helm-docs'
// convention, so the same comments work with helm-docs too).
func valuesTable(values []byte) (string, error) {
	var tree map[string]any
	if err := yaml.Unmarshal(values, &tree); err != nil {
		return "", fmt.Errorf("values.yaml: %w", err)
	}
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	var path []string // path[i] is the key at indentation level i
	var indents []int
	desc := ""
	sc := bufio.NewScanner(bytes.NewReader(values))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case strings.HasPrefix(trimmed, "# -- "):
			desc = strings.TrimPrefix(trimmed, "# -- ")
			continue
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "- ") || !strings.Contains(trimmed, ":"):
			continue
		}
		key, _, _ := strings.Cut(trimmed, ":")
		for len(indents) > 0 && indents[len(indents)-1] >= indent {
			indents, path = indents[:len(indents)-1], path[:len(path)-1]
		}
		indents, path = append(indents, indent), append(path, key)
		if desc == "" {
			continue
		}
		v, ok := lookup(tree, path)
		if !ok {
			return "", fmt.Errorf("values.yaml:%d: %s is documented but not a key of the tree", n, strings.Join(path, "."))
		}
		def, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", strings.Join(path, "."), typeName(v), strings.ReplaceAll(string(def), "|", `\|`), strings.ReplaceAll(desc, "|", `\|`))
		desc = ""
	}
	return b.String(), sc.Err()
}

func lookup(tree map[string]any, path []string) (any, bool) {
	var cur any = tree
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "int"
	}
	return "any"
}

// The chart README's values table is the one values.yaml's comments give.
func TestChartReadmeIsCurrent(t *testing.T) {
	dir := filepath.Join(repoRoot(t), chartDir)
	values, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := valuesTable(values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(table, "\n") < 60 {
		t.Fatalf("the table documents only %d values:\n%s", strings.Count(table, "\n")-2, table)
	}
	path := filepath.Join(dir, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok1 := strings.Cut(string(readme), readmeBegin)
	_, tail, ok2 := strings.Cut(rest, readmeEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s has no values table markers", path)
	}
	want := head + readmeBegin + "\n\n" + table + "\n" + readmeEnd + tail
	if want == string(readme) {
		return
	}
	if *updateChartReadme {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is not current with values.yaml; run `make chart-readme`", path)
}

// Every value of the schema is documented, so the README lists it.
func TestEveryValueIsDocumented(t *testing.T) {
	values, err := os.ReadFile(filepath.Join(repoRoot(t), chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := valuesTable(values)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"fullnameOverride", "sidecar.image.tag", "bridge.scheduling.mode", "wallet.sidecar.extraArgs", "keystoreKey.existingSecret", "networkPolicy.enabled", "podDisruptionBudget.enabled", "tests.timeoutSeconds"} {
		if !strings.Contains(table, "| `"+key+"` |") {
			t.Errorf("the values table does not document %s", key)
		}
	}
}
