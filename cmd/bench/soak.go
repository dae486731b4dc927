package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// soakFast runs three walletd pods with the fast timing profile (4 s lease,
// 3 s renew deadline, 0.5 s retry) for d, killing nothing, and counts how
// often the Lease changed hands: every change is a spurious failover. Run it
// while the machine is busy to see the profile under load.
func soakFast(ctx context.Context, dir string, d time.Duration, out io.Writer) error {
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return err
	}
	kube, err := testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		return err
	}
	defer kube.Stop()
	cluster, err := testenv.StartCluster(ctx, kube, testenv.ClusterOptions{Dir: filepath.Join(dir, "cluster"), Sidecar: sidecar, LogLevel: "info",
		LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond})
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
	fmt.Fprintf(out, "soak: fast profile (4s/3s/0.5s), 3 pods, %s, leader %s, leaseTransitions %d\n", d, holder, before)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	after, holder, err := transitions()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "SOAK RESULT: fast profile, %s, spurious failovers=%d (leaseTransitions %d -> %d, leader now %s)\n",
		time.Since(start).Round(time.Second), after-before, before, after, holder)
	return nil
}
