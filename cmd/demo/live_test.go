package main

import (
	"bytes"
	"strings"
	"testing"
)

// Into a pipe the live table prints its header once, then only the rows
// whose content changed since the last drawing.
func TestLiveTablePrintsOnlyChangedRowsWhenNotATerminal(t *testing.T) {
	var out bytes.Buffer
	lt := newLiveTable(&out, "POD", "READY")
	lt.Show([][]string{{"a", "yes"}, {"b", "no"}})
	lt.Show([][]string{{"a", "yes"}, {"b", "no"}})
	lt.Show([][]string{{"a", "yes"}, {"b", "yes"}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header + 2 rows + 1 changed row, got %d lines:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], "POD") || !strings.Contains(lines[3], "b") || !strings.HasSuffix(lines[3], "yes") {
		t.Fatalf("unexpected output:\n%s", out.String())
	}
	if strings.Count(out.String(), "POD") != 1 {
		t.Fatalf("header printed more than once:\n%s", out.String())
	}
}

// On a terminal each drawing moves the cursor back over the previous one
// and clears it, so the table stays in place.
func TestLiveTableRedrawsInPlaceOnATerminal(t *testing.T) {
	var out bytes.Buffer
	lt := &liveTable{out: &out, terminal: true, header: []string{"POD", "READY"}, last: map[string]string{}}
	lt.Show([][]string{{"a", "yes"}})
	first := out.Len()
	lt.Show([][]string{{"a", "no"}})
	second := out.String()[first:]
	if !strings.HasPrefix(second, "\x1b[3A\x1b[J") {
		t.Fatalf("second drawing does not move up over the first 3 lines: %q", second)
	}
}
