package faults

import (
	"fmt"
	"strings"
	"time"
)

// Line is one schedule's counts.
func (r Result) Line() string {
	var f []string
	for _, k := range FaultKinds {
		f = append(f, fmt.Sprintf("%s=%d", k, r.Faults[k]))
	}
	return fmt.Sprintf("faults{%s} clients{%s} skipped=%d writes=%d acknowledged=%d failed=%d (indeterminate=%d) terms=%d keys=%d violations=%d uncommitted-leftovers=%d",
		strings.Join(f, " "), countsLine(r.Clients), r.Skipped, r.Summary.Ops, r.Summary.Acked, r.Summary.Failed, r.Summary.Indeterminate, r.Summary.Terms, r.Summary.Keys, len(r.Broken()), r.Leftovers())
}

// Totals add up the results of many schedules.
type Totals struct {
	Schedules, Failed, Skipped int
	Faults                     map[FaultKind]int
	Clients                    map[ClientKind]int
	Writes, Acked, NotAcked    int
	Indeterminate, Terms, Keys int
	Violations                 int
	// Leftovers and LeftoverSeeds: divergences explained by uncommitted
	// writes (history.RuleLeftover), when not Strict.
	Leftovers     int
	LeftoverSeeds []uint64
	FailedSeeds   []uint64
}

// Add counts one schedule.
func (t *Totals) Add(r Result) {
	if t.Faults == nil {
		t.Faults = map[FaultKind]int{}
	}
	t.Schedules++
	if r.Failed() {
		t.Failed++
		t.FailedSeeds = append(t.FailedSeeds, r.Seed)
	}
	for k, n := range r.Faults {
		t.Faults[k] += n
	}
	if t.Clients == nil {
		t.Clients = map[ClientKind]int{}
	}
	for k, n := range r.Clients {
		t.Clients[k] += n
	}
	t.Skipped += r.Skipped
	t.Writes += r.Summary.Ops
	t.Acked += r.Summary.Acked
	t.NotAcked += r.Summary.Failed
	t.Indeterminate += r.Summary.Indeterminate
	t.Terms += r.Summary.Terms
	t.Keys += r.Summary.Keys
	t.Violations += len(r.Broken())
	if n := r.Leftovers(); n > 0 {
		t.Leftovers += n
		t.LeftoverSeeds = append(t.LeftoverSeeds, r.Seed)
	}
}

// Line is the suite's summary line.
func (t Totals) Line(took time.Duration) string {
	var f []string
	n := 0
	for _, k := range FaultKinds {
		f = append(f, fmt.Sprintf("%s=%d", k, t.Faults[k]))
		n += t.Faults[k]
	}
	return fmt.Sprintf("FAULTS SUMMARY: schedules=%d failing=%d faults=%d {%s} clients{%s} skipped=%d writes=%d acknowledged=%d not-acknowledged=%d (indeterminate=%d) terms=%d keys-checked=%d violations=%d uncommitted-leftovers=%d (in %d schedules) took=%s",
		t.Schedules, t.Failed, n, strings.Join(f, " "), countsLine(t.Clients), t.Skipped, t.Writes, t.Acked, t.NotAcked, t.Indeterminate, t.Terms, t.Keys, t.Violations, t.Leftovers, len(t.LeftoverSeeds), took.Round(time.Second))
}
