package walletsync

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// ReconcileForTest applies one version of the Secret as the follower loop
// does, so a test can hand it a version the watch would deliver late.
func ReconcileForTest(ctx context.Context, r *Replicator, sec *corev1.Secret) error {
	return r.reconcile(ctx, sec)
}
