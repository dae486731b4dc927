package leader

import (
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// hold makes the Lease held by holder's process under term, renewed at at.
func hold(holder, process string, term int32, at time.Time) func(*coordinationv1.Lease) {
	return func(l *coordinationv1.Lease) {
		secs := int32(testLeaseDuration / time.Second)
		ts := metav1.NewMicroTime(at)
		l.Spec = coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &ts, RenewTime: &ts, LeaseTransitions: &term}
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[AnnotationProcess] = process
	}
}

// released makes the Lease released at the end of term, as releaseOwn
// leaves it.
func released(term int32, at time.Time) func(*coordinationv1.Lease) {
	return func(l *coordinationv1.Lease) {
		hold("", "gone", term, at)(l)
		one := int32(1)
		l.Spec.LeaseDurationSeconds = &one
	}
}

// expectHolder checks that the Lease names m's process as holder of term.
func expectHolder(t *testing.T, el *election, m *member, term int32) {
	t.Helper()
	l := el.lease.lease()
	if holderOf(l) != m.e.cfg.PodName || l.Spec.LeaseTransitions == nil || *l.Spec.LeaseTransitions != term || l.Annotations[AnnotationProcess] != m.e.process {
		t.Fatalf("Lease %+v, annotations %v: want %s's process %s holding term %d", l.Spec, l.Annotations, m.e.cfg.PodName, m.e.process, term)
	}
}

func TestTakesAFreeLease(t *testing.T) {
	t.Run("no Lease yet: created at the keystore's term floor", func(t *testing.T) {
		el := newElection(t)
		m := el.join("factom-wallet-1", func(o *Options) { o.Hooks.TermFloor = func() int64 { return 7 } })
		m.leads(7)
		expectHolder(t, el, m, 7)
		if w := el.lease.writesOf("factom-wallet-1"); w[0].op != "create" {
			t.Fatalf("first write %+v, want the create", w[0])
		}
		if p, _ := m.terms(); !slices.Equal(p, []int64{7}) {
			t.Fatalf("promoted for terms %v, want [7]", p)
		}
	})
	t.Run("released: taken with the next term", func(t *testing.T) {
		el := newElection(t)
		el.lease.change(released(5, el.clock.Now()))
		m := el.join("factom-wallet-1")
		m.leads(6)
		expectHolder(t, el, m, 6)
		if ev := m.logs.events(logging.EventLeaderElected); len(ev) != 1 || ev[0]["reason"] != "lease released" {
			t.Fatalf("leader_elected %v, want one with reason \"lease released\"", ev)
		}
	})
}

func TestWaitsForAnotherHoldersLeaseToExpire(t *testing.T) {
	el := newElection(t)
	el.lease.change(hold("factom-wallet-0", "p0", 2, el.clock.Now()))
	m := el.join("factom-wallet-1")
	// The campaign's only timer is the one that waits for the expiry.
	eventually(t, "the campaign waiting for the expiry", func() bool { return m.sees("factom-wallet-0") && el.clock.HasWaiters() })
	if w := el.lease.writesOf("factom-wallet-1"); len(w) != 0 {
		t.Fatalf("wrote the Lease of a live holder: %+v", w)
	}
	if p, _ := m.terms(); len(p) != 0 || m.e.Status().Role != RoleFollower {
		t.Fatalf("promoted for %v, role %s while another holder's Lease is fresh", p, m.e.Status().Role)
	}

	el.clock.Step(testLeaseDuration)
	m.leads(3)
	expectHolder(t, el, m, 3)
	ev := m.logs.events(logging.EventLeaderElected)
	if len(ev) != 1 || ev[0]["reason"] != "lease expired" || ev[0]["from"] != "factom-wallet-0" {
		t.Fatalf("leader_elected %v, want one from factom-wallet-0 with reason \"lease expired\"", ev)
	}
}

func TestConflictingAcquisitionLosesTheRaceCleanly(t *testing.T) {
	el := newElection(t)
	el.lease.change(released(3, el.clock.Now()))
	// factom-wallet-2 takes the released Lease just before factom-wallet-1's
	// update lands: that update carries the older resourceVersion.
	raced := el.lease.writeFirst("factom-wallet-1", hold("factom-wallet-2", "p2", 4, el.clock.Now()))
	m := el.join("factom-wallet-1")
	<-raced
	eventually(t, "factom-wallet-1 seeing the winner", func() bool { return m.sees("factom-wallet-2") })

	if l := el.lease.lease(); holderOf(l) != "factom-wallet-2" || *l.Spec.LeaseTransitions != 4 {
		t.Fatalf("Lease %+v after the race, want factom-wallet-2's term 4", l.Spec)
	}
	if w := el.lease.writesOf("factom-wallet-1"); len(w) != 0 {
		t.Fatalf("the losing update was applied: %+v", w)
	}
	if p, _ := m.terms(); len(p) != 0 || m.e.Status().Role != RoleFollower || m.e.Status().Writable {
		t.Fatalf("the loser promoted for %v, status %+v", p, m.e.Status())
	}
	if ev := m.logs.events(logging.EventAcquireFailed); len(ev) != 0 {
		t.Fatalf("a lost race was logged as a failure: %v", ev)
	}

	// It follows the winner like any holder: it takes over once that
	// Lease expires.
	eventually(t, "factom-wallet-1 taking the expired Lease", func() bool {
		el.clock.Step(testRetryPeriod)
		p, _ := m.terms()
		return slices.Contains(p, 5)
	})
	m.leads(5)
	expectHolder(t, el, m, 5)
}

// deadHolder is factom-wallet-0 holding term 2, its sidecar container
// reported terminated after it took the term: evidence that its process is
// gone, while its Lease has not expired.
func deadHolder(t *testing.T) *election {
	t.Helper()
	acquired := time.Now().Add(-time.Minute)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "factom-wallet-0", Namespace: testNamespace},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "sidecar",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", FinishedAt: metav1.NewTime(acquired.Add(30 * time.Second))}}}}},
	}
	el := newElection(t, pod)
	el.lease.change(func(l *coordinationv1.Lease) {
		hold("factom-wallet-0", "p0", 2, el.clock.Now())(l)
		at := metav1.NewMicroTime(acquired)
		l.Spec.AcquireTime = &at
		l.Annotations[AnnotationContainer] = "sidecar"
	})
	return el
}

func withEarlyTakeover(o *Options) {
	o.Config.Takeover = TakeoverConfig{Enabled: true, ProbePeriod: 20 * time.Millisecond, Refusals: DefaultTakeoverRefusals, ContainerName: "sidecar"}
}

func TestEarlyTakeoverBeforeExpiry(t *testing.T) {
	t.Run("takes the next term before expiry with a conditional update", func(t *testing.T) {
		el := deadHolder(t)
		m := el.join("factom-wallet-1", withEarlyTakeover)
		// The clock does not move: the Lease is taken before it expires.
		m.leads(3)
		expectHolder(t, el, m, 3)
		if w := el.lease.writesOf("factom-wallet-1"); w[0].op != "update" || w[0].term != 3 {
			t.Fatalf("first write %+v, want the update to term 3", w[0])
		}
		ev := m.logs.events(logging.EventLeaderTakeoverEarly)
		if len(ev) != 1 || ev[0]["evidence"] != EvidenceContainer || ev[0]["from"] != "factom-wallet-0" {
			t.Fatalf("leader_takeover_early %v, want one on %s evidence from factom-wallet-0", ev, EvidenceContainer)
		}
	})
	t.Run("a new term since the evidence makes the update conflict", func(t *testing.T) {
		// The holder's restarted sidecar takes term 3 just before the
		// follower's update, computed from term 2, lands: without the
		// precondition term 3 would be led twice.
		el := deadHolder(t)
		raced := el.lease.writeFirst("factom-wallet-1", hold("factom-wallet-0", "p0-restarted", 3, el.clock.Now()))
		m := el.join("factom-wallet-1", withEarlyTakeover)
		<-raced
		eventually(t, "factom-wallet-1 seeing the new term", func() bool {
			v := m.e.obs.snapshot()
			return v.lease != nil && v.lease.ResourceVersion == el.lease.lease().ResourceVersion
		})
		if l := el.lease.lease(); holderOf(l) != "factom-wallet-0" || *l.Spec.LeaseTransitions != 3 || l.Annotations[AnnotationProcess] != "p0-restarted" {
			t.Fatalf("Lease %+v %v, want the restarted process's term 3", l.Spec, l.Annotations)
		}
		if p, _ := m.terms(); len(p) != 0 || len(el.lease.writesOf("factom-wallet-1")) != 0 {
			t.Fatalf("took the Lease: promoted %v", p)
		}
	})
}

func TestATermBelongsToOneProcess(t *testing.T) {
	el := newElection(t)
	// The previous process of this very pod holds term 3, freshly renewed
	// (it crashed a moment ago; the kubelet restarted the container).
	el.lease.change(hold("factom-wallet-0", "previous", 3, el.clock.Now()))
	m := el.join("factom-wallet-0")
	m.leads(4)
	expectHolder(t, el, m, 4)
	ev := m.logs.events(logging.EventLeaderElected)
	if len(ev) != 1 || ev[0]["reason"] != "lease held by this pod's previous process" {
		t.Fatalf("leader_elected %v", ev)
	}

	// Another process of the same pod name takes the Lease (a
	// force-deleted pod's successor): this process's term ends at once and
	// it never writes under that process's term.
	el.lease.change(func(l *coordinationv1.Lease) {
		hold("factom-wallet-0", "successor", 5, el.clock.Now())(l)
	})
	eventually(t, "term 4 ending", func() bool { _, d := m.terms(); return slices.Contains(d, 4) })
	lost := m.logs.events(logging.EventLeaderLost)
	if len(lost) == 0 || lost[0]["reason"] != "lease taken by another process of this pod" {
		t.Fatalf("leader_lost %v", lost)
	}
	// Without early takeover it takes the Lease back at once, as from any
	// previous process: with a term of its own.
	m.leads(6)
	for _, w := range el.lease.writesOf("factom-wallet-0") {
		if w.process == m.e.process && w.term != 4 && w.term != 6 {
			t.Errorf("wrote term %d under its process: %+v", w.term, w)
		}
		if w.process != m.e.process && w.op != "other" {
			t.Errorf("wrote a Lease naming process %q: %+v", w.process, w)
		}
	}
	if p, _ := m.terms(); !slices.Equal(p, []int64{4, 6}) {
		t.Fatalf("promoted for %v, want [4 6]: a term is never handed out twice", p)
	}
}
