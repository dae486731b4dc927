// Package history records what clients did to the replicated walletd during
// a fault-injection run and checks it: no acknowledged key lost, no key
// acknowledged twice, one writer per term and terms ordered in real time.
package history

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Kind is the class of a recorded operation.
type Kind string

const (
	// Generate is generate-ec-address, generate-factoid-address or
	// generate-identity-key: Key is the public key returned.
	Generate Kind = "generate"
	// Import is import-addresses / import-identity-keys: Key is the public
	// key of the imported secret.
	Import Kind = "import"
	// Remove is remove-address / remove-identity-key: Key is the key removed.
	Remove Kind = "remove"
)

// Op is one client request and its outcome.
type Op struct {
	ID      int
	Client  int
	Kind    Kind
	Method  string
	Replica string // the pod the request was sent to
	Start   time.Time
	End     time.Time
	// Acked is true when the client received a result (not an error): the
	// write is promised to survive.
	Acked bool
	Key   string
	// Term is the term the replica acknowledged the write under.
	Term int64
	Err  string
}

// Recorder collects operations from concurrent clients.
type Recorder struct {
	mu  sync.Mutex
	ops []Op
}

// Add records op and returns its id.
func (r *Recorder) Add(op Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.ID = len(r.ops)
	r.ops = append(r.ops, op)
	return op.ID
}

// Ops returns a copy of what was recorded, in order of start.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]Op(nil), r.ops...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Final is one replica's keystore at the end of a run.
type Final struct {
	Replica string
	Seed    string
	Keys    map[string]bool // every public key the replica's walletd holds
}

// Violation is one broken guarantee, with the operations that show it.
type Violation struct {
	Rule   string
	Detail string
}

func (v Violation) String() string { return v.Rule + ": " + v.Detail }

// Summary counts what a run did.
type Summary struct {
	Ops, Acked, Failed int
	Terms              int
}

// Check verifies the history against the final keystores of every replica.
func Check(ops []Op, finals []Final) ([]Violation, Summary) {
	var v []Violation
	var sum Summary
	sum.Ops = len(ops)

	// Keys acknowledged as present at the end: generated or imported, and
	// not removed by a later acknowledged removal.
	present := map[string]Op{}
	generatedBy := map[string]Op{}
	for _, op := range ops {
		if !op.Acked {
			sum.Failed++
			continue
		}
		sum.Acked++
		switch op.Kind {
		case Generate:
			if prev, dup := generatedBy[op.Key]; dup {
				v = append(v, Violation{"key acknowledged twice", fmt.Sprintf("%s returned by op %d (%s, term %d) and op %d (%s, term %d)",
					short(op.Key), prev.ID, prev.Replica, prev.Term, op.ID, op.Replica, op.Term)})
			}
			generatedBy[op.Key] = op
			present[op.Key] = op
		case Import:
			present[op.Key] = op
		}
	}
	// Removals apply in acknowledgement order.
	acked := ackedByEnd(ops)
	for _, op := range acked {
		switch op.Kind {
		case Generate, Import:
			present[op.Key] = op
		case Remove:
			delete(present, op.Key)
		}
	}
	for _, f := range finals {
		for key, op := range present {
			if !f.Keys[key] {
				v = append(v, Violation{"acknowledged key lost", fmt.Sprintf("%s (op %d, %s, term %d) missing on %s", short(key), op.ID, op.Replica, op.Term, f.Replica)})
			}
		}
	}
	if len(finals) > 0 {
		for _, f := range finals[1:] {
			if f.Seed != finals[0].Seed {
				v = append(v, Violation{"seeds differ", fmt.Sprintf("%s and %s hold different seeds", finals[0].Replica, f.Replica)})
			}
		}
	}

	tv, terms := checkTerms(acked)
	v = append(v, tv...)
	sum.Terms = terms
	return v, sum
}

func ackedByEnd(ops []Op) []Op {
	var acked []Op
	for _, op := range ops {
		if op.Acked {
			acked = append(acked, op)
		}
	}
	sort.SliceStable(acked, func(i, j int) bool { return acked[i].End.Before(acked[j].End) })
	return acked
}

// checkTerms: every acknowledged write carries a term; one term belongs to
// one replica; and a write acknowledged under a lower term never starts
// after a write under a higher term was acknowledged (the deposed leader's
// writes are fenced once its successor has written).
func checkTerms(acked []Op) ([]Violation, int) {
	var v []Violation
	owner := map[int64]Op{}
	maxEnd := map[int64]time.Time{}
	for _, op := range acked {
		if op.Term <= 0 {
			v = append(v, Violation{"write without a term", fmt.Sprintf("op %d on %s", op.ID, op.Replica)})
			continue
		}
		if prev, ok := owner[op.Term]; ok && prev.Replica != op.Replica {
			v = append(v, Violation{"two writers in one term", fmt.Sprintf("term %d: op %d on %s and op %d on %s", op.Term, prev.ID, prev.Replica, op.ID, op.Replica)})
		} else if !ok {
			owner[op.Term] = op
		}
		if op.End.After(maxEnd[op.Term]) {
			maxEnd[op.Term] = op.End
		}
	}
	firstEnd := map[int64]Op{}
	for _, op := range acked {
		if f, ok := firstEnd[op.Term]; !ok || op.End.Before(f.End) {
			firstEnd[op.Term] = op
		}
	}
	for _, op := range acked {
		for term, first := range firstEnd {
			if term > op.Term && first.End.Before(op.Start) {
				v = append(v, Violation{"terms overlap", fmt.Sprintf("op %d acknowledged under term %d on %s started after op %d was acknowledged under term %d on %s",
					op.ID, op.Term, op.Replica, first.ID, term, first.Replica)})
			}
		}
	}
	return v, len(owner)
}

// short shows enough of a public key to find it in logs.
func short(key string) string {
	if len(key) > 16 {
		return key[:16] + "…"
	}
	return key
}
