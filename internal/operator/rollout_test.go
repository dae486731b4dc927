package operator

import (
	"errors"
	"testing"
	"time"
)

// rolloutReport is a wallet of three pods: the leader given, the others
// followers in sync, each pod made from the revision given.
func rolloutReport(t *testing.T, leader string, revisions map[string]string, bodies map[string]string) *Report {
	t.Helper()
	var pods []PodState
	for _, name := range []string{"factom-wallet-0", "factom-wallet-1", "factom-wallet-2"} {
		body := followerBody
		if name == leader {
			body = leaderBody
		}
		if b, ok := bodies[name]; ok {
			body = b
		}
		ps := podState(t, name, body)
		ps.Pod.Labels = map[string]string{RevisionLabel: revisions[name]}
		pods = append(pods, ps)
	}
	return BuildReport(&Snapshot{Lease: LeaseState{Found: true, Holder: leader, Term: 4}, Wallet: pods}, time.Now())
}

func TestARolloutReplacesFollowersHighestOrdinalFirstThenHandsOverOnce(t *testing.T) {
	old := map[string]string{"factom-wallet-0": "v1", "factom-wallet-1": "v1", "factom-wallet-2": "v1"}
	steps := []struct {
		name      string
		leader    string
		revisions map[string]string
		want      rolloutStep
	}{
		{"every pod outdated", "factom-wallet-0", old, rolloutStep{replace: "factom-wallet-2"}},
		{"one follower done", "factom-wallet-0", map[string]string{"factom-wallet-0": "v1", "factom-wallet-1": "v1", "factom-wallet-2": "v2"}, rolloutStep{replace: "factom-wallet-1"}},
		{"only the leader outdated", "factom-wallet-0", map[string]string{"factom-wallet-0": "v1", "factom-wallet-1": "v2", "factom-wallet-2": "v2"}, rolloutStep{switchTo: "factom-wallet-1"}},
		{"the old leader is now a follower", "factom-wallet-1", map[string]string{"factom-wallet-0": "v1", "factom-wallet-1": "v2", "factom-wallet-2": "v2"}, rolloutStep{replace: "factom-wallet-0"}},
		{"done", "factom-wallet-1", map[string]string{"factom-wallet-0": "v2", "factom-wallet-1": "v2", "factom-wallet-2": "v2"}, rolloutStep{}},
		// The leader is the highest ordinal, the pod RollingUpdate would
		// replace first: the rollout still leaves it for last.
		{"leader with the highest ordinal", "factom-wallet-2", old, rolloutStep{replace: "factom-wallet-1"}},
		{"leader with the highest ordinal, followers done", "factom-wallet-2", map[string]string{"factom-wallet-0": "v2", "factom-wallet-1": "v2", "factom-wallet-2": "v1"}, rolloutStep{switchTo: "factom-wallet-0"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := nextRolloutStep(rolloutReport(t, s.leader, s.revisions, nil), "v2")
			if err != nil {
				t.Fatal(err)
			}
			if got != s.want {
				t.Errorf("next step = %+v, want %+v", got, s.want)
			}
		})
	}
}

func TestARolloutHandsOverOnlyToAnUpdatedInSyncFollower(t *testing.T) {
	revs := map[string]string{"factom-wallet-0": "v1", "factom-wallet-1": "v2", "factom-wallet-2": "v2"}
	r := rolloutReport(t, "factom-wallet-0", revs, map[string]string{"factom-wallet-1": behindBody})
	got, err := nextRolloutStep(r, "v2")
	if err != nil || got.switchTo != "factom-wallet-2" {
		t.Fatalf("next step = %+v, %v; want a switchover to the in-sync factom-wallet-2", got, err)
	}
	r = rolloutReport(t, "factom-wallet-0", revs, map[string]string{"factom-wallet-1": behindBody, "factom-wallet-2": behindBody})
	if _, err := nextRolloutStep(r, "v2"); !errors.Is(err, ErrRolloutRefused) {
		t.Fatalf("with no updated follower in sync: %v, want ErrRolloutRefused", err)
	}
}

func TestARolloutStartsOnlyFromAHealthyWallet(t *testing.T) {
	revs := map[string]string{}
	if err := rolloutReady(rolloutReport(t, "factom-wallet-0", revs, nil)); err != nil {
		t.Fatalf("healthy wallet refused: %v", err)
	}
	cases := map[string]*Report{
		"a follower behind":  rolloutReport(t, "factom-wallet-0", revs, map[string]string{"factom-wallet-2": behindBody}),
		"no writable leader": rolloutReport(t, "factom-wallet-0", revs, map[string]string{"factom-wallet-0": followerBody}),
	}
	paused := rolloutReport(t, "factom-wallet-0", revs, nil)
	paused.Lease.Paused = true
	cases["failover paused"] = paused
	for name, r := range cases {
		if err := rolloutReady(r); !errors.Is(err, ErrRolloutRefused) {
			t.Errorf("%s: %v, want ErrRolloutRefused", name, err)
		}
	}
}
