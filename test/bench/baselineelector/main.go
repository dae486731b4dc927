// Command bench-baseline-elector is plain client-go leader election (a
// LeaseLock, RunOrDie, no watch, no gate), the baseline the benchmark
// compares the walletd sidecar's election with. It serves GET /leader (200
// while leading) and GET /requests (API requests sent so far).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

type counting struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-baseline-elector:", err)
		os.Exit(1)
	}
}

func run() error {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	ns := flag.String("namespace", "default", "namespace of the Lease")
	id := flag.String("identity", "", "election identity (required)")
	lease := flag.String("lease-name", "baseline-leader", "Lease name")
	listen := flag.String("listen", "127.0.0.1:0", "address for /leader and /requests")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "lease duration")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "renew deadline")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "retry period")
	flag.Parse()
	if *id == "" {
		return errors.New("-identity is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	var requests atomic.Int64
	cfg.Timeout = *renewDeadline / 2
	cfg.UserAgent = "bench-baseline-elector/" + *id
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return counting{next: rt, n: &requests} })
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var leading atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /leader", func(w http.ResponseWriter, r *http.Request) {
		if leading.Load() {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int64{"requests": requests.Load()})
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: &rl.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: *ns, Name: *lease},
			Client:     cs.CoordinationV1(),
			LockConfig: rl.ResourceLockConfig{Identity: *id},
		},
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { leading.Store(true) },
			OnStoppedLeading: func() { leading.Store(false) },
		},
	})
	return nil
}
