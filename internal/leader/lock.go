package leader

import (
	"context"
	"fmt"
	"sync"
	"time"

	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

// trackingLock wraps client-go's LeaseLock to learn when renewals succeed
// (the gate's validity window starts at the moment a successful renewal was
// sent) and to refuse releasing a Lease another replica holds.
type trackingLock struct {
	rl.Interface
	identity string
	now      func() time.Time
	// onRenew is called after every successful write that keeps this
	// replica the holder, with the time the write was sent.
	onRenew func(sent time.Time, rec rl.LeaderElectionRecord)

	mu         sync.Mutex
	lastHolder string // holder in the latest record read
	last       rl.LeaderElectionRecord
}

func (l *trackingLock) Get(ctx context.Context) (*rl.LeaderElectionRecord, []byte, error) {
	rec, raw, err := l.Interface.Get(ctx)
	if err == nil {
		l.mu.Lock()
		l.lastHolder = rec.HolderIdentity
		l.mu.Unlock()
	}
	return rec, raw, err
}

func (l *trackingLock) Create(ctx context.Context, rec rl.LeaderElectionRecord) error {
	return l.write(ctx, rec, l.Interface.Create)
}

func (l *trackingLock) Update(ctx context.Context, rec rl.LeaderElectionRecord) error {
	if rec.HolderIdentity == "" {
		// client-go releases after reading the Lease but decides from its
		// older observation; a paused replica could otherwise clear the
		// Lease of the replica that took over.
		l.mu.Lock()
		holder := l.lastHolder
		l.mu.Unlock()
		if holder != l.identity {
			return fmt.Errorf("not releasing lease held by %q", holder)
		}
	}
	return l.write(ctx, rec, l.Interface.Update)
}

func (l *trackingLock) write(ctx context.Context, rec rl.LeaderElectionRecord, fn func(context.Context, rl.LeaderElectionRecord) error) error {
	sent := l.now()
	if err := fn(ctx, rec); err != nil {
		return err
	}
	l.mu.Lock()
	l.last = rec
	l.lastHolder = rec.HolderIdentity
	l.mu.Unlock()
	if rec.HolderIdentity == l.identity && l.onRenew != nil {
		l.onRenew(sent, rec)
	}
	return nil
}

// record is the last record this lock wrote.
func (l *trackingLock) record() rl.LeaderElectionRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}
