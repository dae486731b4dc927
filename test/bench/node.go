package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/node"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// NodeOptions tune MeasureNode.
type NodeOptions struct {
	Trials int // per failover kind (default 10)
	// RolloutTrials is the restarts of the wallet StatefulSet per way
	// (the plugin's, the controller's); default 3.
	RolloutTrials int
	Dir           string
	Progress      func(string)
}

// NodeResults are the real-node figures: what an operator's first apply
// and a client behind the Service see.
type NodeResults struct {
	ClusterStart time.Duration // node.Start: images, containerd, control plane, node Ready, DNS
	ApplyToReady time.Duration // kubectl apply -k → all five pods Ready, one leader
	// Client-visible failover through the factom-wallet ClusterIP: from
	// the disruption to the first acknowledged write sent after it, and the
	// longest time without an acknowledgement around it.
	PodDeleted, PodDeletedGap       Latencies
	SidecarKilled, SidecarKilledGap Latencies
	// Restarts of the whole wallet StatefulSet under the same client:
	// `kubectl factom rollout restart` against `kubectl rollout restart`
	// of a RollingUpdate StatefulSet, alternating.
	RolloutPlugin, RolloutBaseline []RolloutTrial
}

const nodeNS = "factom-local"

// MeasureNode starts a real node, applies the local overlay and times
// failovers as a client with a retry loop sees them through the Service.
func MeasureNode(ctx context.Context, opts NodeOptions) (NodeResults, error) {
	if opts.Trials <= 0 {
		opts.Trials = 10
	}
	if opts.RolloutTrials <= 0 {
		opts.RolloutTrials = 3
	}
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	var r NodeResults
	n, err := node.Start(ctx, filepath.Join(opts.Dir, "node"))
	if err != nil {
		return r, err
	}
	defer n.Stop()
	r.ClusterStart = n.Started
	opts.Progress(fmt.Sprintf("node Ready in %s", r.ClusterStart.Round(100*time.Millisecond)))

	root, err := testenv.RepoRoot()
	if err != nil {
		return r, err
	}
	applied := time.Now()
	if _, err := n.Kubectl(ctx, "apply", "-k", filepath.Join(root, "test/node/overlays/local")); err != nil {
		return r, err
	}
	if _, err := converged(ctx, n, 8*time.Minute); err != nil {
		return r, err
	}
	r.ApplyToReady = time.Since(applied)
	opts.Progress(fmt.Sprintf("every pod Ready %s after apply", r.ApplyToReady.Round(100*time.Millisecond)))

	svc, err := n.Client.CoreV1().Services(nodeNS).Get(ctx, "factom-wallet", metav1.GetOptions{})
	if err != nil {
		return r, err
	}
	url := fmt.Sprintf("http://%s:%d/v2", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
	disrupt := map[string]func(leader string) (time.Time, error){
		"leader pod deleted": func(leader string) (time.Time, error) {
			at := time.Now()
			return at, n.Client.CoreV1().Pods(nodeNS).Delete(ctx, leader, metav1.DeleteOptions{})
		},
		"leader sidecar killed": func(leader string) (time.Time, error) {
			return n.SignalContainer(ctx, nodeNS, leader, "sidecar", syscall.SIGKILL)
		},
	}
	for _, kind := range []string{"leader pod deleted", "leader sidecar killed"} {
		var firsts, gaps []time.Duration
		for i := 0; i < opts.Trials; i++ {
			first, gap, err := failoverTrial(ctx, n, url, disrupt[kind])
			if err != nil {
				return r, fmt.Errorf("%s, trial %d: %w", kind, i+1, err)
			}
			firsts, gaps = append(firsts, first), append(gaps, gap)
			opts.Progress(fmt.Sprintf("%s %d/%d: first acknowledged write %s later, longest gap %s", kind, i+1, opts.Trials, first.Round(time.Millisecond), gap.Round(time.Millisecond)))
		}
		if kind == "leader pod deleted" {
			r.PodDeleted, r.PodDeletedGap = Summarize(firsts), Summarize(gaps)
		} else {
			r.SidecarKilled, r.SidecarKilledGap = Summarize(firsts), Summarize(gaps)
		}
	}
	for i := 0; i < opts.RolloutTrials; i++ {
		for _, plugin := range []bool{true, false} {
			way := map[bool]string{true: "kubectl factom rollout restart", false: "kubectl rollout restart (RollingUpdate)"}[plugin]
			tr, err := rolloutTrial(ctx, n, url, plugin)
			if err != nil {
				return r, fmt.Errorf("%s, trial %d: %w", way, i+1, err)
			}
			if plugin {
				r.RolloutPlugin = append(r.RolloutPlugin, tr)
			} else {
				r.RolloutBaseline = append(r.RolloutBaseline, tr)
			}
			opts.Progress(fmt.Sprintf("%s %d/%d: took %s, unavailable %s, longest gap %s, %d failed writes, %d leadership changes", way, i+1, opts.RolloutTrials,
				tr.Took.Round(time.Second), tr.Unavailable.Round(time.Millisecond), tr.LongestGap.Round(time.Millisecond), tr.Failed, tr.LeaseTransitions))
		}
	}
	return r, nil
}

// failoverTrial waits for a converged system with writes flowing, disrupts
// the leader and returns how long until a write sent after the disruption
// is acknowledged through the Service, and the longest time without an
// acknowledgement from a second before the disruption until 3 s after that
// first acknowledgement.
func failoverTrial(ctx context.Context, n *node.Node, url string, disrupt func(leader string) (time.Time, error)) (first, gap time.Duration, err error) {
	leader, err := converged(ctx, n, 5*time.Minute)
	if err != nil {
		return 0, 0, err
	}
	w := node.StartWriter(url)
	defer w.Finish()
	if _, err := w.WaitAckAfter(time.Now().Add(time.Second), time.Minute); err != nil {
		return 0, 0, err
	}
	t0, err := disrupt(leader)
	if err != nil {
		return 0, 0, err
	}
	at, err := w.WaitAckAfter(t0, 3*time.Minute)
	if err != nil {
		return 0, 0, err
	}
	settled := at.Add(3 * time.Second)
	if _, err := w.WaitAckAfter(settled, time.Minute); err != nil {
		return 0, 0, err
	}
	return at.Sub(t0), w.LongestGap(t0.Add(-time.Second), settled), nil
}

// converged waits for two Ready bridge pods, three Ready wallet pods and
// exactly one pod labelled leader, and returns the leader's name.
func converged(ctx context.Context, n *node.Node, timeout time.Duration) (string, error) {
	if _, err := n.WaitPods(ctx, nodeNS, "app.kubernetes.io/name=factom-bridge", 2, timeout, node.PodReady); err != nil {
		return "", err
	}
	if _, err := n.WaitPods(ctx, nodeNS, "app.kubernetes.io/name=factom-wallet", 3, timeout, node.PodReady); err != nil {
		return "", err
	}
	var leader string
	err := testenv.Eventually(time.Minute, 100*time.Millisecond, func() (bool, error) {
		pods, err := n.WaitPods(ctx, nodeNS, "app.kubernetes.io/name=factom-wallet,factom.io/role=leader", 1, time.Second, func(*corev1.Pod) bool { return true })
		if err != nil {
			return false, errors.New("no single leader")
		}
		leader = pods[0].Name
		return true, nil
	})
	return leader, err
}
