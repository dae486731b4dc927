// Package kubeevents writes the sidecar's Kubernetes Events on its own pod:
// one Sink per process, shared by the election and the keystore, built in
// cmd/sidecar.
//
// Not client-go's tools/events: its broadcaster folds Events of the same
// type, reason and pod into a series that keeps the first one's message,
// patches the count in once and then only every 30 minutes, so the second
// failover of an hour (LeaderElected with another term) would show as a
// count on the first and the third not at all; and it writes each Event
// from its own goroutine, so the order of a failover's Events is lost.
// Each transition here is its own Event, written in the order it happened,
// off the caller's path (a slow or unreachable API server must not hold
// up closing the write gate), each write with its own timeout, and the
// queue flushed on shutdown. Messages are the callers' own text from
// public data only (terms, generations, pod and Secret names).
package kubeevents

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// Recorder is what the election and the keystore write Events through.
type Recorder interface {
	// Emit queues an Event of eventType (corev1.EventTypeNormal or
	// Warning); it never blocks.
	Emit(eventType, reason, format string, args ...any)
	// Flush waits until the Events emitted so far are written or ctx ends.
	Flush(ctx context.Context)
}

// Defaults of Options.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultQueueSize = 64
)

// Options shape a Sink.
type Options struct {
	// Timeout bounds each write (and the pod look-up); default
	// DefaultTimeout.
	Timeout time.Duration
	// QueueSize is how many Events may wait; beyond it they are dropped
	// with a log line. Default DefaultQueueSize.
	QueueSize int
	Log       zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Sink writes Events on pod namespace/pod, in order, from Run.
type Sink struct {
	cs      kubernetes.Interface
	ns, pod string
	timeout time.Duration
	log     zerolog.Logger
	now     func() time.Time

	ch  chan event
	wg  sync.WaitGroup // Events emitted and not yet written or given up
	uid types.UID      // Run's alone: looked up once, on the first write
}

// event is one queued Event.
type event struct {
	typ, reason, message string
	at                   time.Time
}

// New returns a Sink; nothing is written before Run.
func New(cs kubernetes.Interface, namespace, pod string, o Options) *Sink {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sink{cs: cs, ns: namespace, pod: pod, timeout: o.Timeout, log: o.Log, now: o.Now, ch: make(chan event, o.QueueSize)}
}

// Emit queues an Event; a full queue drops it with a log line.
func (s *Sink) Emit(eventType, reason, format string, args ...any) {
	ev := event{typ: eventType, reason: reason, message: fmt.Sprintf(format, args...), at: s.now()}
	s.wg.Add(1)
	select {
	case s.ch <- ev:
	default:
		s.wg.Done()
		s.log.Warn().Str("event", logging.EventKubeEventDropped).Str("reason", reason).Msg("Kubernetes Event queue full; Event dropped")
	}
}

// Run writes queued Events until ctx ends.
func (s *Sink) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.ch:
			s.write(ctx, ev)
			s.wg.Done()
		}
	}
}

// Flush waits until the Events emitted so far are written (or failed) or
// ctx ends; Run must be running.
func (s *Sink) Flush(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn().Str("event", logging.EventKubeEventsUnflushed).Msg("exiting with Kubernetes Events not written")
	}
}

func (s *Sink) write(ctx context.Context, ev event) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.uid == "" {
		// The UID ties the Event to this incarnation of the pod in
		// `kubectl describe pod`; without it the Event is still listed
		// by `kubectl get events`.
		if p, err := s.cs.CoreV1().Pods(s.ns).Get(ctx, s.pod, metav1.GetOptions{}); err == nil {
			s.uid = p.UID
		}
	}
	ts := metav1.NewTime(ev.at)
	obj := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", s.pod, ev.at.UnixNano()), Namespace: s.ns},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: s.ns, Name: s.pod, UID: s.uid,
		},
		Reason:              ev.reason,
		Message:             ev.message,
		Type:                ev.typ,
		Source:              corev1.EventSource{Component: "factom-sidecar"},
		FirstTimestamp:      ts,
		LastTimestamp:       ts,
		Count:               1,
		ReportingController: "factom.io/sidecar",
		ReportingInstance:   s.pod,
	}
	if _, err := s.cs.CoreV1().Events(s.ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		s.log.Warn().Str("event", logging.EventKubeEventFailed).Str("reason", ev.reason).Err(err).Msg("could not write Kubernetes Event")
	}
}
