package health

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

func benchMonitor(b *testing.B) *Monitor {
	clock := newFakeClock()
	local := newFake(b, clock, 1000)
	ref := newFake(b, clock, 1000)
	m, err := New(testConfig(local.URL(), ref.URL()), zerolog.Nop(), nil, clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	m.PollOnce(b.Context())
	return m
}

// BenchmarkReadyz is one kubelet probe: cached verdict to JSON body.
func BenchmarkReadyz(b *testing.B) {
	m := benchMonitor(b)
	h := probe.Handler("ready", probe.Named{Name: "factomd", Check: m.Ready})
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("readyz %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkPoll is one poll: heights and current-minute on the local node
// and one reference over loopback HTTP, then the verdicts.
func BenchmarkPoll(b *testing.B) {
	m := benchMonitor(b)
	b.ReportAllocs()
	for b.Loop() {
		m.PollOnce(b.Context())
	}
}
