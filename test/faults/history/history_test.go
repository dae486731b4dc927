package history

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func gen(id int, replica string, term int64, key string, start, end int) Op {
	return Op{ID: id, Kind: Generate, Method: "generate-ec-address", Replica: replica, Term: term, TermKnown: true, Key: key, Start: at(start), End: at(end), Acked: true}
}

func imp(id int, replica string, term int64, key string, start, end int) Op {
	op := gen(id, replica, term, key, start, end)
	op.Kind, op.Method = Import, "import-addresses"
	return op
}

func rm(id int, replica string, term int64, key string, start, end int) Op {
	op := gen(id, replica, term, key, start, end)
	op.Kind, op.Method = Remove, "remove-address"
	return op
}

// failed makes op a failure: refused (certainly no effect) or indeterminate.
func failed(op Op, refused bool) Op {
	op.Acked, op.Refused, op.TermKnown, op.Term, op.Err = false, refused, false, 0, "injected"
	if op.Kind == Generate {
		op.Key = ""
	}
	return op
}

func final(replica string, keys ...string) Final {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return Final{Replica: replica, Seed: "seed", Keys: m}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		ops    []Op
		finals []Final
		want   []string // rules expected, in any order; empty: clean
	}{
		{
			name:   "a clean failover",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), gen(1, "b", 2, "k2", 5, 6)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
		},
		{
			name:   "the first term is term 0",
			ops:    []Op{gen(0, "a", 0, "k1", 0, 1), gen(1, "b", 1, "k2", 5, 6)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
		},
		{
			name:   "an acknowledged key missing on one replica",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1)},
			finals: []Final{final("a", "k1"), final("b")},
			want:   []string{RuleLost, RuleDiverged, RuleNotLinearizable},
		},
		{
			name:   "an acknowledged key missing everywhere",
			ops:    []Op{imp(0, "a", 1, "k1", 0, 1)},
			finals: []Final{final("a"), final("b")},
			want:   []string{RuleLost, RuleLost, RuleNotLinearizable},
		},
		{
			name:   "an unacknowledged generate may be missing",
			ops:    []Op{failed(gen(0, "a", 1, "", 0, 1), false)},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "an unacknowledged generate may have landed",
			ops:    []Op{failed(gen(0, "a", 1, "", 0, 1), false)},
			finals: []Final{final("a", "k9"), final("b", "k9")},
		},
		{
			name:   "an indeterminate import may have landed or not",
			ops:    []Op{failed(imp(0, "a", 1, "k1", 0, 1), false), failed(imp(1, "a", 1, "k2", 0, 1), false)},
			finals: []Final{final("a", "k1"), final("b", "k1")},
		},
		{
			name:   "a refused import must not have landed",
			ops:    []Op{failed(imp(0, "a", 1, "k1", 0, 1), true)},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "the same address acknowledged twice",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), gen(1, "b", 2, "k1", 5, 6)},
			finals: []Final{final("a", "k1"), final("b", "k1")},
			want:   []string{RuleTwice, RuleNotLinearizable},
		},
		{
			name:   "an address handed out again after it was removed",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), rm(1, "a", 1, "k1", 2, 3), gen(2, "a", 1, "k1", 4, 5)},
			finals: []Final{final("a", "k1"), final("b", "k1")},
			want:   []string{RuleTwice, RuleNotLinearizable},
		},
		{
			name:   "two replicas acknowledge under one term",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), gen(1, "b", 1, "k2", 2, 3)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
			want:   []string{RuleTwoWriters},
		},
		{
			name:   "a deposed leader acknowledges after its successor wrote",
			ops:    []Op{gen(0, "b", 2, "k2", 0, 1), gen(1, "a", 1, "k1", 2, 3)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
			want:   []string{RuleTermsOverlap},
		},
		{
			name:   "writes of two terms that overlap in time may land in either order",
			ops:    []Op{gen(0, "b", 2, "k2", 0, 3), gen(1, "a", 1, "k1", 1, 4)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
		},
		{
			name:   "a removed key may be gone",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), rm(1, "a", 1, "k1", 2, 3)},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "a removed key comes back",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), rm(1, "a", 1, "k1", 2, 3)},
			finals: []Final{final("a", "k1"), final("b", "k1")},
			want:   []string{RuleNotLinearizable},
		},
		{
			name:   "a removal acknowledged before its key existed",
			ops:    []Op{rm(0, "a", 1, "k1", 0, 1), imp(1, "a", 1, "k1", 2, 3)},
			finals: []Final{final("a", "k1"), final("b", "k1")},
			want:   []string{RuleNotLinearizable},
		},
		{
			name:   "a removal concurrent with its import may come first or last",
			ops:    []Op{imp(0, "a", 1, "k1", 0, 3), rm(1, "a", 1, "k1", 1, 4)},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "an indeterminate removal may have taken the key",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), failed(rm(1, "a", 1, "k1", 2, 3), false)},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "an indeterminate removal that landed on one replica only",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), failed(rm(1, "a", 1, "k1", 2, 3), false)},
			finals: []Final{final("a"), final("b", "k1")},
			want:   []string{RuleLeftover},
		},
		{
			name:   "an indeterminate import that landed on one replica only",
			ops:    []Op{failed(imp(0, "a", 1, "k1", 0, 1), false)},
			finals: []Final{final("a", "k1"), final("b")},
			want:   []string{RuleLeftover},
		},
		{
			name:   "an unknown key on one replica after a generate of its kind ended indeterminate",
			ops:    []Op{failed(gen(0, "a", 1, "", 0, 1), false)},
			finals: []Final{final("a", "EC9"), final("b")},
			want:   []string{RuleLeftover},
		},
		{
			name:   "an unknown key on one replica after a generate of another kind ended indeterminate",
			ops:    []Op{failed(gen(0, "a", 1, "", 0, 1), false)},
			finals: []Final{final("a", "idpub9"), final("b")},
			want:   []string{RuleDiverged},
		},
		{
			name:   "an unknown key on one replica with no write to explain it",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1)},
			finals: []Final{final("a", "k1", "k9"), final("b", "k1")},
			want:   []string{RuleDiverged},
		},
		{
			name:   "seeds differ",
			ops:    nil,
			finals: []Final{{Replica: "a", Seed: "x"}, {Replica: "b", Seed: "y"}},
			want:   []string{RuleSeeds},
		},
		{
			name: "an acknowledged write without a term",
			ops: []Op{func() Op {
				op := gen(0, "a", 0, "k1", 0, 1)
				op.TermKnown = false
				return op
			}()},
			finals: []Final{final("a", "k1")},
			want:   []string{RuleNoTerm},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Check(tt.ops, tt.finals)
			var rules []string
			for _, v := range got {
				rules = append(rules, v.Rule)
			}
			slices.Sort(rules)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if strings.Join(rules, ",") != strings.Join(want, ",") {
				t.Fatalf("violations %v, want rules %v", got, tt.want)
			}
		})
	}
}

func TestSummaryCounts(t *testing.T) {
	ops := []Op{
		gen(0, "a", 0, "k1", 0, 1),
		failed(gen(1, "a", 0, "", 1, 2), true),
		failed(imp(2, "a", 0, "k2", 2, 3), false),
		gen(3, "b", 1, "k3", 4, 5),
	}
	_, sum := Check(ops, []Final{final("a", "k1", "k3"), final("b", "k1", "k3")})
	want := Summary{Ops: 4, Acked: 2, Failed: 2, Indeterminate: 1, Terms: 2, Keys: 3}
	if sum != want {
		t.Fatalf("summary %+v, want %+v", sum, want)
	}
}

func TestViolationsNameTheOperations(t *testing.T) {
	got, _ := Check([]Op{gen(7, "factom-wallet-1", 3, "EC2abcdefghijklmnopqrstuvwxyz", 0, 1)}, []Final{final("factom-wallet-0")})
	if len(got) == 0 {
		t.Fatal("no violation")
	}
	text := got[0].String()
	for _, want := range []string{"op 7", "factom-wallet-1", "term 3", "EC2abcdefghijklm", "factom-wallet-0"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q does not mention %q", text, want)
		}
	}
}

func TestRecorderOrdersByStart(t *testing.T) {
	var r Recorder
	r.Add(gen(0, "a", 1, "k2", 5, 6))
	r.Add(gen(0, "a", 1, "k1", 1, 2))
	ops := r.Ops()
	if ops[0].Key != "k1" || ops[1].ID != 0 {
		t.Fatalf("ops = %+v", ops)
	}
}
