package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

// processLock is the resource lock client-go's renew loop holds the Lease
// with: rl.LeaseLock's record mapping over the election's leaseClient, plus
// the rule that a term belongs to one process. It never writes a Lease that
// names another process (so this process never renews or releases a term
// it does not own), never releases a Lease another replica holds, and tells
// the elector when a renewal succeeded: the gate's validity window starts at
// the moment that renewal was sent.
type processLock struct {
	e *Elector

	mu         sync.Mutex
	lease      *coordinationv1.Lease // as last read or written
	lastHolder string                // holder in the latest record read or written
	last       rl.LeaderElectionRecord
}

var _ rl.Interface = (*processLock)(nil)

func (l *processLock) Get(ctx context.Context) (*rl.LeaderElectionRecord, []byte, error) {
	lease, err := l.e.lease.Get(ctx, l.e.cfg.LeaseName, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	if lease.Annotations[AnnotationProcess] == l.e.process {
		l.e.noteOwn(lease)
	}
	rec := rl.LeaseSpecToLeaderElectionRecord(&lease.Spec)
	raw, err := json.Marshal(*rec)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	l.lease, l.lastHolder = lease, rec.HolderIdentity
	l.mu.Unlock()
	return rec, raw, nil
}

func (l *processLock) Create(ctx context.Context, rec rl.LeaderElectionRecord) error {
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: l.e.cfg.LeaseName, Namespace: l.e.cfg.Namespace, Annotations: l.e.annotations(nil)},
		Spec:       rl.LeaderElectionRecordToLeaseSpec(&rec),
	}
	return l.write(rec, func() (*coordinationv1.Lease, error) {
		return l.e.lease.Create(ctx, lease, metav1.CreateOptions{})
	})
}

func (l *processLock) Update(ctx context.Context, rec rl.LeaderElectionRecord) error {
	l.mu.Lock()
	cur, holder := l.lease, l.lastHolder
	l.mu.Unlock()
	if rec.HolderIdentity == "" && holder != l.e.cfg.PodName {
		// client-go releases after reading the Lease but decides from its
		// older observation; a paused replica could otherwise clear the
		// Lease of the replica that took over.
		return fmt.Errorf("not releasing lease held by %q", holder)
	}
	if cur == nil {
		return errors.New("lease not initialized, call get or create first")
	}
	if p := cur.Annotations[AnnotationProcess]; p != l.e.process {
		return fmt.Errorf("not writing the lease: it names process %q, this is %q", p, l.e.process)
	}
	lease := cur.DeepCopy()
	lease.Spec = rl.LeaderElectionRecordToLeaseSpec(&rec)
	return l.write(rec, func() (*coordinationv1.Lease, error) {
		return l.e.lease.Update(ctx, lease, metav1.UpdateOptions{})
	})
}

// write sends one write and, if it keeps this replica the holder, reports
// it as a renewal with the time it was sent.
func (l *processLock) write(rec rl.LeaderElectionRecord, send func() (*coordinationv1.Lease, error)) error {
	sent := l.e.now()
	written, err := send()
	if err != nil {
		return err
	}
	l.e.noteOwn(written)
	l.mu.Lock()
	l.lease, l.last, l.lastHolder = written, rec, rec.HolderIdentity
	l.mu.Unlock()
	if rec.HolderIdentity == l.e.cfg.PodName {
		l.e.onRenew(sent, rec)
	}
	return nil
}

// RecordEvent: the election's Events are the elector's own (eventSink).
func (l *processLock) RecordEvent(string) {}

func (l *processLock) Identity() string { return l.e.cfg.PodName }

func (l *processLock) Describe() string { return l.e.cfg.Namespace + "/" + l.e.cfg.LeaseName }

// record is the last record this lock wrote.
func (l *processLock) record() rl.LeaderElectionRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}
