package health

import (
	"errors"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		heights string
		minute  string
		wantErr error
		errText string
	}{
		{name: "a real factomd answer",
			heights: `{"directoryblockheight":7,"leaderheight":8,"entryblockheight":7,"entryheight":7}`,
			minute:  `{"leaderheight":8,"directoryblockheight":7,"minute":0,"currentblockstarttime":1795642844452307122,"currentminutestarttime":1795642844452307122,"currenttime":1795642844715000000,"directoryblockinseconds":6,"stalldetected":false,"faulttimeout":120,"roundtimeout":30}`},
		{name: "missing entryheight", heights: `{"directoryblockheight":7,"leaderheight":8}`, wantErr: jsonrpc.ErrMalformed, errText: "heights: malformed response: no entryheight"},
		{name: "negative entryheight", heights: `{"directoryblockheight":7,"leaderheight":8,"entryheight":-1}`, wantErr: ErrInvalidHeight},
		{name: "no directoryblockinseconds is allowed", minute: `{"directoryblockheight":7,"minute":1,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1,"stalldetected":false}`},
		{name: "zero block time", minute: `{"directoryblockheight":7,"minute":1,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1,"directoryblockinseconds":0,"stalldetected":false}`,
			wantErr: jsonrpc.ErrMalformed, errText: "current-minute: malformed response: directoryblockinseconds 0 out of range 1-86400"},
		{name: "block time as a string", minute: `{"directoryblockheight":7,"minute":1,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1,"directoryblockinseconds":"6","stalldetected":false}`, wantErr: jsonrpc.ErrMalformed},
		{name: "missing directoryblockheight", heights: `{"leaderheight":8}`, wantErr: jsonrpc.ErrMalformed, errText: "heights: malformed response: no directoryblockheight"},
		{name: "negative height", heights: `{"directoryblockheight":-1,"leaderheight":8}`, wantErr: ErrInvalidHeight, errText: "heights: invalid height: directoryblockheight -1 out of range 0-100000000"},
		{name: "absurd height", heights: `{"directoryblockheight":100000001,"leaderheight":8}`, wantErr: ErrInvalidHeight},
		{name: "fractional height", heights: `{"directoryblockheight":7.5,"leaderheight":8}`, wantErr: jsonrpc.ErrMalformed},
		{name: "height as a string", heights: `{"directoryblockheight":"7","leaderheight":8}`, wantErr: jsonrpc.ErrMalformed},
		{name: "height null", heights: `{"directoryblockheight":null,"leaderheight":8}`, wantErr: jsonrpc.ErrMalformed},
		{name: "result is an array", heights: `[1,2]`, wantErr: jsonrpc.ErrMalformed},
		{name: "result is null", heights: `null`, wantErr: jsonrpc.ErrMalformed},
		{name: "minute out of range", minute: `{"directoryblockheight":7,"minute":11,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1,"stalldetected":false}`, wantErr: jsonrpc.ErrMalformed},
		{name: "negative time", minute: `{"directoryblockheight":7,"minute":1,"currentblockstarttime":-1,"currentminutestarttime":1,"currenttime":1,"stalldetected":false}`, wantErr: jsonrpc.ErrMalformed},
		{name: "stalldetected not a bool", minute: `{"directoryblockheight":7,"minute":1,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1,"stalldetected":"no"}`, wantErr: jsonrpc.ErrMalformed},
		{name: "no stalldetected", minute: `{"directoryblockheight":7,"minute":1,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1}`, wantErr: jsonrpc.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.heights != "" {
				_, err = DecodeHeights([]byte(tc.heights))
			}
			if err == nil && tc.minute != "" {
				_, err = DecodeCurrentMinute([]byte(tc.minute))
			}
			if tc.heights == "" && tc.minute == "" {
				t.Fatal("no input")
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("decode error = %v, want %v", err, tc.wantErr)
			}
			if tc.errText != "" && err.Error() != tc.errText {
				t.Errorf("error text = %q, want %q", err, tc.errText)
			}
		})
	}
}

func TestDecodeBooted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     string
		booted  bool
		wantErr bool
	}{
		{name: "a booting factomd", raw: `{"currentheight":0,"lastsavedheight":0,"balances":[{"ack":0,"saved":0,"err":"Not fully booted"}]}`},
		{name: "a booted factomd", raw: `{"currentheight":5,"lastsavedheight":4,"balances":[{"ack":0,"saved":0,"err":"Address has not had a transaction"}]}`, booted: true},
		{name: "no error text", raw: `{"balances":[{"ack":10,"saved":10}]}`, booted: true},
		{name: "no balances", raw: `{"currentheight":5}`, wantErr: true},
		{name: "two balances", raw: `{"balances":[{"err":""},{"err":""}]}`, wantErr: true},
		{name: "a balance that is not an object", raw: `{"balances":["Not fully booted"]}`, wantErr: true},
		{name: "a null balance", raw: `{"balances":[null]}`, wantErr: true},
		{name: "err not a string", raw: `{"balances":[{"err":1}]}`, wantErr: true},
		{name: "not an object", raw: `[]`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			booted, err := DecodeBooted([]byte(tc.raw))
			if tc.wantErr {
				if !errors.Is(err, jsonrpc.ErrMalformed) || !strings.HasPrefix(err.Error(), "multiple-ec-balances: ") {
					t.Fatalf("DecodeBooted = %v, %v; want a malformed error", booted, err)
				}
				return
			}
			if err != nil || booted != tc.booted {
				t.Fatalf("DecodeBooted = %v, %v; want %v", booted, err, tc.booted)
			}
		})
	}
}

// FuzzDecode feeds whole response bodies through the envelope decoder and
// both result decoders: nothing may panic, and whatever is accepted is in range.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"directoryblockheight":7,"leaderheight":8,"entryblockheight":7,"entryheight":7}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"leaderheight":8,"directoryblockheight":7,"minute":3,"currentblockstarttime":1795642844452307122,"currentminutestarttime":1795642845654939036,"currenttime":1795642845739000000,"directoryblockinseconds":6,"stalldetected":false,"faulttimeout":120,"roundtimeout":30}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"directoryblockheight":-5,"leaderheight":3}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"directoryblockheight":4000000000,"leaderheight":3}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"directoryblockheight":1e400,"leaderheight":3}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"directoryblockheight":`,
		`{"jsonrpc":"2.0","id":1,"result":null}`,
		`{"jsonrpc":"2.0","id":1,"result":[]}`,
		`{"jsonrpc":"2.0","id":1,"result":{"minute":-1,"stalldetected":true}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"directoryblockheight":7,"minute":1,"currentblockstarttime":1,"currentminutestarttime":1,"currenttime":1,"directoryblockinseconds":-6,"stalldetected":false}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"currentheight":0,"lastsavedheight":0,"balances":[{"ack":0,"saved":0,"err":"Not fully booted"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"currentheight":5,"lastsavedheight":4,"balances":[{"ack":0,"saved":0,"err":"Address has not had a transaction"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"balances":[null,{"err":7}]}}`,
		``,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := jsonrpc.DecodeResponse(body)
		if err != nil {
			return
		}
		if h, err := DecodeHeights(raw); err == nil {
			if h.DirectoryBlockHeight < 0 || h.DirectoryBlockHeight > MaxHeight || h.LeaderHeight < 0 || h.LeaderHeight > MaxHeight ||
				h.EntryHeight < 0 || h.EntryHeight > MaxHeight {
				t.Fatalf("accepted out-of-range heights %+v from %q", h, body)
			}
		} else if !errors.Is(err, jsonrpc.ErrMalformed) && !errors.Is(err, ErrInvalidHeight) {
			t.Fatalf("unclassified heights error %v", err)
		} else if !strings.HasPrefix(err.Error(), "heights: ") {
			t.Fatalf("heights error without prefix: %v", err)
		}
		if cm, err := DecodeCurrentMinute(raw); err == nil {
			if cm.DirectoryBlockHeight < 0 || cm.DirectoryBlockHeight > MaxHeight || cm.Minute < 0 || cm.Minute > 10 ||
				cm.CurrentBlockStartTime < 0 || cm.CurrentMinuteStartTime < 0 || cm.CurrentTime < 0 ||
				cm.DirectoryBlockInSeconds < 0 || cm.DirectoryBlockInSeconds > MaxBlockSeconds {
				t.Fatalf("accepted out-of-range current-minute %+v from %q", cm, body)
			}
		} else if !errors.Is(err, jsonrpc.ErrMalformed) && !errors.Is(err, ErrInvalidHeight) {
			t.Fatalf("unclassified current-minute error %v", err)
		}
		if _, err := DecodeBooted(raw); err != nil && !errors.Is(err, jsonrpc.ErrMalformed) {
			t.Fatalf("unclassified boot error %v", err)
		}
	})
}
