package leader

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

func TestFailedPromotionGivesTheLeaseUpForALeaseDuration(t *testing.T) {
	el := newElection(t)
	m := el.join("factom-wallet-0", func(o *Options) {
		promote := o.Hooks.OnPromote
		o.Hooks.OnPromote = func(ctx context.Context, term int64) error {
			if err := promote(ctx, term); err != nil || term == 0 {
				return errors.New("keystore Secret unreadable")
			}
			return nil
		}
	})
	eventually(t, "term 0 given up and the Lease released", func() bool {
		_, d := m.terms()
		l := el.lease.lease()
		return slices.Contains(d, 0) && l != nil && holderOf(l) == ""
	})
	if ev := m.logs.events(logging.EventPromotionFailed); len(ev) != 1 {
		t.Fatalf("promotion_failed %v, want one", ev)
	}
	if _, ok := m.e.Gate().Writable(); ok {
		t.Fatal("writes opened for a failed promotion")
	}
	// The campaign's only timer is the cooldown: the released Lease is left
	// to the other replicas for a lease duration.
	eventually(t, "the cooldown", func() bool { return m.sees("") && el.clock.HasWaiters() })
	if w := el.lease.writesOf("factom-wallet-0"); len(w) != 1 {
		t.Fatalf("writes %+v, want only the acquisition of term 0", w)
	}

	el.clock.Step(testLeaseDuration)
	m.leads(1)
	if p, _ := m.terms(); !slices.Equal(p, []int64{0, 1}) {
		t.Fatalf("promoted for %v, want [0 1]", p)
	}
}
