package leader

import (
	"slices"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// seesRelease joins pod as a follower of factom-wallet-0's term 3 and then
// releases that term, as the old leader's releaseOwn does.
func seesRelease(t *testing.T, el *election, pod string) *member {
	t.Helper()
	el.lease.change(hold("factom-wallet-0", "p0", 3, el.clock.Now()))
	m := el.join(pod)
	eventually(t, pod+" following factom-wallet-0", func() bool { return m.sees("factom-wallet-0") })
	return m
}

// TestAHandedOverLeaseIsPromotedBesideItsAcquisition: the first in rank
// starts the keystore promotion before its Lease write has returned, and
// opens writes once both have succeeded.
func TestAHandedOverLeaseIsPromotedBesideItsAcquisition(t *testing.T) {
	el := newElection(t)
	m := seesRelease(t, el, "factom-wallet-1")
	// Hold factom-wallet-1's Lease write until its promotion has started:
	// a promotion that waited for the write would never start.
	startedFirst := make(chan bool, 1)
	el.lease.setBeforeWrite(func(_ string, l *coordinationv1.Lease) error {
		if holderOf(l) == "factom-wallet-1" {
			startedFirst <- poll(func() bool { p, _ := m.terms(); return slices.Contains(p, 4) })
		}
		return nil
	})
	el.lease.change(released(3, el.clock.Now()))
	if !<-startedFirst {
		t.Fatal("the promotion did not start before the Lease write of its term")
	}
	el.lease.setBeforeWrite(nil)
	m.leads(4)
	expectHolder(t, el, m, 4)
	if p, d := m.terms(); !slices.Equal(p, []int64{4}) || len(d) != 0 {
		t.Fatalf("promoted %v, demoted %v; want one promotion for term 4", p, d)
	}
}

// TestAPromotionBesideALostAcquisitionIsUndone: when another replica's
// write lands first, the promotion started beside the acquisition is
// demoted before the campaign goes on, and writes never open.
func TestAPromotionBesideALostAcquisitionIsUndone(t *testing.T) {
	el := newElection(t)
	m := seesRelease(t, el, "factom-wallet-1")
	raced := el.lease.writeFirst("factom-wallet-1", hold("factom-wallet-2", "p2", 4, el.clock.Now()))
	el.lease.change(released(3, el.clock.Now()))
	<-raced
	eventually(t, "the promotion undone", func() bool {
		p, d := m.terms()
		return slices.Equal(p, []int64{4}) && slices.Equal(d, []int64{4})
	})
	eventually(t, "factom-wallet-1 seeing the winner", func() bool { return m.sees("factom-wallet-2") })
	if m.e.Status().Writable || m.e.Status().Role != RoleFollower {
		t.Fatalf("status %+v after losing the race, want a follower with writes closed", m.e.Status())
	}
	if ev := m.logs.events(logging.EventPromotionAbandoned); len(ev) != 1 || ev[0]["term"] != float64(4) {
		t.Fatalf("promotion_abandoned %v, want one for term 4", ev)
	}
	if ev := m.logs.events(logging.EventLeaderElected); len(ev) != 0 {
		t.Fatalf("a lost race was announced as an election: %v", ev)
	}
}

// TestOnlyTheFirstInRankWritesAHandedOverLease: of two followers, the
// lower ordinal takes the released Lease; the other waits its stagger,
// sees the new holder and never writes.
func TestOnlyTheFirstInRankWritesAHandedOverLease(t *testing.T) {
	el := newElection(t)
	el.lease.change(hold("factom-wallet-0", "p0", 3, el.clock.Now()))
	first, second := el.join("factom-wallet-1"), el.join("factom-wallet-2")
	eventually(t, "both following factom-wallet-0", func() bool { return first.sees("factom-wallet-0") && second.sees("factom-wallet-0") })
	el.lease.change(released(3, el.clock.Now()))
	first.leads(4)
	eventually(t, "factom-wallet-2 seeing the new holder", func() bool { return second.sees("factom-wallet-1") })
	if w := el.lease.writesOf("factom-wallet-2"); len(w) != 0 {
		t.Fatalf("the second in rank wrote the Lease: %+v", w)
	}
	if p, _ := second.terms(); len(p) != 0 {
		t.Fatalf("the second in rank promoted for %v", p)
	}
}
