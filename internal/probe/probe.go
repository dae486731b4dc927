// Package probe serves cached verdicts as Kubernetes probe endpoints.
package probe

import (
	"encoding/json"
	"net/http"
)

// Result is one check's verdict. Fields are merged into the JSON body so a
// probe says why it failed (heights, lag, ages) without a second request.
type Result struct {
	OK     bool
	Reason string
	Fields map[string]any
}

// Check returns a cached verdict. It must not block or do I/O: the kubelet's
// request is answered from it directly.
type Check func() Result

// Named pairs a check with the name it is reported under.
type Named struct {
	Name  string
	Check Check
}

// Shared header values: net/http only reads them.
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// Handler answers 200 when every check passes and 503 otherwise. key is the
// body's verdict key ("ready", "live", "started", "leader"). With a single
// check its fields sit at the top level; with several, each check's result
// is nested under its name and the first failing reason is the top reason.
func Handler(key string, checks ...Named) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var arr [4]Result
		results := arr[:0]
		for _, c := range checks {
			results = append(results, c.Check())
		}
		bp := bufPool.Get().(*[]byte)
		body, ok := appendBody((*bp)[:0], key, checks, results)
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		h := w.Header()
		h["Content-Type"] = jsonContentType
		h["Cache-Control"] = noStore
		w.WriteHeader(status)
		_, _ = w.Write(body)
		*bp = body
		bufPool.Put(bp)
	})
}

// Evaluate runs every check and builds the body Handler would serve.
func Evaluate(key string, checks ...Named) (map[string]any, bool) {
	body := map[string]any{}
	ok := true
	reason := "ok"
	if len(checks) == 1 {
		res := checks[0].Check()
		for k, v := range res.Fields {
			body[k] = v
		}
		ok, reason = res.OK, res.Reason
	} else {
		nested := map[string]any{}
		for _, c := range checks {
			res := c.Check()
			entry := map[string]any{}
			for k, v := range res.Fields {
				entry[k] = v
			}
			// The verdict wins over a field of the same name, as at the top.
			entry[key], entry["reason"] = res.OK, res.Reason
			nested[c.Name] = entry
			if !res.OK && ok {
				ok = false
				reason = c.Name + ": " + res.Reason
			}
		}
		body["checks"] = nested
	}
	if reason == "" {
		reason = "ok"
	}
	body[key] = ok
	body["reason"] = reason
	return body, ok
}

// WriteJSON writes v as the JSON body with the given status; headers are set
// before WriteHeader.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
