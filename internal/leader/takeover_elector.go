package leader

import (
	"maps"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	corev1 "k8s.io/api/core/v1"
)

// The rule "a term belongs to one process": a process writes its own
// random id into the Lease when it acquires a term, and
//   - it acquires only with a new term (leaseTransitions + 1, at least the
//     keystore's floor), never by continuing a Lease it finds;
//   - a Lease naming this pod but another process is not this process's:
//     with early takeover on it is treated like any other holder's (the
//     other replicas go first), without it is taken at once with a new term;
//   - a process whose Lease comes to name another process (of any pod)
//     ends its term at once and never renews or releases that Lease.
// So a sidecar restarted in the same pod cannot write under its previous
// process's term, and two processes with one pod name (a force-deleted
// StatefulSet pod) cannot lead the same term.

// ownProcess reports whether the Lease names this process as its holder.
func (e *Elector) ownProcess(v leaseView) bool {
	return v.lease != nil && v.lease.Annotations[AnnotationProcess] == e.process
}

// annotations are the Lease annotations this process writes when it
// acquires a term (the others kept).
func (e *Elector) annotations(cur map[string]string) map[string]string {
	a := maps.Clone(cur)
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationProcess] = e.process
	set := func(k, v string) {
		if v == "" {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	set(AnnotationAddress, e.cfg.Takeover.AdvertiseAddress)
	set(AnnotationProxyAddress, e.cfg.Takeover.AdvertiseProxyAddress)
	set(AnnotationContainer, e.cfg.Takeover.ContainerName)
	return a
}

// kickCampaign wakes the campaign loop (evidence was published).
func (e *Elector) kickCampaign() {
	select {
	case e.obs.wake <- struct{}{}:
	default:
	}
}

// earlyEvidence returns the evidence to take the unexpired Lease v with.
func (e *Elector) earlyEvidence(v leaseView, now, expiry time.Time) (evidence, bool) {
	if e.take == nil || !now.Before(expiry) {
		return evidence{}, false
	}
	return e.take.ready(v)
}

// announceEarly logs and records an early takeover with its evidence and
// how much of the old lease was left by the holder's own record.
func (e *Elector) announceEarly(acq acquisition, v leaseView) {
	ev := acq.early
	e.take.taken.WithLabelValues(ev.kind).Inc()
	var renew time.Time
	if v.lease.Spec.RenewTime != nil {
		renew = v.lease.Spec.RenewTime.Time
	}
	expires := renew.Add(v.duration())
	e.log.Warn().Str("event", logging.EventLeaderTakeoverEarly).Int64("term", acq.term).Str("from", acq.from).Str("to", e.cfg.PodName).
		Str("evidence", ev.kind).Str("detail", ev.detail).Int("rounds", ev.rounds).
		Time("oldRenewTime", renew).Time("oldLeaseExpires", expires).Int64("evidenceMs", e.now().Sub(ev.first).Milliseconds()).
		Msg("took the lease before it expired: the holder's process is gone")
	e.events.emit(corev1.EventTypeWarning, kubeevents.ReasonLeaderTakeoverEarly, "took the walletd leader lease from %s before it expired (term %d): %s",
		acq.from, acq.term, ev)
}
