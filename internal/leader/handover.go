package leader

import (
	"context"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The graceful handover's path is: the old leader's release (one update),
// the followers' watch event, and the winner's acquisition (one update)
// side by side with its promotion (one keystore update, alongside.go).
// Everything else is kept off it: client-go's release would read the Lease
// again first, client-go's first renewal (a read and an update) waits for
// the promotion, and the old leader's label and Events wait for the
// successor.

// successorWait bounds how long a replica that released the Lease holds
// back its own label patch and Events: they would otherwise reach the API
// server together with the successor's acquisition and keystore bump.
const successorWait = 500 * time.Millisecond

// awaitSuccessor waits until the Lease names another holder, or
// successorWait (real time: a courtesy, not an election rule) has passed.
func (e *Elector) awaitSuccessor() {
	t := time.NewTimer(successorWait)
	defer t.Stop()
	for {
		next := e.obs.next()
		if h := e.obs.snapshot().holder(); h != "" && h != e.cfg.PodName {
			return
		}
		select {
		case <-next:
		case <-t.C:
			return
		}
	}
}

// awaitPromotion holds client-go's renew loop back until the promotion has
// ended or a retry period has passed, whichever comes first: the Lease was
// written by the acquisition itself, so the first renewal is not due yet.
func (e *Elector) awaitPromotion(st *termState, ctx context.Context) {
	t := e.clock.NewTimer(e.cfg.RetryPeriod)
	defer t.Stop()
	select {
	case <-st.promoted:
	case <-t.C():
	case <-ctx.Done():
	}
}

// noteOwn records the Lease as written (or read) by this process.
func (e *Elector) noteOwn(l *coordinationv1.Lease) {
	if l == nil {
		return
	}
	e.mu.Lock()
	if e.own == nil || l.ResourceVersion != e.own.ResourceVersion {
		e.own = l.DeepCopy()
	}
	e.mu.Unlock()
}

// releaseOwn clears the holder of the Lease this process holds for term,
// with the version it last wrote as precondition: a Lease written by anyone
// since (a renewal seen by nobody here, a new holder) is left alone. The
// release keeps the term (leaseTransitions) and lasts one second, as
// client-go's does.
func (e *Elector) releaseOwn(term int64) bool {
	e.mu.Lock()
	l := e.own.DeepCopy()
	e.mu.Unlock()
	if !e.holds(l, term) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RenewDeadline)
	defer cancel()
	updated, err := e.release(ctx, l)
	if apierrors.IsConflict(err) {
		// Written since by someone else, but perhaps only its annotations
		// (a switchover request names the next holder there): read it
		// once, and release it if this process still holds the term.
		if cur, gerr := e.lease.Get(ctx, e.cfg.LeaseName, metav1.GetOptions{}); gerr == nil && e.holds(cur, term) {
			updated, err = e.release(ctx, cur)
		}
	}
	if err != nil {
		e.log.Warn().Str("event", logging.EventLeaseReleaseFailed).Int64("term", term).Err(err).Msg("could not release the lease; it expires on its own")
		return false
	}
	e.noteOwn(updated)
	e.obs.observe(updated)
	return true
}

// holds reports whether l names this process as the holder of term.
func (e *Elector) holds(l *coordinationv1.Lease, term int64) bool {
	return l != nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == e.cfg.PodName &&
		l.Annotations[AnnotationProcess] == e.process && l.Spec.LeaseTransitions != nil && int64(*l.Spec.LeaseTransitions) == term
}

// release writes l with no holder, conditional on l's version.
func (e *Elector) release(ctx context.Context, l *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	l = l.DeepCopy()
	empty, one := "", int32(1)
	now := metav1.NewMicroTime(e.now())
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &empty, &one
	l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
	return e.lease.Update(ctx, l, metav1.UpdateOptions{})
}
