package leader

import (
	"net/http"

	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

// LeaderCheck is the /leader verdict: OK only on the writable leader.
func (e *Elector) LeaderCheck() probe.Result {
	s := e.Status()
	fields := map[string]any{"term": s.Term, "holder": s.Holder, "identity": s.Identity, "role": s.Role, "process": s.Process}
	switch {
	case s.Writable:
		return probe.Result{OK: true, Reason: "writable leader", Fields: fields}
	case s.Role == RoleLeader:
		return probe.Result{Reason: "leader, writes not open", Fields: fields}
	default:
		return probe.Result{Reason: "follower", Fields: fields}
	}
}

// LeaderHandler serves GET /leader: 200 only on the writable leader (for
// load balancers), 503 otherwise; the JSON body carries term and holder.
func (e *Elector) LeaderHandler() http.Handler {
	return probe.Handler("leader", probe.Named{Name: "leader", Check: e.LeaderCheck})
}

// ElectionLiveCheck is the elector's health adaptor as a probe check for
// /livez.
func (e *Elector) ElectionLiveCheck() probe.Result {
	if err := e.LiveCheck(); err != nil {
		return probe.Result{Reason: err.Error()}
	}
	return probe.Result{OK: true}
}
