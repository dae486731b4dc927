package probe

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
)

// The probe body is written by hand rather than through encoding/json: the
// kubelet and load balancers may ask many times a second, and reflection
// over a freshly built map cost more CPU than everything else the sidecar
// does per probe. The output is byte for byte what json.Encoder writes for
// Evaluate's map (sorted keys, HTML-safe strings, a trailing newline);
// encode_test.go holds the two together.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxKeys bounds the keys sorted on the stack; more fall back to the heap.
const maxKeys = 32

// appendBody appends the JSON body of Evaluate(key, checks) for the given
// results (one per check, in order) and reports the overall verdict.
func appendBody(b []byte, key string, checks []Named, results []Result) ([]byte, bool) {
	ok, reason := true, "ok"
	if len(results) == 1 {
		ok, reason = results[0].OK, results[0].Reason
	} else {
		for i, res := range results {
			if !res.OK && ok {
				ok, reason = false, checks[i].Name+": "+res.Reason
			}
		}
	}
	if reason == "" {
		reason = "ok"
	}

	var arr [maxKeys]string
	keys := arr[:0]
	if len(results) == 1 {
		for k := range results[0].Fields {
			if k != key && k != "reason" {
				keys = append(keys, k)
			}
		}
	} else {
		keys = append(keys, "checks")
	}
	keys = append(keys, key, "reason")
	slices.Sort(keys)

	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		switch k {
		case key:
			b = strconv.AppendBool(b, ok)
		case "reason":
			b = appendString(b, reason)
		case "checks":
			if len(results) != 1 {
				b = appendChecks(b, key, checks, results)
				continue
			}
			b = appendValue(b, results[0].Fields[k])
		default:
			b = appendValue(b, results[0].Fields[k])
		}
	}
	return append(b, '}', '\n'), ok
}

// appendChecks writes the nested object of a multi-check body: each check
// under its name with its verdict, reason and fields.
func appendChecks(b []byte, key string, checks []Named, results []Result) []byte {
	order := make([]int, len(checks))
	for i := range order {
		order[i] = i
	}
	// Names are unique in practice; with duplicates the last one wins, as
	// in a map.
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case checks[x].Name < checks[y].Name:
			return -1
		case checks[x].Name > checks[y].Name:
			return 1
		}
		return 0
	})
	b = append(b, '{')
	first := true
	for n, i := range order {
		if n+1 < len(order) && checks[order[n+1]].Name == checks[i].Name {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, checks[i].Name)
		b = append(b, ':')
		res := results[i]
		entry := make(map[string]any, len(res.Fields)+2)
		for k, v := range res.Fields {
			entry[k] = v
		}
		entry[key] = res.OK
		entry["reason"] = res.Reason
		b = appendMap(b, entry)
	}
	return append(b, '}')
}

func appendMap(b []byte, m map[string]any) []byte {
	var arr [maxKeys]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, m[k])
	}
	return append(b, '}')
}

// appendValue writes the types the checks put in Fields directly and hands
// anything else to encoding/json.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case map[string]any:
		return appendMap(b, v)
	}
	return appendMarshalled(b, v)
}

// appendString writes s as a JSON string; strings that need escaping (rare
// in probe bodies) go through encoding/json for its exact rules.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendMarshalled(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshalled(b []byte, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		// What json.Encoder would have failed on (a channel, NaN) is a bug
		// in a check; the probe still answers with valid JSON.
		return appendString(b, "unencodable value")
	}
	return append(b, raw...)
}
