package leader

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// lastRenewSent is when the latest successful renewal was sent.
func (m *member) lastRenewSent() (at int64) {
	m.e.mu.Lock()
	defer m.e.mu.Unlock()
	return m.e.lastRenewSent.UnixNano()
}

func TestRenewalsKeepTheTermAndWritesOpen(t *testing.T) {
	el := newElection(t)
	m := el.join("factom-wallet-0")
	m.leads(0)
	acquired := el.clock.Now()

	// Half a renew deadline later a renewal goes out and succeeds.
	el.clock.Step(testRenewDeadline / 2)
	half := el.clock.Now().UnixNano()
	eventually(t, "a renewal sent after the step", func() bool { return m.lastRenewSent() >= half })
	// Past the acquisition's own window the renewal keeps writes open.
	el.clock.Step(testRenewDeadline/2 + testRetryPeriod)
	if !el.clock.Now().After(acquired.Add(testRenewDeadline)) {
		t.Fatal("the clock did not pass the acquisition's window")
	}
	if !m.writable(0) {
		t.Fatalf("writes closed after a successful renewal: status %+v", m.e.Status())
	}
	l := el.lease.lease()
	if holderOf(l) != "factom-wallet-0" || *l.Spec.LeaseTransitions != 0 {
		t.Fatalf("Lease %+v: renewals must keep the holder and the term", l.Spec)
	}
	if w := el.lease.writesOf("factom-wallet-0"); len(w) < 2 {
		t.Fatalf("writes %+v: want the acquisition and renewals", w)
	}
	if _, d := m.terms(); len(d) != 0 {
		t.Fatalf("demoted %v while renewing", d)
	}
}

func TestRenewFailuresPastTheDeadlineStepDown(t *testing.T) {
	el := newElection(t)
	m := el.join("factom-wallet-0")
	m.leads(0)

	// The API server stops accepting this replica's writes.
	var refused atomic.Int32
	el.lease.setBeforeWrite(func(string, *coordinationv1.Lease) error {
		refused.Add(1)
		return apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
	})
	el.clock.Step(testRenewDeadline + testRetryPeriod)
	eventually(t, "writes closed and the term demoted", func() bool {
		// Moving on fires any expiry re-armed by a renewal that was in
		// flight when the writes began to fail.
		el.clock.Step(testRetryPeriod / 10)
		_, d := m.terms()
		return slices.Contains(d, 0) && !m.writable(0)
	})
	if refused.Load() == 0 {
		t.Fatal("no write was refused")
	}
	if _, _, err := m.e.Gate().BeginWrite(t.Context()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("BeginWrite after the renew deadline: %v, want ErrNotLeader", err)
	}
	if lost := m.logs.events(logging.EventLeaderLost); len(lost) == 0 || lost[0]["term"] != float64(0) {
		t.Fatalf("leader_lost %v, want one for term 0", lost)
	}
	if s := m.e.Status(); s.Role != RoleFollower || s.Writable {
		t.Fatalf("status %+v after stepping down", s)
	}
}
