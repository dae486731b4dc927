package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// soakProfile is the lease timing a soak runs with.
type soakProfile struct {
	name                                      string
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

var (
	// soakDefault is the shipped timing, early takeover on (its default).
	soakDefault = soakProfile{"default (15s/10s/2s, early takeover on)", 15 * time.Second, 10 * time.Second, 2 * time.Second}
	soakFast    = soakProfile{"fast profile (4s/3s/0.5s)", 4 * time.Second, 3 * time.Second, 500 * time.Millisecond}
)

// soak runs three walletd pods for d, killing nothing, while a client
// generates addresses through the leader's proxy in a loop, and counts how
// often the Lease changed hands and how many early takeovers the sidecars
// logged: every one is spurious (evidence-less or wrong). Run it while the
// machine is busy to see the profile under load.
func soak(ctx context.Context, dir string, p soakProfile, d time.Duration, out io.Writer) error {
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return err
	}
	kube, err := testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		return err
	}
	defer kube.Stop()
	clusterDir := filepath.Join(dir, "cluster")
	cluster, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{Dir: clusterDir, Sidecar: sidecar, LogLevel: "info",
		LeaseDuration: p.leaseDuration, RenewDeadline: p.renewDeadline, RetryPeriod: p.retryPeriod})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if _, err := cluster.Leader(time.Minute); err != nil {
		return err
	}
	cs, err := kube.Clientset()
	if err != nil {
		return err
	}
	transitions := func() (int32, string, error) {
		l, err := cs.CoordinationV1().Leases(cluster.Namespace).Get(ctx, leader.DefaultLeaseName, metav1.GetOptions{})
		if err != nil {
			return 0, "", err
		}
		var n int32
		if l.Spec.LeaseTransitions != nil {
			n = *l.Spec.LeaseTransitions
		}
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return n, holder, nil
	}
	before, holder, err := transitions()
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(out, "soak: %s, 3 pods, %s, write load through the leader's proxy, leader %s, leaseTransitions %d\n", p.name, d, holder, before)
	load := startSoakLoad(cluster)
	select {
	case <-ctx.Done():
		load.stop()
		return ctx.Err()
	case <-time.After(d):
	}
	acked, failed := load.stop()
	after, holder, err := transitions()
	if err != nil {
		return err
	}
	early, err := countLogEvent(clusterDir, logging.EventLeaderTakeoverEarly)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "SOAK RESULT: %s, %s, spurious failovers=%d (leaseTransitions %d -> %d, leader now %s), early takeovers logged=%d, writes acknowledged=%d failed=%d\n",
		p.name, time.Since(start).Round(time.Second), after-before, before, after, holder, early, acked, failed)
	return nil
}

// soakLoad generates addresses through the current leader's proxy.
type soakLoad struct {
	done          chan struct{}
	wg            sync.WaitGroup
	acked, failed int
}

func startSoakLoad(c *testenv.Cluster) *soakLoad {
	l := &soakLoad{done: make(chan struct{})}
	l.wg.Go(func() {
		clients := map[string]*jsonrpc.Client{}
		for {
			select {
			case <-l.done:
				return
			default:
			}
			p, err := c.Leader(10 * time.Second)
			if err == nil {
				url := p.ProxyURL()
				if clients[url] == nil {
					clients[url] = jsonrpc.New(url, jsonrpc.Options{Timeout: 10 * time.Second})
				}
				err = clients[url].Call(context.Background(), "generate-ec-address", nil, nil)
			}
			if err != nil {
				l.failed++
				continue
			}
			l.acked++
		}
	})
	return l
}

func (l *soakLoad) stop() (acked, failed int) {
	close(l.done)
	l.wg.Wait()
	return l.acked, l.failed
}

// countLogEvent counts the JSON log lines with that event in every *.log
// file under dir.
func countLogEvent(dir, event string) (int, error) {
	needle := `"event":"` + event + `"`
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n += strings.Count(string(b), needle)
		return nil
	})
	return n, err
}
