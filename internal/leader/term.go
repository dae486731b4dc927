package leader

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// termState is one term of leadership of this replica.
type termState struct {
	term     int64
	from     string
	trigger  time.Time
	reason   string
	ctx      context.Context
	cancel   context.CancelFunc
	writable bool
	renewing bool // client-go's renew loop holds the Lease (the start timer is off)
	ended    bool
	demoted  chan struct{} // closed once OnDemote has run for this term
	promoted chan struct{} // closed once the promotion has ended, either way
	// promotion was started beside the acquisition (alongside.go); nil:
	// promote runs OnPromote itself.
	promotion *earlyPromotion
}

// lead runs one term. The term starts with this replica's own write of
// the Lease: promotion begins at once, while client-go's elector takes over
// renewing (and releasing on cancel) the Lease this replica now holds.
func (e *Elector) lead(ctx context.Context, acq acquisition) {
	lock := &processLock{e: e}
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	started := make(chan struct{})
	var startOnce sync.Once
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: e.cfg.LeaseDuration,
		RenewDeadline: e.cfg.RenewDeadline,
		RetryPeriod:   e.cfg.RetryPeriod,
		// Released by this elector (releaseOwn), conditional on the
		// version it last wrote: no extra read on the handover's path.
		ReleaseOnCancel: false,
		Name:            e.cfg.LeaseName,
		WatchDog:        e.healthz,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { startOnce.Do(func() { close(started) }) },
			OnStoppedLeading: e.onStopped,
		},
	})
	if err != nil {
		// Config.Validate enforces client-go's rules; this is a bug.
		e.log.Error().Str("event", logging.EventElectionFailed).Err(err).Msg("cannot build the elector")
		return
	}

	tctx, cancelTerm := context.WithCancel(context.Background())
	if acq.promotion != nil {
		tctx, cancelTerm = acq.promotion.ctx, acq.promotion.cancel
	}
	st := &termState{promotion: acq.promotion, term: acq.term, from: acq.from, trigger: acq.trigger, reason: acq.reason, ctx: tctx, cancel: cancelTerm, demoted: make(chan struct{}), promoted: make(chan struct{})}
	// The next term may not start before this one's OnDemote has run.
	defer func() { <-st.demoted }()
	e.mu.Lock()
	e.cur = st
	e.cancelRun = cancelRun
	e.mu.Unlock()
	e.m.term.Set(float64(acq.term))
	e.log.Info().Str("event", logging.EventLeaderElected).Int64("term", acq.term).Str("from", acq.from).Str("to", e.cfg.PodName).
		Str("reason", acq.reason).Int64("tookMs", e.now().Sub(acq.trigger).Milliseconds()).Msg("acquired the lease; promoting")
	go e.promote(st)

	e.healthz.SetLeaderElection(le)
	// A finished elector must not fail liveness with its stale record.
	defer e.healthz.SetLeaderElection(nil)
	done := make(chan struct{})
	var released bool
	go func() {
		defer close(done)
		e.awaitPromotion(st, runCtx)
		le.Run(runCtx)
		released = e.releaseOwn(st.term)
	}()

	// client-go takes at once a Lease this replica holds; if it does not
	// (the Lease changed hands meanwhile), the term ends.
	startTimer := e.clock.NewTimer(e.cfg.RenewDeadline)
	defer startTimer.Stop()
	ctxDone := ctx.Done()
	for {
		select {
		case <-done:
			e.endTerm(st, "renewing stopped", false)
			return
		case <-started:
			started = nil
			startTimer.Stop()
			e.mu.Lock()
			st.renewing = true
			e.mu.Unlock()
			if rec := lock.record(); int64(rec.LeaderTransitions) != st.term {
				e.endTerm(st, fmt.Sprintf("lease term changed to %d", rec.LeaderTransitions), true)
			}
		case <-startTimer.C():
			e.endTerm(st, "could not start renewing the acquired lease", true)
		case <-ctxDone:
			ctxDone = nil
			e.shutdown(st, cancelRun, done, func() bool { return released })
			return
		case to := <-e.ctl.handover:
			if control.SwitchoverTarget(e.obs.snapshot().annotations(), e.now()) == to {
				e.handOver(st, to, cancelRun, done, func() bool { return released })
				return
			}
		}
	}
}

// shutdown steps down in the order that keeps writes safe: close the gate,
// let writes in flight finish, and only then release the Lease. Label and
// Event wait until the Lease is released, so the handover goes first.
func (e *Elector) shutdown(st *termState, cancelRun context.CancelFunc, done <-chan struct{}, wasReleased func() bool) {
	ended := e.endTermQuiet(st, "shutting down")
	// endTermQuiet waits (bounded) for the writes in flight, lets them
	// commit, and only then demotes: the Lease is still ours meanwhile.
	<-st.demoted
	cancelRun()
	<-done
	released := wasReleased()
	if released {
		e.log.Info().Str("event", logging.EventLeaseReleased).Int64("term", st.term).Str("from", e.cfg.PodName).Msg("released the lease for another replica")
		e.awaitSuccessor()
	}
	if ended {
		e.announceEnd(st, "shutting down")
	}
	if released {
		e.events.emit(corev1.EventTypeNormal, kubeevents.ReasonLeaseReleased, "released the walletd leader lease at the end of term %d", st.term)
	}
}

func (e *Elector) onRenew(sent time.Time, rec rl.LeaderElectionRecord) {
	e.noteRenew(sent)
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil && int64(rec.LeaderTransitions) != st.term {
		e.endTerm(st, fmt.Sprintf("lease term changed to %d", rec.LeaderTransitions), true)
		return
	}
	e.gate.Extend(sent.Add(e.cfg.RenewDeadline))
}

// promote runs the promotion hook, then opens writes, then labels the pod
// and records the Event.
func (e *Elector) promote(st *termState) {
	defer close(st.promoted)
	term := st.term
	if e.hooks.OnPromote != nil {
		if err := e.runPromotion(st); err != nil {
			if st.ctx.Err() != nil {
				return // the term ended meanwhile; endTerm reported it
			}
			e.log.Error().Str("event", logging.EventPromotionFailed).Int64("term", term).Str("from", st.from).Str("to", e.cfg.PodName).Err(err).Msg("promotion failed; giving up the lease")
			e.events.emit(corev1.EventTypeWarning, kubeevents.ReasonPromotionFailed, "promotion for term %d failed, lease given up: %v", term, err)
			// Let another replica try first.
			e.mu.Lock()
			e.cooldownUntil = e.now().Add(e.cfg.LeaseDuration)
			e.mu.Unlock()
			e.endTerm(st, "promotion failed", true)
			return
		}
	}

	e.mu.Lock()
	if e.cur != st || st.ended {
		e.mu.Unlock()
		return
	}
	validUntil := e.lastRenewSent.Add(e.cfg.RenewDeadline)
	if !e.now().Before(validUntil) {
		e.mu.Unlock()
		e.endTerm(st, "no successful renewal within the renew deadline during promotion", true)
		return
	}
	e.gate.Open(term, validUntil)
	e.gate.SetHolder(e.cfg.PodName)
	st.writable = true
	e.mu.Unlock()

	took := e.now().Sub(st.trigger)
	e.m.isLeader.Set(1)
	e.m.timeToWritable.Observe(took.Seconds())
	e.log.Info().Str("event", logging.EventFailoverComplete).Int64("term", term).Str("from", st.from).Str("to", e.cfg.PodName).
		Str("reason", st.reason).Int64("tookMs", took.Milliseconds()).Msg("writable leader")
	e.labels.set(RoleLeader)
	e.events.emit(corev1.EventTypeNormal, kubeevents.ReasonLeaderElected, "became the writable walletd leader with term %d (previous holder %q, %s; writable %dms later)",
		term, st.from, st.reason, took.Milliseconds())
}

// runPromotion runs the term's promotion, or waits for the one started
// beside the acquisition.
func (e *Elector) runPromotion(st *termState) error {
	if st.promotion != nil {
		return st.promotion.wait()
	}
	return e.hooks.OnPromote(e.promoteContext(st), st.term)
}

func (e *Elector) onStopped() {
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil {
		e.endTerm(st, "lease lost", false)
	}
}

// Fenced ends term, if this replica still leads it, and gives the Lease
// up: the guarded work found its keystore written under a newer term.
// Another holder of the Lease would have ended the term already; while
// this replica holds it, nobody owns the newer term (a promotion abandoned
// when its acquisition lost the race), and renewing would keep a leader
// that can never write. The next acquisition's term floor is above the
// stored term, so whoever takes the Lease next can write. Safe to call
// from any goroutine.
func (e *Elector) Fenced(term int64) {
	e.endTermIfCurrent(term, "keystore fenced by a newer term")
}

func (e *Elector) onGateExpired(term int64) {
	e.endTermIfCurrent(term, "no successful renewal within the renew deadline")
}

// endTermIfCurrent ends term and stops renewing, if this replica still
// leads it: a report about an earlier term changes nothing.
func (e *Elector) endTermIfCurrent(term int64, reason string) {
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	if st != nil && st.term == term {
		e.endTerm(st, reason, true)
	}
}

// onLeaseChange follows the holder for logs, metrics and errors, and ends
// this replica's term the moment the watch shows another holder.
func (e *Elector) onLeaseChange(old, cur leaseView) {
	if cur.holder() != old.holder() || !old.known {
		e.gate.SetHolder(cur.holder())
		if old.known {
			e.m.transitions.Inc()
		}
		e.m.term.Set(float64(cur.transitions()))
		e.log.Info().Str("event", logging.EventLeaderObserved).Int64("term", cur.transitions()).Str("from", old.holder()).Str("to", cur.holder()).Msg("lease holder changed")
	}
	if e.take != nil {
		e.take.leaseChanged(cur)
	}
	e.mu.Lock()
	st := e.cur
	e.mu.Unlock()
	// Callbacks run outside the observer's lock, so this one may come after
	// a newer view (this process's own acquisition): the term is judged by
	// the latest view, never by an older one.
	latest := e.obs.snapshot()
	if st != nil && latest.exists && latest.holder() != e.cfg.PodName && latest.holder() != "" {
		e.endTerm(st, fmt.Sprintf("lease taken by %s", latest.holder()), true)
	} else if st != nil && latest.holder() == e.cfg.PodName && !e.ownProcess(latest) {
		e.endTerm(st, "lease taken by another process of this pod", true)
	}
}

// endTerm ends a term once: writes close first, then promotion is
// cancelled and hooks run, then label and Event follow. stopRenewing also
// stops client-go's elector (which then releases the Lease if still held).
func (e *Elector) endTerm(st *termState, reason string, stopRenewing bool) {
	if !e.endTermQuiet(st, reason) {
		return
	}
	e.announceEnd(st, reason)
	if stopRenewing {
		e.mu.Lock()
		cancelRun := e.cancelRun
		e.mu.Unlock()
		if cancelRun != nil {
			cancelRun()
		}
	}
}

// endTermQuiet closes writes, cancels the promotion and runs OnDemote; it
// reports false if the term had already ended.
func (e *Elector) endTermQuiet(st *termState, reason string) bool {
	e.mu.Lock()
	if st.ended {
		e.mu.Unlock()
		return false
	}
	st.ended = true
	wasWritable := e.gate.Close()
	if e.cur == st {
		e.cur = nil
	}
	e.mu.Unlock()

	st.cancel()
	e.m.isLeader.Set(0)
	// Writes admitted in this term finish (and commit: the Secret's term
	// fences them if a newer leader has bumped it) before the work is
	// demoted, so a write walletd finished is acknowledged and the
	// follower loop never reads walletd while one still runs there.
	go func() {
		defer close(st.demoted)
		waitCtx, cancel := context.WithTimeout(context.Background(), e.cfg.RenewDeadline)
		defer cancel()
		if err := e.gate.WaitIdle(waitCtx); err != nil {
			e.log.Warn().Str("event", logging.EventWritesUnfinished).Int64("term", st.term).Err(err).Msg("ending the term with writes still in flight")
		}
		if e.hooks.OnDemote != nil {
			e.hooks.OnDemote(st.term)
		}
	}()
	to := e.obs.snapshot().holder()
	if to == e.cfg.PodName {
		to = ""
	}
	e.log.Warn().Str("event", logging.EventLeaderLost).Int64("term", st.term).Str("from", e.cfg.PodName).Str("to", to).
		Str("reason", reason).Bool("wasWritable", wasWritable).Msg("writes closed; no longer the leader")
	return true
}

// announceEnd labels the pod follower and records the Event.
func (e *Elector) announceEnd(st *termState, reason string) {
	e.labels.set(RoleFollower)
	e.events.emit(corev1.EventTypeNormal, kubeevents.ReasonLeaderLost, "term %d ended: %s", st.term, reason)
}
