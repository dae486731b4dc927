package logging

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readmeEvents is the README's list of stable event names: the backticked
// names of the bullet lines under "Stable event names".
func readmeEvents(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "Stable event names")
	if i < 0 {
		t.Fatal(`README has no "Stable event names" list`)
	}
	var names []string
	inList := false
	for _, line := range strings.Split(s[i:], "\n")[1:] {
		if strings.HasPrefix(line, "- ") {
			inList = true
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(line, -1) {
				names = append(names, m[1])
			}
			continue
		}
		if inList {
			break
		}
	}
	return names
}

func TestTheReadmeListsEveryEventName(t *testing.T) {
	readme := readmeEvents(t)
	declared := slices.Clone(Events)
	slices.Sort(readme)
	slices.Sort(declared)
	for _, e := range declared {
		if _, found := slices.BinarySearch(readme, e); !found {
			t.Errorf("event %q is declared in events.go but not listed in the README", e)
		}
	}
	for _, e := range readme {
		if _, found := slices.BinarySearch(declared, e); !found {
			t.Errorf("the README lists %q, which no code declares", e)
		}
	}
	if len(slices.Compact(slices.Clone(declared))) != len(declared) {
		t.Error("an event name is declared twice")
	}
}

// Every event a log line carries is one of the declared names: the
// shipped code passes no string literal as the "event" field.
func TestNoEventNameIsALiteral(t *testing.T) {
	for _, root := range []string{"../../internal", "../../cmd/sidecar", "../../cmd/kubectl-factom"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "logging/events.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Str" {
					return true
				}
				key, ok := call.Args[0].(*ast.BasicLit)
				if !ok || key.Value != `"event"` {
					return true
				}
				if lit, ok := call.Args[1].(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					t.Errorf("%s: event %q is a literal; declare it in internal/logging/events.go", path, v)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
