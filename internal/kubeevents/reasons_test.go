package kubeevents

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestTheReadmeListsEveryEventReason(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "Kubernetes Event reasons")
	if i < 0 {
		t.Fatal(`README has no "Kubernetes Event reasons" paragraph`)
	}
	para := s[i:]
	if end := strings.Index(para, "\n\n"); end >= 0 {
		para = para[:end]
	}
	var readme []string
	for _, m := range regexp.MustCompile("`([A-Z][A-Za-z]+)`").FindAllStringSubmatch(para, -1) {
		readme = append(readme, m[1])
	}
	declared := slices.Clone(Reasons)
	slices.Sort(readme)
	slices.Sort(declared)
	if !slices.Equal(readme, declared) {
		t.Errorf("README lists %v, reasons.go declares %v", readme, declared)
	}
	if len(slices.Compact(slices.Clone(declared))) != len(declared) {
		t.Error("a reason is declared twice")
	}
}

// Every Event the shipped code posts names a declared reason: no call of
// the sinks' emit, warn or normal passes a string literal as the reason.
func TestNoEventReasonIsALiteral(t *testing.T) {
	reasonArg := map[string]int{"emit": 1, "Emit": 1, "warn": 0, "normal": 0}
	for _, root := range []string{"../../internal", "../../cmd/sidecar"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				i, ok := reasonArg[sel.Sel.Name]
				if !ok || len(call.Args) <= i+1 {
					return true
				}
				if lit, ok := call.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					t.Errorf("%s: Event reason %s is a literal; declare it in reasons.go", fset.Position(lit.Pos()), lit.Value)
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
