package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/factom-sidecar/factom-sidecar/internal/operator"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// SwitchoverOptions configure MeasureSwitchover.
type SwitchoverOptions struct {
	Trials   int
	Dir      string
	Progress func(string)
}

// SwitchoverResults are the switchover and, in the same run on the same
// cluster, the graceful handover (SIGTERM of the leader's sidecar).
type SwitchoverResults struct {
	Trials     int
	Switchover Latencies // switchover request written → target answers /leader 200
	Graceful   Latencies // SIGTERM → another replica answers /leader 200
}

// MeasureSwitchover runs a 3-pod walletd cluster on a real API server,
// reachable through the pod proxy as in a cluster, and measures
// `kubectl factom switchover` (the plugin's own request, then the target's
// /leader polled every 2 ms) against a graceful handover.
func MeasureSwitchover(ctx context.Context, opts SwitchoverOptions) (SwitchoverResults, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	res := SwitchoverResults{Trials: opts.Trials}
	ip, err := testenv.ProxyableHostIP()
	if err != nil {
		return res, err
	}
	k, err := testenv.StartKube(filepath.Join(opts.Dir, "kube"))
	if err != nil {
		return res, err
	}
	defer k.Stop()
	bin, err := testenv.BuildSidecarBinary(opts.Dir)
	if err != nil {
		return res, err
	}
	c, err := testenv.StartCluster(ctx, k, testenv.ClusterOptions{Dir: filepath.Join(opts.Dir, "wallet"), Sidecar: bin, ListenHost: ip, LogLevel: "info"})
	if err != nil {
		return res, err
	}
	defer c.Stop()
	kube, err := kubernetes.NewForConfig(k.AdminConfig())
	if err != nil {
		return res, err
	}
	meta, err := metadata.NewForConfig(k.AdminConfig())
	if err != nil {
		return res, err
	}
	op := &operator.Client{Kube: kube, Metadata: meta, Namespace: c.Namespace, Names: operator.DefaultNames}
	pods := map[string]*testenv.WalletPod{}
	for _, p := range c.Pods {
		pods[p.Name] = p
	}

	progress(fmt.Sprintf("switchover, %d trials", opts.Trials))
	var took []time.Duration
	for i := range opts.Trials {
		if err := waitHealthy(ctx, op); err != nil {
			return res, fmt.Errorf("before switchover %d: %w", i+1, err)
		}
		// As in the graceful trials: the new leader has renewed a few
		// times before the next request (a pace, not a condition wait).
		time.Sleep(time.Second)
		from, to, at, err := op.RequestSwitchover(ctx, "")
		if err != nil {
			return res, fmt.Errorf("switchover %d: %w", i+1, err)
		}
		var t1 time.Time
		err = testenv.Eventually(time.Minute, 2*time.Millisecond, func() (bool, error) {
			code, err := leaderCode(pods[to].Listen)
			t1 = time.Now()
			return err == nil && code == http.StatusOK, err
		})
		if err != nil {
			return res, fmt.Errorf("switchover %d: %s never writable: %w", i+1, to, err)
		}
		took = append(took, t1.Sub(at))
		progress(fmt.Sprintf("  trial %d: %s → %s %s", i+1, from, to, t1.Sub(at).Round(time.Millisecond)))
	}
	res.Switchover = Summarize(took)

	progress(fmt.Sprintf("graceful handover (SIGTERM), %d trials", opts.Trials))
	g := &group{}
	for _, p := range c.Pods {
		m := podMember(p)
		if err := m.run(); err != nil {
			return res, err
		}
		g.members = append(g.members, m)
	}
	if err := waitHealthy(ctx, op); err != nil {
		return res, err
	}
	graceful, err := g.failover(syscall.SIGTERM, opts.Trials, time.Second, progress)
	if err != nil {
		return res, err
	}
	res.Graceful = Summarize(graceful)
	return res, nil
}

// waitHealthy waits until status would exit 0: one writable leader and
// every follower in sync, so each trial starts from the same state.
func waitHealthy(ctx context.Context, op *operator.Client) error {
	var last []string
	err := testenv.Eventually(2*time.Minute, 100*time.Millisecond, func() (bool, error) {
		r, err := op.Report(ctx)
		if err != nil {
			return false, err
		}
		last = r.Problems
		// No bridge runs here: only the wallet's problems count.
		return r.Healthy, nil
	})
	if err != nil {
		return fmt.Errorf("not healthy: %v: %w", last, err)
	}
	return nil
}
