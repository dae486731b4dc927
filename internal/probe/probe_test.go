package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
)

// viaEncodingJSON is the body as encoding/json writes Evaluate's map: the
// reference the hand-written encoder must match byte for byte.
func viaEncodingJSON(t *testing.T, key string, checks ...Named) []byte {
	t.Helper()
	body, _ := Evaluate(key, checks...)
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(body); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fixed(r Result) Check { return func() Result { return r } }

func serve(t *testing.T, h http.Handler, method string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/readyz", nil))
	return rec
}

func TestHandlerBodyMatchesEncodingJSON(t *testing.T) {
	cases := map[string][]Named{
		"one check, ok": {{Name: "factomd", Check: fixed(Result{OK: true, Fields: map[string]any{
			"localHeight": int64(1000), "lag": int64(0), "maxLag": 2, "minute": 3, "stallDetected": false,
			"lastPollAgeMs": int64(412), "references": 1, "referencesAnswering": 1, "blockAgeMs": int64(12345),
		}})}},
		"one check, failing with escapes": {{Name: "factomd", Check: fixed(Result{OK: false, Reason: `lagging <by> "3" & more`, Fields: map[string]any{
			"lastError": "malformed\n\x01", "utf8": "höhe", "invalid": "\xff", "lineSep": "a\u2028b", "nothing": nil,
			"ratio": 0.5, "tiny": 1e-9, "huge": 1e22, "uint": uint64(1 << 63), "neg": -7, "list": []string{"a", "b"},
			"nested": map[string]any{"b": 1, "a": "x"},
		}})}},
		"fields named like the verdict keys": {{Name: "x", Check: fixed(Result{OK: true, Reason: "fine", Fields: map[string]any{"ready": false, "reason": "shadowed", "checks": 3}})}},
		"empty reason":                       {{Name: "x", Check: fixed(Result{OK: false})}},
		"no fields":                          {{Name: "x", Check: fixed(Result{OK: true})}},
		"several checks": {
			{Name: "walletd", Check: fixed(Result{OK: true, Fields: map[string]any{"lastOkAgoMs": int64(3)}})},
			{Name: "keystore", Check: fixed(Result{OK: false, Reason: "not in sync", Fields: map[string]any{"generation": int64(9), "ready": "shadowed"}})},
			{Name: "factomd", Check: fixed(Result{OK: false, Reason: "stale"})},
		},
		"duplicate check names": {
			{Name: "a", Check: fixed(Result{OK: true})},
			{Name: "a", Check: fixed(Result{OK: false, Reason: "second"})},
		},
	}
	for name, checks := range cases {
		t.Run(name, func(t *testing.T) {
			want := viaEncodingJSON(t, "ready", checks...)
			rec := serve(t, Handler("ready", checks...), http.MethodGet)
			if got := rec.Body.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("body differs from encoding/json:\n got %s\nwant %s", got, want)
			}
			_, ok := Evaluate("ready", checks...)
			if wantStatus := map[bool]int{true: 200, false: 503}[ok]; rec.Code != wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

// Random bodies of the field types the checks use, many keys included.
func TestHandlerBodyMatchesEncodingJSONRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []func() any{
		func() any { return rng.Int64N(1<<40) - 1<<39 },
		func() any { return rng.IntN(100) },
		func() any { return rng.IntN(2) == 0 },
		func() any { return fmt.Sprintf("reason-%d", rng.IntN(1000)) },
		func() any { return rng.Float64() * 1000 },
		func() any { return nil },
	}
	for i := range 500 {
		fields := map[string]any{}
		for j := range rng.IntN(40) {
			fields[fmt.Sprintf("f%02d_%d", j, rng.IntN(5))] = values[rng.IntN(len(values))]()
		}
		checks := []Named{{Name: "c", Check: fixed(Result{OK: rng.IntN(2) == 0, Reason: "r", Fields: fields})}}
		if i%2 == 1 {
			checks = append(checks, Named{Name: "b", Check: fixed(Result{OK: rng.IntN(2) == 0, Fields: fields})})
		}
		want := viaEncodingJSON(t, "live", checks...)
		if got := serve(t, Handler("live", checks...), http.MethodGet).Body.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("case %d differs:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestHandlerRefusesOtherMethods(t *testing.T) {
	rec := serve(t, Handler("ready", Named{Name: "x", Check: fixed(Result{OK: true})}), http.MethodPost)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %v", rec.Code, rec.Header())
	}
}

func BenchmarkHandler(b *testing.B) {
	h := Handler("ready", Named{Name: "factomd", Check: fixed(Result{OK: true, Fields: map[string]any{
		"localHeight": int64(1000), "lag": int64(0), "maxLag": 2, "minute": 3, "stallDetected": false,
		"lastPollAgeMs": int64(412), "references": 1, "referencesAnswering": 1, "blockAgeMs": int64(12345),
	}})})
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
