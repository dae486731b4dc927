package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

func TestCommittedWritesCarryTheirTermInAHeader(t *testing.T) {
	failing := commitFunc(func(context.Context, int64, string, json.RawMessage, json.RawMessage) error { return errInjected })
	tests := []struct {
		name     string
		opts     Options
		method   string
		params   any
		want     string // the header's value; "" means absent
		wantFail bool
	}{
		// Term 0 is the first term of a new Lease: it must be sent, not
		// mistaken for "no term".
		{name: "a generate committed under term 0", opts: Options{Gate: leaderGate(0)}, method: "generate-ec-address", want: "0"},
		{name: "a generate committed under term 7", opts: Options{Gate: leaderGate(7)}, method: "generate-identity-key", want: "7"},
		{name: "a write that could not be committed", opts: Options{Gate: leaderGate(7), Committer: failing}, method: "generate-factoid-address", wantFail: true},
		{name: "a write walletd refused", opts: Options{Gate: leaderGate(7)}, method: "import-addresses",
			params: map[string]any{"addresses": []map[string]string{{"secret": "Fs-not-a-key"}}}, wantFail: true},
		{name: "a write on a follower", opts: Options{Gate: followerGate("factom-wallet-1")}, method: "generate-ec-address", wantFail: true},
		{name: "a read", opts: Options{Gate: leaderGate(7)}, method: "all-addresses"},
		{name: "transaction building, which is not committed", opts: Options{Gate: leaderGate(7)}, method: "tmp-transactions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestProxy(t, tt.opts)
			r := call(t, tp.URL, tt.method, tt.params)
			if tt.wantFail != (r.Error != nil) {
				t.Fatalf("%s: got %s, want failure %v", tt.method, r.Raw, tt.wantFail)
			}
			got, present := r.Header[http.CanonicalHeaderKey(TermHeader)]
			switch {
			case tt.want == "" && present:
				t.Errorf("%s: %s: %v, want no header", tt.method, TermHeader, got)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("%s: %s: %v, want %q", tt.method, TermHeader, got, tt.want)
			}
		})
	}
}
