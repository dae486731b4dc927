package faults

import (
	"context"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// target resolves a step's target to a pod index without a fault in
// progress; -1 when there is none.
func (s *schedule) target(t Target) int {
	leaderIdx := -1
	for i, p := range s.cluster.Pods {
		if s.busy[i] == "" && p.IsWritableLeader() {
			leaderIdx = i
		}
	}
	if t == Leader {
		return leaderIdx
	}
	var others []int
	for i := range s.cluster.Pods {
		if i != leaderIdx {
			others = append(others, i)
		}
	}
	// The named follower, or the other one when it already has a fault.
	k := int(t - Follower0)
	for j := range others {
		if i := others[(k+j)%len(others)]; s.busy[i] == "" {
			return i
		}
	}
	return -1
}

func (s *schedule) apply(st Step, now time.Duration, w *Writer, writers *sync.WaitGroup) {
	logf := s.opts.Logf
	if st.Kind == Burst {
		for i := range st.Writes {
			c := w.NewClient(s.opts.Plan.Seed, 1000+int(now/time.Millisecond)*100+i)
			writers.Go(func() { c.WriteOnce() })
		}
		s.res.Faults[Burst]++
		logf("%s", st)
		return
	}
	if st.Kind == DeleteLease {
		if s.apiDown {
			s.res.Skipped++
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.cs.CoordinationV1().Leases(testenv.KubeTestNamespace).Delete(ctx, "factom-walletd-leader", metav1.DeleteOptions{})
		cancel()
		if err != nil {
			logf("%s: %v", st, err)
			s.res.Skipped++
			return
		}
		s.res.Faults[st.Kind]++
		logf("%s", st)
		return
	}
	if st.Kind == RestartAPIServer {
		if s.apiDown {
			s.res.Skipped++
			return
		}
		s.env.Kube.StopAPIServer()
		s.apiDown = true
		s.res.Faults[st.Kind]++
		logf("%s", st)
		s.heals = append(s.heals, heal{at: now + st.Hold, what: "start the API server", do: s.startAPI})
		return
	}
	i := s.target(st.Target)
	if i < 0 || (st.Kind == KillSidecar && s.apiDown) {
		// No eligible pod (its pod is already down), or a restart would
		// need the API server, which is down.
		s.res.Skipped++
		logf("%s: skipped, no eligible pod", st)
		return
	}
	p := s.cluster.Pods[i]
	var undo func() error
	switch st.Kind {
	case KillSidecar:
		p.Sidecar.Kill()
		// A dead process's ports refuse; the proxies in front of them
		// must too (its restart advertises new ones).
		_ = s.refuseAdvertised(i, false)
		undo = func() error { return s.restartPod(i, st.WholePod) }
	case PauseSidecar:
		if err := p.Sidecar.Signal(syscall.SIGSTOP); err != nil {
			logf("%s: %v", st, err)
			return
		}
		undo = func() error { return p.Sidecar.Signal(syscall.SIGCONT) }
	case KillWalletd:
		p.Walletd.Kill()
		undo = p.Walletd.Restart
	case TermSidecar:
		if s.apiDown {
			s.res.Skipped++ // its restart would need the API server
			return
		}
		// As the kubelet does: SIGTERM, then the container restarts.
		if err := p.Sidecar.Signal(syscall.SIGTERM); err != nil {
			logf("%s: %v", st, err)
			return
		}
		undo = func() error {
			select {
			case <-p.Sidecar.Done():
			case <-time.After(30 * time.Second):
				p.Sidecar.Kill() // the grace period ran out
			}
			return s.restartPod(i, false)
		}
	case SlowWalletd:
		s.walletdMu.Lock()
		wp, ok := s.walletdProxies[i]
		s.walletdMu.Unlock()
		if !ok {
			s.res.Skipped++
			return
		}
		wp.SetDelay(st.Delay)
		undo = func() error { wp.SetDelay(0); return nil }
	case FalseTakeover:
		_ = s.refuseAdvertised(i, false)
		undo = func() error { return s.refuseAdvertised(i, true) }
	case CutAPIServer:
		s.proxies[i].Cut()
		undo = func() error { s.proxies[i].Restore(); return nil }
	}
	s.busy[i] = st.Kind
	s.res.Faults[st.Kind]++
	logf("%s: %s", st, p.Name)
	s.heals = append(s.heals, heal{at: now + st.Hold, what: string(st.Kind) + " on " + p.Name, do: func() error {
		if (st.Kind == KillSidecar || st.Kind == TermSidecar) && s.apiDown {
			// walletd-init needs the API server: bring it back first.
			if err := s.startAPI(); err != nil {
				return err
			}
		}
		delete(s.busy, i)
		return undo()
	}})
}

func (s *schedule) startAPI() error {
	if !s.apiDown {
		return nil
	}
	err := s.env.Kube.StartAPIServer()
	if err == nil {
		s.apiDown = false
	}
	return err
}

// restartPod brings a pod back after its sidecar was killed, as the
// kubelet would: the sidecar container alone, or the whole pod (walletd
// killed, then walletd-init, walletd, sidecar).
func (s *schedule) restartPod(i int, whole bool) error {
	p := s.cluster.Pods[i]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := p.StartSidecar
	if whole {
		p.Walletd.Kill() // walletd-init must open the wallet file alone
		start = p.Start
	}
	if err := start(ctx); err != nil {
		return err
	}
	s.router.SetURL(p.Name, p.ProxyURL())
	return nil
}
