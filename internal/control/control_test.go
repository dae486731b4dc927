package control

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendHistoryKeepsTheLastHundredInOrder(t *testing.T) {
	s := ""
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(1); i <= HistoryLimit+20; i++ {
		s = AppendHistory(s, Transition{Term: i, To: "factom-wallet-0", Reason: "lease expired", Time: base.Add(time.Duration(i) * time.Second)})
	}
	h, err := ParseHistory(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != HistoryLimit {
		t.Fatalf("%d entries, want %d", len(h), HistoryLimit)
	}
	if h[0].Term != 21 || h[len(h)-1].Term != HistoryLimit+20 {
		t.Errorf("kept terms %d..%d, want 21..%d", h[0].Term, h[len(h)-1].Term, HistoryLimit+20)
	}
}

func TestAppendHistoryStartsOverAfterGarbage(t *testing.T) {
	s := AppendHistory("{not json", Transition{Term: 3, To: "a"})
	h, err := ParseHistory(s)
	if err != nil || len(h) != 1 || h[0].Term != 3 {
		t.Fatalf("history %v, %v; want the one new entry", h, err)
	}
}

func TestParseHistoryRejectsGarbageAndHugeInput(t *testing.T) {
	for name, in := range map[string]string{
		"not json":  "{x",
		"an object": `{"term":1}`,
		"too large": "[" + strings.Repeat(" ", maxHistoryBytes) + "]",
	} {
		if _, err := ParseHistory(in); !errors.Is(err, ErrHistory) {
			t.Errorf("%s: err %v, want ErrHistory", name, err)
		}
	}
}

func TestSwitchoverTargetExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ann := map[string]string{AnnotationSwitchoverTo: "factom-wallet-2", AnnotationSwitchoverAt: now.Format(time.RFC3339Nano)}
	if got := SwitchoverTarget(ann, now.Add(time.Second)); got != "factom-wallet-2" {
		t.Errorf("fresh request: target %q", got)
	}
	if got := SwitchoverTarget(ann, now.Add(SwitchoverTimeout+time.Second)); got != "" {
		t.Errorf("expired request: target %q, want none", got)
	}
	delete(ann, AnnotationSwitchoverAt)
	if got := SwitchoverTarget(ann, now); got != "" {
		t.Errorf("request without a time: target %q, want none", got)
	}
}

func FuzzParseHistory(f *testing.F) {
	f.Add("")
	f.Add(`[{"term":1,"to":"factom-wallet-0","reason":"no lease yet","time":"2026-01-01T00:00:00Z","tookMs":12}]`)
	f.Add(`[{"term":-1}]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHistory(s)
		if err != nil {
			return
		}
		// What parses survives a round trip through AppendHistory.
		out, err := ParseHistory(AppendHistory(s, Transition{Term: 1}))
		if err != nil {
			t.Fatalf("re-encoded history does not parse: %v", err)
		}
		if want := min(len(h)+1, HistoryLimit); len(out) != want {
			t.Fatalf("%d entries after append, want %d", len(out), want)
		}
	})
}
