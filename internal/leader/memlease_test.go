package leader

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// memLease is one Lease in memory: a fixture for the election's transition
// rules, not a stand-in for the API server (the integration tests run
// those against a real one). It keeps the two properties the rules rest on
// (see leaseClient): Create fails with AlreadyExists when the Lease exists,
// Update with Conflict unless it carries the current resourceVersion. An
// update without a resourceVersion (unconditional) fails the test.
type memLease struct {
	t    testing.TB
	name string

	mu       sync.Mutex
	cur      *coordinationv1.Lease // nil: no Lease
	rv       int
	watchers []*memWatch
	writes   []leaseWrite
	// beforeWrite, if set, runs (without the lock) before a Create or
	// Update is applied; an error fails the write.
	beforeWrite func(op string, l *coordinationv1.Lease) error
}

// leaseWrite is one write that changed the Lease.
type leaseWrite struct {
	op      string // "create", "update", or "other" (another party's write)
	holder  string
	term    int32
	process string
}

var leasesResource = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func newMemLease(t testing.TB, name string) *memLease { return &memLease{t: t, name: name} }

var _ leaseClient = (*memLease)(nil)

func (m *memLease) Get(_ context.Context, name string, _ metav1.GetOptions) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || name != m.name {
		return nil, apierrors.NewNotFound(leasesResource, name)
	}
	return m.cur.DeepCopy(), nil
}

func (m *memLease) Create(_ context.Context, l *coordinationv1.Lease, _ metav1.CreateOptions) (*coordinationv1.Lease, error) {
	if err := m.hook("create", l); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur != nil {
		return nil, apierrors.NewAlreadyExists(leasesResource, l.Name)
	}
	return m.storeLocked("create", watch.Added, l), nil
}

func (m *memLease) Update(_ context.Context, l *coordinationv1.Lease, _ metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	if err := m.hook("update", l); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.cur == nil:
		return nil, apierrors.NewNotFound(leasesResource, l.Name)
	case l.ResourceVersion == "":
		m.t.Errorf("unconditional update of the Lease by %q", holderOf(l))
		return nil, apierrors.NewBadRequest("unconditional update")
	case l.ResourceVersion != m.cur.ResourceVersion:
		return nil, apierrors.NewConflict(leasesResource, l.Name, errors.New("the object has been modified"))
	}
	return m.storeLocked("update", watch.Modified, l), nil
}

func (m *memLease) Watch(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &memWatch{ch: make(chan watch.Event, 1000), done: make(chan struct{})}
	m.watchers = append(m.watchers, w)
	// What changed between the caller's get and this watch.
	if cur := strconv.Itoa(m.rv); opts.ResourceVersion != cur && m.rv > 0 {
		m.sendLocked(w, m.eventLocked(watch.Modified))
	}
	return w, nil
}

func (m *memLease) hook(op string, l *coordinationv1.Lease) error {
	m.mu.Lock()
	before := m.beforeWrite
	m.mu.Unlock()
	if before == nil {
		return nil
	}
	return before(op, l)
}

// setBeforeWrite replaces the write hook.
func (m *memLease) setBeforeWrite(f func(op string, l *coordinationv1.Lease) error) {
	m.mu.Lock()
	m.beforeWrite = f
	m.mu.Unlock()
}

// writeFirst makes another party's write f land just before pod's next
// write of the Lease, so that write carries an older resourceVersion. The
// channel closes once f is written.
func (m *memLease) writeFirst(pod string, f func(l *coordinationv1.Lease)) <-chan struct{} {
	var once sync.Once
	done := make(chan struct{})
	m.setBeforeWrite(func(_ string, l *coordinationv1.Lease) error {
		if holderOf(l) == pod {
			once.Do(func() {
				m.change(f)
				close(done)
			})
		}
		return nil
	})
	return done
}

// change writes the Lease as another party would (another replica, the
// operator): unconditionally, with a new resourceVersion.
func (m *memLease) change(f func(l *coordinationv1.Lease)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: m.name, Namespace: testNamespace}}
	ev := watch.Added
	if m.cur != nil {
		l, ev = m.cur.DeepCopy(), watch.Modified
	}
	f(l)
	m.storeLocked("other", ev, l)
}

// lease is the Lease now (nil: none).
func (m *memLease) lease() *coordinationv1.Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur.DeepCopy()
}

// writesOf returns the writes that named holder.
func (m *memLease) writesOf(holder string) []leaseWrite {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(m.writes), func(w leaseWrite) bool { return w.holder != holder })
}

func (m *memLease) storeLocked(op string, ev watch.EventType, l *coordinationv1.Lease) *coordinationv1.Lease {
	m.rv++
	m.cur = l.DeepCopy()
	m.cur.ResourceVersion = strconv.Itoa(m.rv)
	w := leaseWrite{op: op, holder: holderOf(m.cur), process: m.cur.Annotations[AnnotationProcess]}
	if m.cur.Spec.LeaseTransitions != nil {
		w.term = *m.cur.Spec.LeaseTransitions
	}
	m.writes = append(m.writes, w)
	e := m.eventLocked(ev)
	for _, w := range m.watchers {
		m.sendLocked(w, e)
	}
	return m.cur.DeepCopy()
}

func (m *memLease) eventLocked(t watch.EventType) watch.Event {
	return watch.Event{Type: t, Object: m.cur.DeepCopy()}
}

// sendLocked hands e to w; a watcher that stopped or fell behind is dropped
// (its channel closed, as the API server ends a watch).
func (m *memLease) sendLocked(w *memWatch, e watch.Event) {
	select {
	case <-w.done:
	case w.ch <- e:
		return
	default:
	}
	m.dropLocked(w)
}

func (m *memLease) dropLocked(w *memWatch) {
	for i, o := range m.watchers {
		if o == w {
			m.watchers = append(m.watchers[:i], m.watchers[i+1:]...)
			close(w.ch)
			return
		}
	}
}

func holderOf(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// memWatch is one watch of a memLease.
type memWatch struct {
	ch   chan watch.Event
	once sync.Once
	done chan struct{}
}

func (w *memWatch) ResultChan() <-chan watch.Event { return w.ch }

func (w *memWatch) Stop() { w.once.Do(func() { close(w.done) }) }
