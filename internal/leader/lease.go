package leader

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// leaseClient is everything the election does with its one Lease: read,
// create, update and watch it. The typed client of the Lease's namespace
// (coordinationv1client.LeaseInterface) is one; the transition tests use an
// in-memory one.
//
// The rules rest on two properties of the API server that an
// implementation must keep: Create fails with AlreadyExists when the Lease
// exists, and Update fails with Conflict (409) unless the Lease's
// resourceVersion is the current one. Every write of the election carries
// the version it last saw, so of two candidates racing for a free Lease
// exactly one wins, and a release never clears a Lease written since.
type leaseClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error)
	Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error)
	Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}
