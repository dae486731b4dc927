package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

// liveTable shows a status table the way `kubectl get -w` or `watch` do:
// on a terminal it redraws in place; into a pipe or file it prints the
// header once and then only the rows that changed, each with the time.
type liveTable struct {
	out      io.Writer
	terminal bool
	header   []string
	drawn    int               // lines drawn last time (terminal)
	last     map[string]string // row key (first column) -> rendered row
	headed   bool
}

func newLiveTable(out io.Writer, header ...string) *liveTable {
	return &liveTable{out: out, terminal: isTerminal(out), header: header, last: map[string]string{}}
}

// isTerminal reports whether out is a terminal (seeing through the demo's
// syncWriter).
func isTerminal(out io.Writer) bool {
	if s, ok := out.(*syncWriter); ok {
		out = s.w
	}
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Show renders rows (each row's first cell is its key).
func (t *liveTable) Show(rows [][]string) {
	lines := render(t.header, rows)
	if t.terminal {
		if t.drawn > 0 {
			// Cursor up over the last drawing, then clear to the end.
			fmt.Fprintf(t.out, "\x1b[%dA\x1b[J", t.drawn)
		}
		fmt.Fprintf(t.out, "    [%s]\n", time.Now().Format(time.TimeOnly))
		for _, l := range lines {
			fmt.Fprintln(t.out, l)
		}
		t.drawn = len(lines) + 1
		return
	}
	if !t.headed {
		fmt.Fprintf(t.out, "    %-8s  %s\n", "TIME", lines[0])
		t.headed = true
	}
	for i, row := range rows {
		if len(row) == 0 {
			continue
		}
		if t.last[row[0]] != lines[i+1] {
			fmt.Fprintf(t.out, "    %-8s  %s\n", time.Now().Format(time.TimeOnly), lines[i+1])
			t.last[row[0]] = lines[i+1]
		}
	}
}

// Reset makes the next Show start a fresh drawing (after other output).
func (t *liveTable) Reset() { t.drawn = 0 }

// render aligns the header and rows into columns with one fixed width for
// every row, so a changed row printed alone lines up with the header.
func render(header []string, rows [][]string) []string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return lines
}
