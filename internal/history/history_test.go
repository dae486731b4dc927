package history

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func gen(id int, replica string, term int64, key string, start, end int) Op {
	return Op{ID: id, Kind: Generate, Replica: replica, Term: term, Key: key, Start: at(start), End: at(end), Acked: true}
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
			name:   "an acknowledged key missing on one replica",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1)},
			finals: []Final{final("a", "k1"), final("b")},
			want:   []string{"acknowledged key lost"},
		},
		{
			name:   "an unacknowledged key may be missing",
			ops:    []Op{{ID: 0, Kind: Generate, Replica: "a", Start: at(0), End: at(1), Err: "not committed"}},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "the same address acknowledged twice",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), gen(1, "b", 2, "k1", 5, 6)},
			finals: []Final{final("a", "k1"), final("b", "k1")},
			want:   []string{"key acknowledged twice"},
		},
		{
			name:   "two replicas acknowledge under one term",
			ops:    []Op{gen(0, "a", 1, "k1", 0, 1), gen(1, "b", 1, "k2", 2, 3)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
			want:   []string{"two writers in one term"},
		},
		{
			name:   "a deposed leader acknowledges after its successor wrote",
			ops:    []Op{gen(0, "b", 2, "k2", 0, 1), gen(1, "a", 1, "k1", 2, 3)},
			finals: []Final{final("a", "k1", "k2"), final("b", "k1", "k2")},
			want:   []string{"terms overlap"},
		},
		{
			name: "a removed key may be gone",
			ops: []Op{gen(0, "a", 1, "k1", 0, 1),
				{ID: 1, Kind: Remove, Replica: "a", Term: 1, Key: "k1", Start: at(2), End: at(3), Acked: true}},
			finals: []Final{final("a"), final("b")},
		},
		{
			name:   "seeds differ",
			ops:    nil,
			finals: []Final{{Replica: "a", Seed: "x"}, {Replica: "b", Seed: "y"}},
			want:   []string{"seeds differ"},
		},
		{
			name:   "an acknowledged write without a term",
			ops:    []Op{gen(0, "a", 0, "k1", 0, 1)},
			finals: []Final{final("a", "k1")},
			want:   []string{"write without a term"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Check(tt.ops, tt.finals)
			var rules []string
			for _, v := range got {
				rules = append(rules, v.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("violations %v, want rules %v", got, tt.want)
			}
		})
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
