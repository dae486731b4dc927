package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Annotations on the walletd leader Lease, set by `kubectl factom` and
// honoured by every sidecar.
const (
	// AnnotationPaused "true": no replica takes the Lease, not even a
	// crashed leader's; the holder keeps renewing.
	AnnotationPaused = "factom.io/failover-paused"
	// AnnotationSwitchoverTo names the pod the holder hands the Lease to;
	// only that pod may take it until the switchover expires.
	AnnotationSwitchoverTo = "factom.io/switchover-to"
	// AnnotationSwitchoverAt is when the switchover was asked for (RFC
	// 3339); a switchover older than SwitchoverTimeout is ignored, so a
	// target that died does not hold the Lease free forever.
	AnnotationSwitchoverAt = "factom.io/switchover-requested-at"
)

// AnnotationHistory on the keystore Secret holds the last HistoryLimit
// leader transitions (JSON), written by each new leader with its fencing
// term bump.
const AnnotationHistory = "factom.io/leader-history"

// HistoryLimit bounds the history kept in the cluster.
const HistoryLimit = 100

// SwitchoverTimeout is how long a switchover request binds the replicas.
const SwitchoverTimeout = 30 * time.Second

// Paused reports whether annotations pause failover.
func Paused(ann map[string]string) bool { return ann[AnnotationPaused] == "true" }

// SwitchoverTarget is the pod a pending switchover names, or "" when there
// is none or it expired by now.
func SwitchoverTarget(ann map[string]string, now time.Time) string {
	to := ann[AnnotationSwitchoverTo]
	if to == "" {
		return ""
	}
	at, err := time.Parse(time.RFC3339Nano, ann[AnnotationSwitchoverAt])
	if err != nil || now.Sub(at) > SwitchoverTimeout {
		return ""
	}
	return to
}

// Transition is one change of the writable leader.
type Transition struct {
	Term   int64     `json:"term"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	// TookMs is from the trigger (release seen, expiry, start) until the
	// keystore was fenced under the new term, the last step before writes
	// open.
	TookMs int64 `json:"tookMs"`
}

// ErrHistory marks a history annotation that is not what a sidecar writes.
var ErrHistory = errors.New("leader history annotation")

// maxHistoryBytes bounds what is parsed: far above HistoryLimit entries.
const maxHistoryBytes = 256 << 10

// ParseHistory decodes the history annotation (empty: no history).
func ParseHistory(s string) ([]Transition, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > maxHistoryBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrHistory, len(s), maxHistoryBytes)
	}
	var h []Transition
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistory, err)
	}
	return h, nil
}

// AppendHistory adds t to the encoded history s, keeping the last
// HistoryLimit entries. A history that does not parse is started over:
// the transition is worth more than an unreadable record.
func AppendHistory(s string, t Transition) string {
	h, err := ParseHistory(s)
	if err != nil {
		h = nil
	}
	h = append(h, t)
	if len(h) > HistoryLimit {
		h = h[len(h)-HistoryLimit:]
	}
	b, _ := json.Marshal(h) // plain fields: cannot fail
	return string(b)
}
