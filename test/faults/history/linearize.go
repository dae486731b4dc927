package history

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// The keystore, as clients see it, is a set of public keys with three
// writes — add a fresh key (generate), add a given key (import), remove a
// key — and, at the end, one read of the whole set per replica. A set is a
// collection of independent one-key objects (each key present or not, and
// issued before or not) and linearizability is local (Herlihy & Wing): the
// history is linearizable if and only if each key's sub-history is, so the
// check runs porcupine once per key, which keeps every search tiny however
// long the run was. The final reads are the only operations that span keys;
// they all come after every completed write, so splitting them per key
// loses nothing.
//
// What each operation contributes:
//   - an acknowledged write: its real-time interval [Start, End];
//   - a refused write: nothing (it certainly had no effect);
//   - an indeterminate write with a known key (import, remove): it may take
//     effect at any time after its start, or never — porcupine's open
//     interval (Return = +inf) with a step that allows both outcomes;
//   - an indeterminate generate: its key is unknown, so it constrains no
//     key the history knows about, and a key it left behind is ignored by
//     the per-key reads (only keys some operation names are checked).

type keyState struct {
	present bool // in the keystore now
	issued  bool // ever added: a generate may never hand it out again
}

type keyInput struct {
	kind  Kind   // Generate, Import, Remove; "" for a read
	maybe bool   // an indeterminate write
	desc  string // for messages
}

// keyModel is the sequential specification of one key.
var keyModel = porcupine.NondeterministicModel{
	Init: func() []interface{} { return []interface{}{keyState{}} },
	Step: func(state, input, output interface{}) []interface{} {
		s := state.(keyState)
		in := input.(keyInput)
		switch in.kind {
		case Generate:
			// A fresh key only: one never issued before and not present.
			if s.issued || s.present {
				return nil
			}
			return []interface{}{keyState{present: true, issued: true}}
		case Import:
			next := keyState{present: true, issued: true}
			if in.maybe {
				return []interface{}{s, next}
			}
			return []interface{}{next}
		case Remove:
			next := keyState{present: false, issued: s.issued}
			if in.maybe {
				return []interface{}{s, next}
			}
			// walletd refuses to remove a key it does not hold.
			if !s.present {
				return nil
			}
			return []interface{}{next}
		default: // a read of this key at the end
			if s.present != output.(bool) {
				return nil
			}
			return []interface{}{s}
		}
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(keyInput)
		if in.kind == "" {
			return fmt.Sprintf("%s -> %v", in.desc, output)
		}
		return in.desc
	},
}

// checkLinearizable runs the per-key porcupine check; it returns the
// violations and the number of keys checked.
func checkLinearizable(ops []Op, finals []Final) ([]Violation, int) {
	if len(ops) == 0 {
		return nil, 0
	}
	base := ops[0].Start
	var last time.Time
	for _, op := range ops {
		if op.Start.Before(base) {
			base = op.Start
		}
		if op.End.After(last) {
			last = op.End
		}
	}
	ts := func(t time.Time) int64 { return t.Sub(base).Nanoseconds() }

	byKey := map[string][]porcupine.Operation{}
	sources := map[string][]Op{}
	for _, op := range ops {
		if op.Key == "" || (!op.Acked && op.Refused) {
			continue
		}
		in := keyInput{kind: op.Kind, maybe: !op.Acked, desc: describe(op)}
		ret := ts(op.End)
		if in.maybe {
			ret = math.MaxInt64
		}
		byKey[op.Key] = append(byKey[op.Key], porcupine.Operation{ClientId: op.Client, Input: in, Call: ts(op.Start), Output: nil, Return: ret})
		sources[op.Key] = append(sources[op.Key], op)
	}
	// The final reads happen after every completed write (the run healed
	// and waited for sync first); they are concurrent with one another.
	end := ts(last) + 1
	var v []Violation
	keys := sortedKeys(byKey)
	for _, key := range keys {
		h := byKey[key]
		var held []string
		for i, f := range finals {
			h = append(h, porcupine.Operation{ClientId: 1000 + i, Input: keyInput{desc: "read on " + f.Replica}, Call: end, Output: f.Keys[key], Return: end})
			if f.Keys[key] {
				held = append(held, f.Replica)
			}
		}
		res := porcupine.CheckOperationsTimeout(keyModel.ToModel(), h, 10*time.Second)
		if res == porcupine.Illegal {
			v = append(v, Violation{RuleNotLinearizable, fmt.Sprintf("key %s: %s; at the end held by [%s]", short(key), describeOps(sources[key]), strings.Join(held, ","))})
		}
	}
	return v, len(keys)
}

func describeOps(ops []Op) string {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Start.Before(ops[j].Start) })
	var parts []string
	for _, op := range ops {
		outcome := "acknowledged"
		if !op.Acked {
			outcome = "indeterminate: " + op.Err
		}
		parts = append(parts, fmt.Sprintf("%s %s", describe(op), outcome))
	}
	return strings.Join(parts, "; ")
}
