package leader

import (
	"context"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// A released Lease (a graceful handover or a switchover) is taken by one
// follower at once, in rank order, and that follower runs its promotion
// alongside its acquisition instead of after it: the two writes (the Lease
// and the keystore's term bump) then cost the handover one round trip to
// the API server instead of two.
//
// That is safe because writes open only when both succeeded. The Lease
// write makes this replica the one holder of term t (a conditional update),
// the bump makes t the keystore's term (a conditional update, and the
// keystore refuses a term already written under). A follower whose
// acquisition fails undoes the promotion (OnDemote) before it looks at the
// Lease again; if its bump landed, the term it used is spent: the next
// acquisition's term floor is above it, and a replica that took the Lease
// with that same term meanwhile finds it fenced, gives the Lease up and
// lets another take it under a new term. The keystore's failover history
// then lists that term, with no write under it.
//
// Only t = the viewed Lease's transitions + 1 is promoted beside its
// write. A term floor above that means the keystore holds a term the view
// does not show (the watch is behind a replica that already took the Lease
// and promoted); a bump to it would land above the real holder's term
// while the Lease write, made on the stale view, loses. Such a view takes
// the Lease first and promotes after. And a holder whose commit is fenced
// by a term nobody holds the Lease for gives the Lease up (Fenced), so a
// spent term costs one handover, never a leader that cannot write.
//
// It is only done for a released
// Lease, never for an expired one: a leader that released has closed its
// writes, while a leader whose Lease merely expired may still be renewing,
// and a bump by a replica that then loses the race would fence a healthy
// leader for nothing.

// releaseStagger is how long each rank waits behind the one before it
// before taking a released Lease: enough for the first in rank to win
// without a race on an ordinary API server, short against the handover a
// missing first replica costs the others.
const releaseStagger = 100 * time.Millisecond

// releaseOrder is this replica's rank among the candidates for a released
// Lease, and whether a handover is under way: a release by a holder this
// process saw, or a switchover to this pod. The rank is an early
// takeover's (lower ordinals first, a replica not in sync one later); a
// switchover's target is first. A Lease already released when this
// process started has no handover under way: every candidate tries at
// once, as for a Lease that does not exist yet.
func (e *Elector) releaseOrder(v leaseView) (order int, handover bool) {
	if control.SwitchoverTarget(v.annotations(), e.now()) == e.cfg.PodName {
		return 0, true
	}
	from := e.previousHolder(v)
	if from == "" {
		return 0, false
	}
	inSync := e.inSync == nil || e.inSync()
	return rank(e.cfg.PodName, from, inSync), true
}

// earlyPromotion is a promotion started beside the acquisition of its term.
type earlyPromotion struct {
	term   int64
	ctx    context.Context
	cancel context.CancelFunc // ends the term's promotion context
	done   chan struct{}
	err    error
}

// promoteAlongside starts the promotion for term t before its Lease write
// has returned.
func (e *Elector) promoteAlongside(t control.Transition) *earlyPromotion {
	ctx, cancel := context.WithCancel(context.Background())
	p := &earlyPromotion{term: t.Term, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = e.hooks.OnPromote(context.WithValue(ctx, transitionKey{}, t), t.Term)
	}()
	return p
}

// wait returns the promotion's outcome once it has ended.
func (p *earlyPromotion) wait() error {
	<-p.done
	return p.err
}

// abandon undoes the promotion of a term this replica did not get: it
// ends it, waits for it, and demotes the guarded work, all before the
// campaign looks at the Lease again.
func (e *Elector) abandon(p *earlyPromotion, why error) {
	p.cancel()
	<-p.done
	if e.hooks.OnDemote != nil {
		e.hooks.OnDemote(p.term)
	}
	e.log.Info().Str("event", logging.EventPromotionAbandoned).Int64("term", p.term).AnErr("acquire", why).AnErr("promotion", p.err).
		Msg("did not get the released lease; the promotion started beside the acquisition is undone")
}
