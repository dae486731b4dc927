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
	if len(results) == 1 {
		res := results[0]
		reason := res.Reason
		if reason == "" {
			reason = "ok"
		}
		return append(appendResult(b, key, res.OK, reason, res.Fields), '\n'), res.OK
	}
	ok, reason := true, "ok"
	for i, res := range results {
		if !res.OK && ok {
			ok, reason = false, checks[i].Name+": "+res.Reason
		}
	}
	b = appendObject(b, []string{"checks", key, "reason"}, func(b []byte, k string) []byte {
		switch k {
		case key:
			return strconv.AppendBool(b, ok)
		case "reason":
			return appendString(b, reason)
		}
		return appendChecks(b, key, checks, results)
	})
	return append(b, '\n'), ok
}

// appendResult writes fields with the verdict under key and the reason
// beside them; the verdict wins over a field of the same name.
func appendResult(b []byte, key string, ok bool, reason string, fields map[string]any) []byte {
	var arr [maxKeys]string
	keys := arr[:0]
	for k := range fields {
		if k != key && k != "reason" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, key, "reason")
	return appendObject(b, keys, func(b []byte, k string) []byte {
		switch k {
		case key:
			return strconv.AppendBool(b, ok)
		case "reason":
			return appendString(b, reason)
		}
		return appendValue(b, fields[k])
	})
}

// appendObject writes an object of keys, sorted as encoding/json sorts a
// map's, each value written by value.
func appendObject(b []byte, keys []string, value func(b []byte, k string) []byte) []byte {
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = value(b, k)
	}
	return append(b, '}')
}

// appendChecks writes the nested object of a multi-check body: each check
// under its name with its verdict, reason and fields. Names are unique in
// practice; with duplicates the last one wins, as in a map.
func appendChecks(b []byte, key string, checks []Named, results []Result) []byte {
	last := make(map[string]int, len(checks))
	names := make([]string, 0, len(checks))
	for i, c := range checks {
		if _, dup := last[c.Name]; !dup {
			names = append(names, c.Name)
		}
		last[c.Name] = i
	}
	return appendObject(b, names, func(b []byte, name string) []byte {
		res := results[last[name]]
		return appendResult(b, key, res.OK, res.Reason, res.Fields)
	})
}

func appendMap(b []byte, m map[string]any) []byte {
	var arr [maxKeys]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	return appendObject(b, keys, func(b []byte, k string) []byte { return appendValue(b, m[k]) })
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
