package leader

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// Operator controls (`kubectl factom pause|resume|switchover`) arrive as
// annotations on the Lease; every replica follows them through its watch.

func (v leaseView) annotations() map[string]string {
	if v.lease == nil {
		return nil
	}
	return v.lease.Annotations
}

// operatorControl is this replica's view of the operator's annotations.
type operatorControl struct {
	paused   prometheus.Gauge
	handover chan string // to the term loop: hand the Lease to this pod

	mu         sync.Mutex
	lastHolder string // the last holder seen, kept across a release
}

func newOperatorControl(reg prometheus.Registerer) *operatorControl {
	c := &operatorControl{
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "factom_sidecar_failover_paused",
			Help: "1 while failover is paused (kubectl factom pause): no replica takes the walletd Lease, not even a crashed leader's.",
		}),
		handover: make(chan string, 1),
	}
	if reg != nil {
		reg.MustRegister(c.paused)
	}
	return c
}

// onLeaseMeta runs for every new version of the Lease: it follows the
// pause flag and asks the term loop for a handover when the operator names
// another pod while this replica holds a writable term.
func (e *Elector) onLeaseMeta(v leaseView) {
	if h := v.holder(); h != "" {
		e.ctl.mu.Lock()
		e.ctl.lastHolder = h
		e.ctl.mu.Unlock()
	}
	ann := v.annotations()
	if control.Paused(ann) {
		e.ctl.paused.Set(1)
	} else {
		e.ctl.paused.Set(0)
	}
	to := control.SwitchoverTarget(ann, e.now())
	// While paused nobody would take a released Lease: no handover then.
	if to == "" || to == e.cfg.PodName || v.holder() != e.cfg.PodName || control.Paused(ann) {
		return
	}
	e.mu.Lock()
	st := e.cur
	leading := st != nil && st.writable && !st.ended
	e.mu.Unlock()
	if !leading {
		return
	}
	select {
	case e.ctl.handover <- to:
	default:
	}
}

// held reports whether the operator's annotations keep this replica from
// taking the Lease now, and how long to wait before looking again (-1:
// until the Lease changes). Paused: never, except a Lease this pod's
// previous process holds. A switchover to another pod: not while the
// Lease is released for it, for one lease duration.
func (e *Elector) held(v leaseView, now time.Time) (bool, time.Duration) {
	ann := v.annotations()
	if control.Paused(ann) && v.holder() != e.cfg.PodName {
		return true, -1
	}
	to := control.SwitchoverTarget(ann, now)
	if to == "" || to == e.cfg.PodName || v.holder() != "" {
		return false, 0
	}
	until := v.observedAt.Add(e.cfg.LeaseDuration)
	if now.Before(until) {
		return true, until.Sub(now)
	}
	return false, 0
}

// afterHold dates a takeover that a pause or a switchover held back from
// the moment the hold ended, so its time to writable is not the pause.
func afterHold(trigger time.Time, reason string, holdEnded time.Time) (time.Time, string) {
	if trigger.Before(holdEnded) {
		return holdEnded, reason + " (after an operator hold)"
	}
	return trigger, reason
}

// previousHolder is the holder a takeover replaces: for a released Lease,
// the one that released it (when this process saw it hold the Lease).
func (e *Elector) previousHolder(v leaseView) string {
	if h := v.holder(); h != "" {
		return h
	}
	e.ctl.mu.Lock()
	defer e.ctl.mu.Unlock()
	return e.ctl.lastHolder
}

// releaseReason names why the Lease is free for this replica.
func (e *Elector) releaseReason(v leaseView) string {
	if control.SwitchoverTarget(v.annotations(), e.now()) == e.cfg.PodName {
		return "switchover"
	}
	return "lease released"
}

// clearSwitchover drops a switchover request that is done (it names this
// replica, the new holder) or expired from the Lease this replica writes.
// A request for another pod stays: this replica retaking its own Lease
// (a restart) hands over again once it leads.
func (e *Elector) clearSwitchover(l *coordinationv1.Lease) {
	if to := control.SwitchoverTarget(l.Annotations, e.now()); to != "" && to != e.cfg.PodName {
		return
	}
	delete(l.Annotations, control.AnnotationSwitchoverTo)
	delete(l.Annotations, control.AnnotationSwitchoverAt)
}

// handOver ends a writable term for a switchover in the order shutdown
// uses: writes close, writes in flight finish, then the Lease is released
// (the named pod is the only one that takes it).
func (e *Elector) handOver(st *termState, to string, cancelRun context.CancelFunc, done <-chan struct{}, wasReleased func() bool) {
	reason := "switchover to " + to
	ended := e.endTermQuiet(st, reason)
	<-st.demoted
	cancelRun()
	<-done
	released := wasReleased()
	if released {
		e.log.Info().Str("event", logging.EventLeaseHandedOver).Int64("term", st.term).Str("from", e.cfg.PodName).Str("to", to).Msg("released the lease for the switchover")
		e.awaitSuccessor()
	}
	if ended {
		e.announceEnd(st, reason)
	}
}

// transitionKey carries the transition a promotion is for.
type transitionKey struct{}

// TransitionFrom returns the transition the OnPromote hook's ctx is for,
// so the guarded work can record it (the failover history).
func TransitionFrom(ctx context.Context) (control.Transition, bool) {
	t, ok := ctx.Value(transitionKey{}).(control.Transition)
	return t, ok
}

func (e *Elector) promoteContext(st *termState) context.Context {
	return context.WithValue(st.ctx, transitionKey{}, control.Transition{
		Term: st.term, From: st.from, To: e.cfg.PodName, Reason: st.reason, Time: st.trigger,
	})
}
