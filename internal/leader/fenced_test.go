package leader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// keystoreTerms models the keystore's fence for the election: a promotion
// bumps the stored term and is refused at or below it, and the term floor
// is one above it (walletsync's BumpTerm and TermFloor).
type keystoreTerms struct {
	mu   sync.Mutex
	term int64
}

func (k *keystoreTerms) set(term int64) {
	k.mu.Lock()
	k.term = term
	k.mu.Unlock()
}

func (k *keystoreTerms) stored() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.term
}

// member makes a joining replica promote and take its term floor through k.
func (k *keystoreTerms) member(o *Options) {
	record := o.Hooks.OnPromote
	o.Hooks.OnPromote = func(ctx context.Context, term int64) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		if term <= k.term {
			return fmt.Errorf("bump to term %d, stored term %d: %w", term, k.term, errFencedModel)
		}
		k.term = term
		return record(ctx, term)
	}
	o.Hooks.TermFloor = func() int64 { return k.stored() + 1 }
}

var errFencedModel = errors.New("keystore fenced")

// TestAStaleViewOfAReleasedLeaseDoesNotPromoteBesideItsWrite is finding 6
// of the fault suite (seed 84): factom-wallet-0 had taken the released
// Lease as term 4 and bumped the keystore to 4 while factom-wallet-1's
// watch still showed the release. factom-wallet-1's floor (5) was above
// the Lease's count, it bumped the keystore to 5 beside its Lease write,
// lost the write, and the real holder's every commit was fenced. A view
// whose floor is above the Lease's count must take the Lease first.
func TestAStaleViewOfAReleasedLeaseDoesNotPromoteBesideItsWrite(t *testing.T) {
	el := newElection(t)
	ks := &keystoreTerms{term: 3}
	el.lease.change(hold("factom-wallet-0", "p0", 3, el.clock.Now()))
	m := el.join("factom-wallet-1", ks.member)
	eventually(t, "factom-wallet-1 following factom-wallet-0", func() bool { return m.sees("factom-wallet-0") })

	// factom-wallet-2 has taken the Lease as term 4 and promoted; the
	// Lease write that shows it lands only just before factom-wallet-1's.
	ks.set(4)
	raced := el.lease.writeFirst("factom-wallet-1", hold("factom-wallet-2", "p2", 4, el.clock.Now()))
	el.lease.change(released(3, el.clock.Now()))
	<-raced
	eventually(t, "factom-wallet-1 seeing factom-wallet-2 hold the Lease", func() bool { return m.sees("factom-wallet-2") })

	if got := ks.stored(); got != 4 {
		t.Fatalf("keystore term %d after factom-wallet-1 lost the race, want the holder's 4", got)
	}
	if p, _ := m.terms(); len(p) != 0 {
		t.Fatalf("factom-wallet-1 promoted %v without holding the Lease", p)
	}
	if ev := m.logs.events(logging.EventPromotionAbandoned); len(ev) != 0 {
		t.Fatalf("a promotion was started beside a write on a stale view: %v", ev)
	}
	if w := el.lease.writesOf("factom-wallet-1"); len(w) != 0 {
		t.Fatalf("factom-wallet-1's Lease writes %+v, want none to land", w)
	}
}

// TestALeaderFencedByATermNobodyHoldsGivesTheLeaseUp: when the keystore
// holds a term above the leader's while the leader still holds the Lease
// (a bump whose acquisition lost), the leader's fenced commit makes it give
// the Lease up, and the next replica takes it above the stored term and
// can write.
func TestALeaderFencedByATermNobodyHoldsGivesTheLeaseUp(t *testing.T) {
	el := newElection(t)
	ks := &keystoreTerms{term: 3}
	el.lease.change(hold("factom-wallet-0", "p0", 3, el.clock.Now()))
	leader := el.join("factom-wallet-1", ks.member)
	eventually(t, "factom-wallet-1 following factom-wallet-0", func() bool { return leader.sees("factom-wallet-0") })
	el.lease.change(released(3, el.clock.Now()))
	leader.leads(4)

	follower := el.join("factom-wallet-2", ks.member)
	eventually(t, "factom-wallet-2 following factom-wallet-1", func() bool { return follower.sees("factom-wallet-1") })

	ks.set(5)          // an abandoned promotion's bump
	leader.e.Fenced(3) // a stale term changes nothing
	if !leader.writable(4) {
		t.Fatal("a fence reported for another term ended term 4")
	}
	leader.e.Fenced(4)

	// factom-wallet-1 released; factom-wallet-2 takes the Lease, after
	// any stagger it owes lower ranks.
	eventually(t, "factom-wallet-2 taking the given-up Lease", func() bool {
		el.clock.Step(testRetryPeriod)
		p, _ := follower.terms()
		return slices.Contains(p, 6)
	})
	follower.leads(6)
	expectHolder(t, el, follower, 6)
	if p, d := leader.terms(); !slices.Equal(p, []int64{4}) || !slices.Equal(d, []int64{4}) {
		t.Fatalf("factom-wallet-1 promoted %v, demoted %v; want term 4 ended", p, d)
	}
	lost := leader.logs.events(logging.EventLeaderLost)
	if len(lost) != 1 || !strings.Contains(fmt.Sprint(lost[0]["reason"]), "fenced") {
		t.Fatalf("leader_lost %v, want one naming the fence", lost)
	}
	if w := el.lease.writesOf(""); !slices.ContainsFunc(w, func(w leaseWrite) bool { return w.term == 4 }) {
		t.Fatalf("releases %+v, want factom-wallet-1's release of term 4", w)
	}
}
