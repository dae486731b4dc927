package leader

import (
	"context"
	"slices"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

func TestShutdownDemotesThenReleasesTheLease(t *testing.T) {
	el := newElection(t)
	var holderAtDemote string
	m := el.join("factom-wallet-0", func(o *Options) {
		demote := o.Hooks.OnDemote
		o.Hooks.OnDemote = func(term int64) {
			holderAtDemote = holderOf(el.lease.lease())
			demote(term)
		}
	})
	m.leads(0)
	next := el.join("factom-wallet-1")
	eventually(t, "the follower seeing the leader", func() bool { return next.sees("factom-wallet-0") })

	m.stop() // SIGTERM
	if _, d := m.terms(); !slices.Equal(d, []int64{0}) {
		t.Fatalf("demoted %v, want [0]", d)
	}
	if holderAtDemote != "factom-wallet-0" {
		t.Fatalf("the Lease named %q while demoting: the work must stop before the release", holderAtDemote)
	}
	if ev := m.logs.events(logging.EventLeaseReleased); len(ev) != 1 {
		t.Fatalf("lease_released %v, want one", ev)
	}
	releases := el.lease.writesOf("")
	if len(releases) != 1 || releases[0].term != 0 || releases[0].process != m.e.process {
		t.Fatalf("releases %+v, want one keeping term 0", releases)
	}
	// The follower takes the released Lease without waiting for expiry
	// (the clock never moved).
	next.leads(1)
	if _, ok := m.e.Gate().Writable(); ok {
		t.Fatal("the stopped replica's gate is open")
	}
	if _, _, err := m.e.Gate().BeginWrite(context.Background()); err == nil {
		t.Fatal("the stopped replica admits writes")
	}
}
