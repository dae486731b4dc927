package leader

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// acquisition is how this replica took the Lease.
type acquisition struct {
	term    int64
	from    string
	trigger time.Time // when the Lease became free: release seen, expiry, start
	reason  string
	early   *evidence // set when taken before expiry on evidence
	// promotion, when set, was started beside the acquisition (a released
	// Lease): the term waits for it instead of starting one.
	promotion *earlyPromotion
}

// campaignStep is what a follower does with one view of the Lease: try to
// take it, or wait (-1: until the Lease changes).
type campaignStep struct {
	try     bool
	wait    time.Duration
	held    bool // an operator hold (pause, another pod's switchover) applies
	trigger time.Time
	reason  string
	early   *evidence
	// alongside: promote while the acquisition is in flight (alongside.go).
	alongside bool
}

// nextStep applies the acquisition rules to the Lease v as this replica
// sees it at now; start is when this process joined the election. The
// Lease is free when released, expired by the local clock, missing, or
// held by this identity's previous process (with early takeover off), and
// before expiry when the holder's process is seen gone.
func (e *Elector) nextStep(v leaseView, now, start time.Time) campaignStep {
	held, heldWait := e.held(v, now)
	s := campaignStep{wait: -1, held: held}
	switch {
	case !v.known:
	case held:
		s.wait = heldWait
	case !v.exists:
		s.try, s.trigger, s.reason = true, start, "no lease yet"
	case v.holder() == "":
		// Released: the first in rank takes it at once, each next one a
		// stagger later, so that one write wins without a race.
		s.trigger, s.reason = v.observedAt, e.releaseReason(v)
		r, handover := e.releaseOrder(v)
		if at := v.observedAt.Add(time.Duration(r) * releaseStagger); now.Before(at) {
			s.wait = at.Sub(now)
		} else {
			s.try, s.alongside = true, handover && r == 0 && e.hooks.OnPromote != nil
		}
	case v.holder() == e.cfg.PodName && e.ownProcess(v):
		s.try, s.trigger, s.reason = true, v.observedAt, "lease held by this process's previous term"
	case v.holder() == e.cfg.PodName && e.take == nil:
		s.try, s.trigger, s.reason = true, v.observedAt, "lease held by this pod's previous process"
	default:
		expiry := v.observedAt.Add(v.duration())
		if ev, ok := e.earlyEvidence(v, now, expiry); ok {
			s.try, s.trigger, s.reason, s.early = true, ev.first, "leader_takeover_early: "+ev.String(), &ev
		} else if now.Before(expiry) {
			s.wait = expiry.Sub(now)
		} else {
			s.try, s.trigger, s.reason = true, expiry, "lease expired"
		}
	}
	return s
}

// campaign waits, as a follower, until nextStep says the Lease is free and
// takes it. It returns false when ctx ends.
func (e *Elector) campaign(ctx context.Context, start time.Time) (acquisition, bool) {
	var backoff time.Time
	var lastErr string
	var wasHeld bool
	var holdEnded time.Time
	for {
		if ctx.Err() != nil {
			return acquisition{}, false
		}
		v := e.obs.snapshot()
		now := e.now()
		e.mu.Lock()
		cooldown := e.cooldownUntil
		e.mu.Unlock()
		s := e.nextStep(v, now, start)
		if wasHeld && !s.held {
			holdEnded = now
		}
		wasHeld = s.held
		switch {
		case now.Before(backoff):
			s = campaignStep{wait: backoff.Sub(now)}
		case now.Before(cooldown):
			s = campaignStep{wait: cooldown.Sub(now)}
		}
		wait := s.wait
		if s.try {
			trigger, reason := afterHold(s.trigger, s.reason, holdEnded)
			if trigger.Before(start) {
				trigger = start
			}
			term := e.termFor(v)
			var promotion *earlyPromotion
			// Only a term the Lease write itself settles is promoted
			// beside it: a floor above the Lease's count means the
			// keystore has seen a term this view has not (a stale
			// watch), and bumping to it before the write wins would
			// fence whoever holds the Lease now.
			if s.alongside && v.exists && term == v.transitions()+1 {
				promotion = e.promoteAlongside(control.Transition{Term: term, From: e.previousHolder(v), To: e.cfg.PodName, Reason: reason, Time: trigger})
			}
			acq, err := e.tryAcquire(ctx, v, term)
			if err == nil {
				acq.trigger, acq.reason, acq.early, acq.promotion = trigger, reason, s.early, promotion
				if s.early != nil {
					e.announceEarly(acq, v)
				}
				return acq, true
			}
			if promotion != nil {
				e.abandon(promotion, err)
			}
			if ctx.Err() != nil {
				return acquisition{}, false
			}
			// Lost the race (conflict) or the API server failed: wait for
			// the watch to show the new state, or retry after a period.
			backoff = e.now().Add(e.cfg.RetryPeriod)
			wait = e.cfg.RetryPeriod
			if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && err.Error() != lastErr {
				e.log.Warn().Str("event", logging.EventAcquireFailed).Err(err).Msg("could not take the lease")
			}
			lastErr = err.Error()
		}
		var timer <-chan time.Time
		var t clock.Timer
		if wait >= 0 {
			t = e.clock.NewTimer(wait)
			timer = t.C()
		}
		select {
		case <-ctx.Done():
		case <-e.obs.wake:
			backoff = time.Time{}
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// termFor is the term this replica takes the Lease v with: one past the
// Lease's transitions, and never below the guarded work's term floor.
func (e *Elector) termFor(v leaseView) int64 {
	floor := int64(0)
	if e.hooks.TermFloor != nil {
		floor = e.hooks.TermFloor()
	}
	if !v.exists {
		return floor
	}
	return max(v.transitions()+1, floor)
}

// tryAcquire writes this replica into the Lease as term (termFor), with
// the resourceVersion it last saw as precondition, so exactly one
// candidate wins a race.
func (e *Elector) tryAcquire(ctx context.Context, v leaseView, term int64) (acquisition, error) {
	me := e.cfg.PodName
	secs := int32(e.cfg.LeaseDuration / time.Second)
	sent := e.now()
	ts := metav1.NewMicroTime(sent)
	if !v.exists {
		zero := int32(term)
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: e.cfg.LeaseName, Namespace: e.cfg.Namespace, Annotations: e.annotations(nil)},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: &me, LeaseDurationSeconds: &secs, AcquireTime: &ts, RenewTime: &ts, LeaseTransitions: &zero,
			},
		}
		created, err := e.lease.Create(ctx, lease, metav1.CreateOptions{})
		if err != nil {
			return acquisition{}, fmt.Errorf("create lease: %w", err)
		}
		e.acquired(sent, created)
		return acquisition{term: term}, nil
	}
	from := e.previousHolder(v)
	lease := v.lease.DeepCopy()
	transitions := int32(term)
	lease.Spec.HolderIdentity = &me
	lease.Spec.LeaseDurationSeconds = &secs
	lease.Spec.AcquireTime = &ts
	lease.Spec.RenewTime = &ts
	lease.Spec.LeaseTransitions = &transitions
	lease.Spec.PreferredHolder = nil
	lease.Annotations = e.annotations(lease.Annotations)
	e.clearSwitchover(lease)
	updated, err := e.lease.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return acquisition{}, fmt.Errorf("update lease: %w", err)
	}
	e.acquired(sent, updated)
	return acquisition{term: term, from: from}, nil
}

// acquired records this process's own write of the Lease, sent at sent: it
// counts as the term's first renewal, and the watch need not show it first.
func (e *Elector) acquired(sent time.Time, l *coordinationv1.Lease) {
	e.noteRenew(sent)
	e.noteOwn(l)
	e.obs.observe(l)
}

func (e *Elector) noteRenew(sent time.Time) {
	e.mu.Lock()
	if sent.After(e.lastRenewSent) {
		e.lastRenewSent = sent
	}
	e.mu.Unlock()
}
