package bench

import (
	"context"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/node"
)

// RolloutTrial is what one restart of the 3-replica wallet StatefulSet
// cost a client writing through the Service in a loop.
type RolloutTrial struct {
	Took        time.Duration // from the command to every pod replaced and converged
	LongestGap  time.Duration // longest time without an acknowledged write
	Unavailable time.Duration // time spent in gaps longer than unavailableAfter
	Failed      int           // writes that got an error (the client retried)
	// LeaseTransitions is how often the leadership changed.
	LeaseTransitions int64
}

// unavailableAfter is the gap between acknowledgements counted as
// unavailability: well above one write's latency on this machine.
const unavailableAfter = 500 * time.Millisecond

// rolloutTrial runs one restart of the wallet StatefulSet: with the
// plugin (OnDelete, followers first, one switchover) or, as the
// baseline, with `kubectl rollout restart` after switching the
// StatefulSet to RollingUpdate (the controller's order, highest ordinal
// first). The StatefulSet is left OnDelete, as shipped.
func rolloutTrial(ctx context.Context, n *node.Node, url string, plugin bool) (RolloutTrial, error) {
	var r RolloutTrial
	if _, err := converged(ctx, n, 5*time.Minute); err != nil {
		return r, err
	}
	lease0, err := leaseTransitions(ctx, n.Client, nodeNS)
	if err != nil {
		return r, err
	}
	w := node.StartWriter(url)
	defer w.Finish()
	if _, err := w.WaitAckAfter(time.Now().Add(time.Second), time.Minute); err != nil {
		return r, err
	}
	t0 := time.Now()
	if plugin {
		if _, _, err := n.KubectlFactom(ctx, "", "-n", nodeNS, "rollout", "restart", "--pod-timeout", "6m"); err != nil {
			return r, err
		}
	} else {
		if err := n.SetUpdateStrategy(ctx, nodeNS, "factom-wallet", "RollingUpdate"); err != nil {
			return r, err
		}
		defer n.SetUpdateStrategy(context.WithoutCancel(ctx), nodeNS, "factom-wallet", "OnDelete")
		if _, err := n.Kubectl(ctx, "-n", nodeNS, "rollout", "restart", "statefulset/factom-wallet"); err != nil {
			return r, err
		}
		if _, err := n.Kubectl(ctx, "-n", nodeNS, "rollout", "status", "statefulset/factom-wallet", "--timeout=15m"); err != nil {
			return r, err
		}
	}
	if _, err := converged(ctx, n, 5*time.Minute); err != nil {
		return r, err
	}
	at, err := w.WaitAckAfter(time.Now(), 3*time.Minute)
	if err != nil {
		return r, err
	}
	r.Took = at.Sub(t0)
	r.LongestGap = w.LongestGap(t0, at)
	r.Unavailable = w.Unavailable(t0, at, unavailableAfter)
	_, r.Failed = w.Finish()
	lease1, err := leaseTransitions(ctx, n.Client, nodeNS)
	if err != nil {
		return r, err
	}
	r.LeaseTransitions = int64(lease1 - lease0)
	return r, nil
}
