package walletdhealth

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeWalletd answers `properties` with err, or a version when err is nil.
type fakeWalletd struct {
	mu  sync.Mutex
	err error
}

func (f *fakeWalletd) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeWalletd) Call(_ context.Context, method string, _, result any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method != "properties" {
		return errors.New("unexpected method " + method)
	}
	if f.err != nil {
		return f.err
	}
	return json.Unmarshal([]byte(`{"walletversion":"2.4.2","walletapiversion":"2.0"}`), result)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestVerdicts(t *testing.T) {
	w := &fakeWalletd{}
	c := &clock{t: time.Unix(1000, 0)}
	p := New(w, Options{Interval: time.Second, DeadAfter: 10 * time.Second, Now: c.now}, zerolog.Nop())
	ctx := context.Background()

	steps := []struct {
		name                 string
		do                   func()
		ready, live, started bool
		readyReason          string
	}{
		{"not polled yet: not ready, live, not started", func() {}, false, true, false, "walletd not polled yet"},
		{"walletd down before it ever answered", func() { w.set(errors.New("connection refused")); p.Poll(ctx) }, false, true, false, "walletd unreachable"},
		{"walletd answers", func() { w.set(nil); c.t = c.t.Add(time.Second); p.Poll(ctx) }, true, true, true, "ok"},
		{"verdict goes stale when polls stop", func() { c.t = c.t.Add(4 * time.Second) }, false, true, true, "walletd verdict stale"},
		{"walletd fails: not ready, still live", func() { w.set(errors.New("timeout")); p.Poll(ctx) }, false, true, true, "walletd unreachable"},
		{"walletd failing past DeadAfter: not live", func() { c.t = c.t.Add(11 * time.Second); p.Poll(ctx) }, false, false, true, "walletd unreachable"},
		{"walletd back", func() { w.set(nil); p.Poll(ctx) }, true, true, true, "ok"},
	}
	for _, s := range steps {
		s.do()
		r, l, st := p.Ready(), p.Live(), p.Started()
		if r.OK != s.ready || l.OK != s.live || st.OK != s.started || r.Reason != s.readyReason {
			t.Fatalf("%s: ready=%v (%q) live=%v started=%v, want %v (%q) %v %v", s.name, r.OK, r.Reason, l.OK, st.OK, s.ready, s.readyReason, s.live, s.started)
		}
	}
}
