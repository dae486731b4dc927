// Package history records what clients did to the replicated walletd during
// a fault-injection run and checks it: no acknowledged key lost, no key
// acknowledged twice, one writer per term and terms ordered in real time,
// and the keystore writes linearizable (checked with porcupine).
package history

import (
	"fmt"
	"sort"
	"strings"
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
	// Refused is true for a failure that certainly changed nothing: the
	// request never reached walletd (connection refused, "not the leader")
	// or walletd itself rejected it. Any other failure (a timeout, a write
	// walletd did but the store did not commit) is indeterminate: the write
	// may or may not have taken effect.
	Refused bool
	// Key is the public key the write concerns; for a failed Generate it is
	// unknown and empty.
	Key string
	// Term is the term the replica acknowledged the write under (the
	// X-Factom-Term header). Terms start at 0, so whether the term is known
	// is said by TermKnown, not by the value.
	Term      int64
	TermKnown bool
	Err       string
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

// Final is one replica's keystore at the end of a run, read from its walletd
// after every fault was healed and every replica reported itself in sync.
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

// The rules Check reports.
const (
	RuleLost         = "acknowledged key lost"
	RuleTwice        = "key acknowledged twice"
	RuleNoTerm       = "write without a term"
	RuleTwoWriters   = "two writers in one term"
	RuleTermsOverlap = "terms overlap"
	RuleSeeds        = "seeds differ"
	RuleDiverged     = "final keystores differ"
	// RuleLeftover is a divergence that only writes answered with a
	// failure explain: walletd applied the write, the store never committed
	// it, and nothing rolled walletd back. No acknowledgement is broken, but
	// a read on that replica sees a key the others do not (or misses one
	// they hold) until the client retries.
	RuleLeftover        = "uncommitted write left on some replicas"
	RuleNotLinearizable = "not linearizable"
)

// Summary counts what a run did.
type Summary struct {
	Ops, Acked, Failed int
	// Indeterminate counts failed writes that may have taken effect.
	Indeterminate int
	Terms         int
	// Keys is the number of keys the linearizability check covered.
	Keys int
}

// Check verifies the history against the final keystores of every replica.
func Check(ops []Op, finals []Final) ([]Violation, Summary) {
	var v []Violation
	var sum Summary
	sum.Ops = len(ops)

	// A key an indeterminate removal may have taken away is not required
	// at the end; the linearizability check still requires every replica to
	// agree on it.
	maybeRemoved := map[string]bool{}
	generatedBy := map[string]Op{}
	for _, op := range ops {
		if !op.Acked {
			sum.Failed++
			if !op.Refused {
				sum.Indeterminate++
				if op.Kind == Remove {
					maybeRemoved[op.Key] = true
				}
			}
			continue
		}
		sum.Acked++
		if op.Kind == Generate {
			if prev, dup := generatedBy[op.Key]; dup {
				v = append(v, Violation{RuleTwice, fmt.Sprintf("%s returned by %s and %s", short(op.Key), describe(prev), describe(op))})
			} else {
				generatedBy[op.Key] = op
			}
		}
	}

	// Keys acknowledged as present at the end: generated or imported, and
	// not removed by a later acknowledged removal (applied in order of
	// acknowledgement).
	acked := ackedByEnd(ops)
	present := map[string]Op{}
	for _, op := range acked {
		switch op.Kind {
		case Generate, Import:
			present[op.Key] = op
		case Remove:
			delete(present, op.Key)
		}
	}
	lost := sortedKeys(present)
	for _, f := range finals {
		for _, key := range lost {
			if !f.Keys[key] && !maybeRemoved[key] {
				v = append(v, Violation{RuleLost, fmt.Sprintf("%s (%s) missing on %s", short(key), describe(present[key]), f.Replica)})
			}
		}
	}
	if len(finals) > 0 {
		for _, f := range finals[1:] {
			if f.Seed != finals[0].Seed {
				v = append(v, Violation{RuleSeeds, fmt.Sprintf("%s and %s hold different seeds", finals[0].Replica, f.Replica)})
			}
		}
	}
	v = append(v, checkDiverged(ops, finals)...)

	tv, terms := checkTerms(acked)
	v = append(v, tv...)
	sum.Terms = terms

	lv, keys := checkLinearizable(ops, finals)
	v = append(v, lv...)
	sum.Keys = keys
	return v, sum
}

// checkDiverged: once every replica reports itself in sync, every walletd
// holds the same keys. A key on some replicas only is a key a failover
// would make appear or vanish.
//
// A divergence is a leftover (RuleLeftover) when an indeterminate write
// names the key, or when no operation names it and some generate ended
// indeterminate (its key is unknown); any other divergence is RuleDiverged.
func checkDiverged(ops []Op, finals []Final) []Violation {
	if len(finals) < 2 {
		return nil
	}
	named := map[string]bool{}
	uncommitted := map[string]Op{}
	lostGenerate := map[string]Op{} // by key prefix: the first indeterminate generate of each kind
	for _, op := range ops {
		if op.Key != "" {
			named[op.Key] = true
		}
		if op.Acked || op.Refused {
			continue
		}
		if op.Key != "" {
			uncommitted[op.Key] = op
		} else if op.Kind == Generate {
			if p := generatedPrefix[op.Method]; p != "" {
				if _, ok := lostGenerate[p]; !ok {
					lostGenerate[p] = op
				}
			}
		}
	}
	all := map[string]bool{}
	for _, f := range finals {
		for k := range f.Keys {
			all[k] = true
		}
	}
	var v []Violation
	for _, key := range sortedKeys(all) {
		var has, lacks []string
		for _, f := range finals {
			if f.Keys[key] {
				has = append(has, f.Replica)
			} else {
				lacks = append(lacks, f.Replica)
			}
		}
		if len(lacks) == 0 {
			continue
		}
		detail := fmt.Sprintf("%s held by %s, not by %s", short(key), strings.Join(has, ","), strings.Join(lacks, ","))
		gen, genOK := lostGenerate[keyPrefix(key)]
		switch op, ok := uncommitted[key]; {
		case ok:
			v = append(v, Violation{RuleLeftover, detail + " after " + describe(op) + " failed: " + op.Err})
		case !named[key] && genOK:
			v = append(v, Violation{RuleLeftover, detail + "; a generate of its kind ended indeterminate, e.g. " + describe(gen)})
		default:
			v = append(v, Violation{RuleDiverged, detail})
		}
	}
	return v
}

// generatedPrefix is the prefix of the public keys each generate method
// returns.
var generatedPrefix = map[string]string{
	"generate-ec-address":      "EC",
	"generate-factoid-address": "FA",
	"generate-identity-key":    "idpub",
}

func keyPrefix(key string) string {
	for _, p := range []string{"idpub", "EC", "FA"} {
		if strings.HasPrefix(key, p) {
			return p
		}
	}
	return ""
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
//
// The last rule is exactly the linearizability of the term as a register
// that only grows: commits land in the Secret one after another and a
// commit under a term below the stored one is refused, so acknowledged
// writes must admit an order that respects real time and never lowers the
// term. Such an order exists if and only if no write under a higher term
// finished before a write under a lower term started (order by term, and
// within a term by real time; every real-time pair then agrees).
func checkTerms(acked []Op) ([]Violation, int) {
	var v []Violation
	owner := map[int64]Op{}
	var termed []Op
	for _, op := range acked {
		if !op.TermKnown {
			v = append(v, Violation{RuleNoTerm, describe(op)})
			continue
		}
		termed = append(termed, op)
		if prev, ok := owner[op.Term]; !ok {
			owner[op.Term] = op
		} else if prev.Replica != op.Replica {
			v = append(v, Violation{RuleTwoWriters, fmt.Sprintf("term %d: %s and %s", op.Term, describe(prev), describe(op))})
		}
	}
	firstEnd := map[int64]Op{}
	for _, op := range termed {
		if f, ok := firstEnd[op.Term]; !ok || op.End.Before(f.End) {
			firstEnd[op.Term] = op
		}
	}
	terms := make([]int64, 0, len(firstEnd))
	for t := range firstEnd {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
	for _, op := range termed {
		for _, term := range terms {
			first := firstEnd[term]
			if term > op.Term && first.End.Before(op.Start) {
				v = append(v, Violation{RuleTermsOverlap, fmt.Sprintf("%s started after %s was acknowledged", describe(op), describe(first))})
				break
			}
		}
	}
	return v, len(owner)
}

// describe names an operation in a violation.
func describe(op Op) string {
	term := "no term"
	if op.TermKnown {
		term = fmt.Sprintf("term %d", op.Term)
	}
	return fmt.Sprintf("op %d (client %d, %s on %s, %s, %s..%s)", op.ID, op.Client, op.Method, op.Replica, term,
		op.Start.Format("15:04:05.000"), op.End.Format("15:04:05.000"))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// short shows enough of a public key to find it in logs.
func short(key string) string {
	if len(key) > 16 {
		return key[:16] + "…"
	}
	return key
}
