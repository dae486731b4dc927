package leader

import (
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

func TestPauseKeepsFollowersFromTakingTheLease(t *testing.T) {
	el := newElection(t)
	el.lease.change(func(l *coordinationv1.Lease) {
		hold("factom-wallet-0", "p0", 2, el.clock.Now())(l)
		l.Annotations[control.AnnotationPaused] = "true"
	})
	m := el.join("factom-wallet-1")
	eventually(t, "factom-wallet-1 seeing the paused Lease", func() bool { return m.sees("factom-wallet-0") })
	// Long past the expiry of the crashed holder's Lease.
	el.clock.Step(10 * testLeaseDuration)
	if s := m.e.nextStep(m.e.obs.snapshot(), el.clock.Now(), el.clock.Now()); s.try || !s.held || s.wait != -1 {
		t.Fatalf("paused, expired Lease: step %+v, want held until the Lease changes", s)
	}
	if w := el.lease.writesOf("factom-wallet-1"); len(w) != 0 {
		t.Fatalf("took the Lease while failover was paused: %+v", w)
	}

	// kubectl factom resume: the takeover follows at once.
	el.lease.change(func(l *coordinationv1.Lease) { delete(l.Annotations, control.AnnotationPaused) })
	m.leads(3)
	ev := m.logs.events(logging.EventLeaderElected)
	if len(ev) != 1 || !strings.HasPrefix(ev[0]["reason"].(string), "lease expired") {
		t.Fatalf("leader_elected %v, want one for the expired Lease", ev)
	}
}

func TestSwitchoverHandsTheLeaseToTheNamedPod(t *testing.T) {
	el := newElection(t)
	old := el.join("factom-wallet-0")
	old.leads(0)
	bystander := el.join("factom-wallet-1")
	target := el.join("factom-wallet-2")
	eventually(t, "the followers seeing the leader", func() bool {
		return bystander.sees("factom-wallet-0") && target.sees("factom-wallet-0")
	})

	// kubectl factom switchover factom-wallet-2. The clock does not move:
	// the bystander is held back for the whole lease duration.
	el.lease.change(func(l *coordinationv1.Lease) {
		l.Annotations[control.AnnotationSwitchoverTo] = "factom-wallet-2"
		l.Annotations[control.AnnotationSwitchoverAt] = el.clock.Now().Format(time.RFC3339Nano)
	})
	target.leads(1)
	if _, d := old.terms(); !slices.Equal(d, []int64{0}) {
		t.Fatalf("old leader demoted %v, want [0]", d)
	}
	if ev := old.logs.events(logging.EventLeaseHandedOver); len(ev) != 1 || ev[0]["to"] != "factom-wallet-2" {
		t.Fatalf("lease_handed_over %v", ev)
	}
	if ev := target.logs.events(logging.EventLeaderElected); len(ev) != 1 || ev[0]["reason"] != "switchover" || ev[0]["from"] != "factom-wallet-0" {
		t.Fatalf("leader_elected %v", ev)
	}
	if w := el.lease.writesOf("factom-wallet-1"); len(w) != 0 {
		t.Fatalf("the bystander wrote the Lease: %+v", w)
	}
	if p, _ := bystander.terms(); len(p) != 0 {
		t.Fatalf("the bystander promoted for %v", p)
	}
	l := el.lease.lease()
	expectHolder(t, el, target, 1)
	if _, ok := l.Annotations[control.AnnotationSwitchoverTo]; ok || l.Spec.PreferredHolder != nil {
		t.Fatalf("the done switchover is still asked for: annotations %v, preferredHolder %v", l.Annotations, l.Spec.PreferredHolder)
	}
}
