package proxy

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestParseRequestForwardsOnlyWhatWasClassified(t *testing.T) {
	for _, tc := range []struct{ name, in, method, forwarded string }{
		{"plain", `{"jsonrpc":"2.0","id":1,"method":"properties"}`,
			"properties", `{"jsonrpc":"2.0","id":1,"method":"properties"}`},
		{"params kept, whitespace around id dropped", " {\"jsonrpc\": \"2.0\", \"id\": \"a\" , \"method\":\"address\",\"params\":{\"address\":\"EC1\"}}",
			"address", `{"jsonrpc":"2.0","id":"a","method":"address","params":{"address":"EC1"}}`},
		{"duplicate method: the last one counts, and only it is forwarded", `{"jsonrpc":"2.0","id":1,"method":"properties","method":"generate-ec-address"}`,
			"generate-ec-address", `{"jsonrpc":"2.0","id":1,"method":"generate-ec-address"}`},
		{"unknown keys dropped", `{"jsonrpc":"2.0","id":1,"method":"properties","Method":"generate-ec-address","extra":1}`,
			"properties", `{"jsonrpc":"2.0","id":1,"method":"properties"}`},
		{"no id", `{"jsonrpc":"2.0","method":"properties","params":null}`,
			"properties", `{"jsonrpc":"2.0","id":null,"method":"properties"}`},
		{"escaped method", `{"jsonrpc":"2.0","id":1,"method":"gener\u0061te-ec-address"}`,
			"generate-ec-address", `{"jsonrpc":"2.0","id":1,"method":"generate-ec-address"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _, err := parseRequest([]byte(tc.in))
			if err != nil {
				t.Fatalf("parse: %+v", err)
			}
			if req.Method != tc.method {
				t.Errorf("method %q, want %q", req.Method, tc.method)
			}
			if got := string(req.encode()); got != tc.forwarded {
				t.Errorf("forwarded %s, want %s", got, tc.forwarded)
			}
		})
	}
}

var fuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"properties"}`,
	`{"jsonrpc":"2.0","id":"x","method":"address","params":{"address":"EC2"}}`,
	`{"jsonrpc":"2.0","id":null,"method":"import-addresses","params":{"addresses":[{"secret":"Fs1"}]}}`,
	`{"jsonrpc":"2.0","id":1.5e3,"method":"sign-data","params":[1,2]}`,
	`[{"jsonrpc":"2.0","id":1,"method":"properties"}]`,
	`[]`, `{}`, `null`, `"properties"`, `12`, ``, ` `, `{`, `{"method":"a"}`,
	`{"jsonrpc":"2.0","id":{},"method":"properties"}`,
	`{"jsonrpc":"2.0","id":1,"method":7}`,
	`{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`,
	`{"jsonrpc":"2.0","id":1,"method":"\u0000\ud800"}`,
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\"}\n",
	`{"jsonrpc":"2.0","id":1,"method":"p","params":"s"}`,
}

// FuzzParseRequest: parsing never panics; an accepted request re-encodes to
// a request that parses to the same thing; a rejected one gets a JSON-RPC
// parse or invalid-request error.
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, id, rerr := parseRequest(body)
		if !json.Valid(id) {
			t.Fatalf("id to echo %q is not JSON", id)
		}
		if rerr != nil {
			if rerr.Code != CodeParseError && rerr.Code != CodeInvalidRequest {
				t.Fatalf("error code %d", rerr.Code)
			}
			if b := errorReply(200, id, rerr).body; !json.Valid(b) {
				t.Fatalf("error reply %q is not JSON", b)
			}
			return
		}
		if req.Method == "" {
			t.Fatal("accepted an empty method")
		}
		if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
		enc := req.encode()
		if !json.Valid(enc) {
			t.Fatalf("forwarded %q is not JSON", enc)
		}
		again, _, rerr := parseRequest(enc)
		if rerr != nil {
			t.Fatalf("forwarded %q does not parse: %+v", enc, rerr)
		}
		if again.Method != req.Method || !bytes.Equal(again.ID, req.ID) || !bytes.Equal(again.Params, req.Params) {
			t.Fatalf("forwarded %q parses to %+v, want %+v", enc, again, req)
		}
		// What walletd's own parser (encoding/json into a struct) reads from
		// the forwarded bytes is the method the proxy classified.
		var w struct {
			Method string `json:"method"`
		}
		if err := json.Unmarshal(enc, &w); err != nil || w.Method != req.Method {
			t.Fatalf("walletd would read method %q from %q, proxy classified %q", w.Method, enc, req.Method)
		}
	})
}
