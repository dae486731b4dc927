package leader_test

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func TestElectionAndFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real API server and sidecars")
	}
	c := newCluster(t)

	lead, term := c.writableLeader(-1, time.Minute)
	t.Run("exactly one writable leader, labelled, with term in Events and logs", func(t *testing.T) {
		c.expectRoles(lead)
		if l := getLease(t); *l.Spec.HolderIdentity != lead.name || int64(*l.Spec.LeaseTransitions) != term {
			t.Fatalf("lease holder %q transitions %d, want %s and %d", *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions, lead.name, term)
		}
		expectEvent(t, lead.name, "LeaderElected", fmt.Sprintf("term %d", term))
		expectLog(t, lead.sidecar, "failover_complete", term)
		expectLog(t, lead.sidecar, "leader_elected", term)
		for _, r := range c.replicas {
			if r == lead {
				continue
			}
			s, err := r.status()
			if err != nil {
				t.Fatal(err)
			}
			if s.Writable || s.Role != leader.RoleFollower || s.Holder != lead.name {
				t.Fatalf("%s status %+v, want a follower that sees %s", r.name, s, lead.name)
			}
			for _, path := range []string{"/startupz", "/livez", "/readyz"} {
				if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
					code := r.probe(path)
					return code == http.StatusOK, fmt.Errorf("%s %s = %d with a running walletd", r.name, path, code)
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})

	t.Run("SIGKILL of the leader: another replica becomes writable", func(t *testing.T) {
		old := lead
		if err := old.sidecar.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-old.sidecar.Done()
		lead, term = c.writableLeader(term, time.Minute)
		if lead == old {
			t.Fatal("killed replica still leads")
		}
		expectEvent(t, lead.name, "LeaderElected", fmt.Sprintf("previous holder %q", old.name))
		// The pod's container restarts, as the kubelet would do.
		old.restart()
		c.expectRoles(lead)
	})

	t.Run("SIGTERM of the leader releases the lease; another takes it before it would have expired", func(t *testing.T) {
		old := lead
		before := getLease(t)
		lastRenew := before.Spec.RenewTime.Time
		expiry := lastRenew.Add(time.Duration(*before.Spec.LeaseDurationSeconds) * time.Second)
		if err := old.sidecar.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		lead, term = c.writableLeader(term, time.Minute)
		if lead == old {
			t.Fatal("terminated replica still leads")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := old.sidecar.Wait(ctx); err != nil || old.sidecar.ExitCode() != 0 {
			t.Fatalf("terminated sidecar: %v, exit code %d", err, old.sidecar.ExitCode())
		}
		after := getLease(t)
		if *after.Spec.HolderIdentity != lead.name {
			t.Fatalf("lease holder %q, want %s", *after.Spec.HolderIdentity, lead.name)
		}
		// The old holder's renewals renew the Lease up to its release, so
		// the newest renewal before SIGTERM bounds its expiry from below.
		if !after.Spec.AcquireTime.Time.Before(expiry) {
			t.Fatalf("new holder acquired at %s, not before the old lease's expiry %s", after.Spec.AcquireTime.Time, expiry)
		}
		expectLog(t, old.sidecar, "lease_released", term-1)
		expectEvent(t, old.name, "LeaseReleased", fmt.Sprintf("term %d", term-1))
		old.restart()
		c.expectRoles(lead)
	})

	t.Run("SIGSTOP past the lease: a new leader with a higher term; after SIGCONT the old one is not writable", func(t *testing.T) {
		old, oldTerm := lead, term
		if err := old.sidecar.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped := true
		defer func() {
			if stopped {
				_ = old.sidecar.Signal(syscall.SIGCONT)
			}
		}()
		lead, term = c.writableLeader(oldTerm, time.Minute)
		if lead == old || term <= oldTerm {
			t.Fatalf("leader %s term %d after pausing %s (term %d)", lead.name, term, old.name, oldTerm)
		}
		if err := old.sidecar.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		stopped = false
		// The very first answer after waking must already refuse writes:
		// its gate checks the renewal window itself.
		var first leaderAnswer
		if err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
			a, err := old.leader()
			first = a
			return err == nil, err
		}); err != nil {
			t.Fatal(err)
		}
		if first.code != http.StatusServiceUnavailable {
			t.Fatalf("woken old leader answered /leader %d (%+v)", first.code, first)
		}
		if err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
			s, err := old.status()
			if err != nil {
				return false, err
			}
			if s.Writable || s.Role != leader.RoleFollower || s.Holder != lead.name {
				return false, fmt.Errorf("status %+v", s)
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		expectLog(t, old.sidecar, "leader_lost", oldTerm)
		expectEvent(t, old.name, "LeaderLost", fmt.Sprintf("term %d", oldTerm))
		c.expectRoles(lead)
	})

	t.Run("API server stopped: the leader stops being writable; restarted: one writable leader again", func(t *testing.T) {
		old := lead
		env.kube.StopAPIServer()
		// Measured from the moment the API server has exited: during its
		// graceful shutdown it may still have accepted renewals.
		stopped := time.Now()
		restarted := false
		defer func() {
			if !restarted {
				if err := env.kube.StartAPIServer(); err != nil {
					t.Error(err)
				}
			}
		}()
		var closedAfter time.Duration
		if err := testenv.Eventually(testRenew+30*time.Second, 50*time.Millisecond, func() (bool, error) {
			a, err := old.leader()
			if err != nil {
				return false, err
			}
			if a.code == http.StatusOK {
				return false, fmt.Errorf("still writable")
			}
			closedAfter = time.Since(stopped)
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("writes closed %s after the API server exited (renew deadline %s)", closedAfter, testRenew)
		for _, r := range c.replicas {
			if a, err := r.leader(); err == nil && a.code == http.StatusOK {
				t.Fatalf("%s writable while the API server is down", r.name)
			}
		}
		if err := env.kube.StartAPIServer(); err != nil {
			t.Fatal(err)
		}
		restarted = true
		lead, term = c.writableLeader(term, 2*time.Minute)
		c.expectRoles(lead)
	})

	t.Run("every line the sidecars printed through these failovers is JSON", func(t *testing.T) {
		c.everyLineIsJSON(t)
	})
}
