package leader

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	coordinationv1 "k8s.io/api/coordination/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/kubewatch"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// leaseView is what this replica knows about the Lease.
type leaseView struct {
	known  bool // at least one answer from the API server
	exists bool
	lease  *coordinationv1.Lease
	// observedAt is the local time the Lease's spec was last seen to
	// change. Like client-go, expiry is judged from it with the local
	// clock, never from the holder's timestamps, so clock skew between
	// nodes does not matter.
	observedAt time.Time
}

func (v leaseView) holder() string {
	if v.lease == nil || v.lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *v.lease.Spec.HolderIdentity
}

func (v leaseView) transitions() int64 {
	if v.lease == nil || v.lease.Spec.LeaseTransitions == nil {
		return 0
	}
	return int64(*v.lease.Spec.LeaseTransitions)
}

func (v leaseView) duration() time.Duration {
	if v.lease == nil || v.lease.Spec.LeaseDurationSeconds == nil {
		return 0
	}
	return time.Duration(*v.lease.Spec.LeaseDurationSeconds) * time.Second
}

// observer follows the one Lease with a get and a field-selected watch, so
// candidates learn of a release or of the last renewal the moment it
// happens, without polling.
type observer struct {
	leases  leaseClient
	name    string
	now     func() time.Time
	retry   time.Duration
	timeout time.Duration
	log     zerolog.Logger
	// onChange is called (outside the lock) when the spec changes.
	onChange func(old, cur leaseView)
	// onMeta is called (outside the lock) for every new version of the
	// Lease, annotations included.
	onMeta func(cur leaseView)

	mu      sync.Mutex
	view    leaseView
	wake    chan struct{}
	changed chan struct{} // closed (and replaced) on every new version
}

func newObserver(leases leaseClient, name string, now func() time.Time, retry, timeout time.Duration, log zerolog.Logger) *observer {
	return &observer{leases: leases, name: name, now: now, retry: retry, timeout: timeout, log: log, wake: make(chan struct{}, 1), changed: make(chan struct{})}
}

func (o *observer) snapshot() leaseView {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.view
}

// next is closed once a version of the Lease newer than the current view
// has been observed.
func (o *observer) next() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

// observe records an answer about the Lease (nil: it does not exist).
func (o *observer) observe(lease *coordinationv1.Lease) {
	now := o.now()
	o.mu.Lock()
	old := o.view
	cur := leaseView{known: true, exists: lease != nil, lease: lease, observedAt: old.observedAt}
	changed := !old.known || old.exists != cur.exists
	if !changed && lease != nil && old.lease != nil {
		changed = !apiequality.Semantic.DeepEqual(old.lease.Spec, lease.Spec)
	}
	if changed {
		cur.observedAt = now
	}
	if !changed && lease != nil && old.lease != nil && lease.ResourceVersion == old.lease.ResourceVersion {
		o.mu.Unlock()
		return
	}
	o.view = cur
	changedCh := o.changed
	o.changed = make(chan struct{})
	o.mu.Unlock()
	close(changedCh)
	select {
	case o.wake <- struct{}{}:
	default:
	}
	if changed && o.onChange != nil {
		o.onChange(old, cur)
	}
	if o.onMeta != nil {
		o.onMeta(cur)
	}
}

func (o *observer) run(ctx context.Context) {
	var lastErr string
	for ctx.Err() == nil {
		err := o.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && err.Error() != lastErr {
			o.log.Warn().Str("event", logging.EventLeaseWatchFailed).Err(err).Msg("watching the lease failed; retrying")
		}
		if err != nil {
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(o.retry):
		}
	}
}

// once reads the Lease and watches it from that version until the watch
// ends.
func (o *observer) once(ctx context.Context) error {
	// Watches end after a few minutes so a silently dead connection is
	// replaced; jitter keeps replicas from reconnecting together.
	timeout := int64(240 + o.now().UnixNano()%120)
	return kubewatch.Once(ctx, kubewatch.Source[*coordinationv1.Lease]{
		Name: o.name,
		Get: func(ctx context.Context) (*coordinationv1.Lease, bool, error) {
			ctx, cancel := context.WithTimeout(ctx, o.timeout)
			defer cancel()
			lease, err := o.leases.Get(ctx, o.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, false, nil
			}
			return lease, err == nil, err
		},
		Watch: o.leases.Watch,
	}, timeout, o.observe)
}
