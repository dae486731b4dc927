package health

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

// MaxHeight bounds a believable directory block height: mainnet makes 144
// blocks a day, so 100,000,000 is far beyond any real chain.
const MaxHeight = 100_000_000

// ErrInvalidHeight marks a height that is negative or absurdly large.
var ErrInvalidHeight = errors.New("invalid height")

// Heights is factomd's answer to `heights`.
type Heights struct {
	DirectoryBlockHeight int64 `json:"directoryblockheight"`
	// LeaderHeight is the node's own view of the leader's height; while the
	// node syncs it equals its saved height, so it is never a network reference.
	LeaderHeight int64 `json:"leaderheight"`
	// EntryHeight is the highest directory block whose entries are all in
	// the node's database: a node can be at the tip while it lags.
	EntryHeight int64 `json:"entryheight"`
}

// CurrentMinute is factomd's answer to `current-minute`. Times are Unix nanoseconds.
type CurrentMinute struct {
	DirectoryBlockHeight   int64 `json:"directoryblockheight"`
	Minute                 int64 `json:"minute"`
	CurrentBlockStartTime  int64 `json:"currentblockstarttime"`
	CurrentMinuteStartTime int64 `json:"currentminutestarttime"`
	CurrentTime            int64 `json:"currenttime"`
	// DirectoryBlockInSeconds is the network's block time; 0 when factomd
	// did not say.
	DirectoryBlockInSeconds int64 `json:"directoryblockinseconds"`
	StallDetected           bool  `json:"stalldetected"`
}

// MaxBlockSeconds bounds a believable block time (mainnet: 600 s).
const MaxBlockSeconds = 86_400

// DecodeHeights parses the result of `heights`. Missing or non-integer
// fields wrap jsonrpc.ErrMalformed; out-of-range heights wrap ErrInvalidHeight.
func DecodeHeights(raw []byte) (Heights, error) {
	fields, err := object(raw)
	if err != nil {
		return Heights{}, fmt.Errorf("heights: %w", err)
	}
	var h Heights
	if h.DirectoryBlockHeight, err = height(fields, "directoryblockheight"); err != nil {
		return Heights{}, fmt.Errorf("heights: %w", err)
	}
	if h.LeaderHeight, err = height(fields, "leaderheight"); err != nil {
		return Heights{}, fmt.Errorf("heights: %w", err)
	}
	if h.EntryHeight, err = height(fields, "entryheight"); err != nil {
		return Heights{}, fmt.Errorf("heights: %w", err)
	}
	return h, nil
}

// DecodeCurrentMinute parses the result of `current-minute`.
func DecodeCurrentMinute(raw []byte) (CurrentMinute, error) {
	fields, err := object(raw)
	if err != nil {
		return CurrentMinute{}, fmt.Errorf("current-minute: %w", err)
	}
	var cm CurrentMinute
	if cm.DirectoryBlockHeight, err = height(fields, "directoryblockheight"); err != nil {
		return CurrentMinute{}, fmt.Errorf("current-minute: %w", err)
	}
	if cm.Minute, err = integer(fields, "minute"); err != nil {
		return CurrentMinute{}, fmt.Errorf("current-minute: %w", err)
	}
	// Minutes run 0-9; factomd briefly reports 10 while closing a block.
	if cm.Minute < 0 || cm.Minute > 10 {
		return CurrentMinute{}, fmt.Errorf("current-minute: %w: minute %d out of range 0-10", jsonrpc.ErrMalformed, cm.Minute)
	}
	for _, t := range []struct {
		name string
		dst  *int64
	}{
		{"currentblockstarttime", &cm.CurrentBlockStartTime},
		{"currentminutestarttime", &cm.CurrentMinuteStartTime},
		{"currenttime", &cm.CurrentTime},
	} {
		if *t.dst, err = integer(fields, t.name); err != nil {
			return CurrentMinute{}, fmt.Errorf("current-minute: %w", err)
		}
		if *t.dst < 0 {
			return CurrentMinute{}, fmt.Errorf("current-minute: %w: %s is negative", jsonrpc.ErrMalformed, t.name)
		}
	}
	if _, ok := fields["directoryblockinseconds"]; ok {
		if cm.DirectoryBlockInSeconds, err = integer(fields, "directoryblockinseconds"); err != nil {
			return CurrentMinute{}, fmt.Errorf("current-minute: %w", err)
		}
		if cm.DirectoryBlockInSeconds < 1 || cm.DirectoryBlockInSeconds > MaxBlockSeconds {
			return CurrentMinute{}, fmt.Errorf("current-minute: %w: directoryblockinseconds %d out of range 1-%d", jsonrpc.ErrMalformed, cm.DirectoryBlockInSeconds, MaxBlockSeconds)
		}
	}
	stall, ok := fields["stalldetected"]
	if !ok {
		return CurrentMinute{}, fmt.Errorf("current-minute: %w: no stalldetected", jsonrpc.ErrMalformed)
	}
	if err := json.Unmarshal(stall, &cm.StallDetected); err != nil {
		return CurrentMinute{}, fmt.Errorf("current-minute: %w: stalldetected: %w", jsonrpc.ErrMalformed, err)
	}
	return cm, nil
}

func object(raw []byte) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%w: %w", jsonrpc.ErrMalformed, err)
	}
	if fields == nil {
		return nil, fmt.Errorf("%w: result is not an object", jsonrpc.ErrMalformed)
	}
	return fields, nil
}

// integer reads an exact JSON integer: floats, strings, null and numbers
// beyond int64 are malformed rather than silently rounded.
func integer(fields map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := fields[name]
	if !ok {
		return 0, fmt.Errorf("%w: no %s", jsonrpc.ErrMalformed, name)
	}
	raw = bytes.TrimSpace(raw)
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s is not an integer: %.40q", jsonrpc.ErrMalformed, name, raw)
	}
	return v, nil
}

func height(fields map[string]json.RawMessage, name string) (int64, error) {
	v, err := integer(fields, name)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > MaxHeight {
		return 0, fmt.Errorf("%w: %s %d out of range 0-%d", ErrInvalidHeight, name, v, MaxHeight)
	}
	return v, nil
}
