package store

import (
	"context"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

// BumpTermRecording is BumpTerm that also appends t to the leader history
// annotation in the same fenced write: a history entry exists exactly for
// the terms that fenced the keystore.
func (s *Store) BumpTermRecording(ctx context.Context, prev *Snapshot, term int64, state *keystore.State, t control.Transition, now time.Time) (*Snapshot, error) {
	if prev.Term > term {
		return nil, &FencedError{Op: "bump to term", Term: term, Stored: prev.Term}
	}
	if state == nil {
		state = prev.State
	}
	t.TookMs = now.Sub(t.Time).Milliseconds()
	hist := control.AppendHistory(prev.secret.Annotations[control.AnnotationHistory], t)
	return s.writeWith(ctx, prev, term, state, map[string]string{control.AnnotationHistory: hist})
}

// History is the leader history kept on the Secret snap was read from.
func (snap *Snapshot) History() ([]control.Transition, error) {
	return control.ParseHistory(snap.secret.Annotations[control.AnnotationHistory])
}
