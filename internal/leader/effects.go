package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// RoleLabel is the pod label the walletd Services select on.
const RoleLabel = "factom.io/role"

// Values of RoleLabel.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
)

// labeler keeps the pod's role label at the wanted value. Only the latest
// wanted value matters, so it retries until that value is applied instead
// of replaying every change.
type labeler struct {
	cs      kubernetes.Interface
	ns, pod string
	retry   time.Duration
	timeout time.Duration
	log     zerolog.Logger

	applyMu sync.Mutex // one patch at a time, so flush waits for one in flight
	mu      sync.Mutex
	want    string
	applied string
	kick    chan struct{}
}

func (l *labeler) set(role string) {
	l.mu.Lock()
	l.want = role
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *labeler) run(ctx context.Context) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-retry:
		}
		retry = nil
		if err := l.apply(ctx); err != nil {
			retry = time.After(l.retry)
		}
	}
}

// apply patches the label if it differs from what was last applied.
func (l *labeler) apply(ctx context.Context) error {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	l.mu.Lock()
	want, applied := l.want, l.applied
	l.mu.Unlock()
	if want == "" || want == applied {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, RoleLabel, want)
	if _, err := l.cs.CoreV1().Pods(l.ns).Patch(ctx, l.pod, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "factom-sidecar"}); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		l.log.Warn().Str("event", logging.EventRoleLabelFailed).Str("role", want).Err(err).Msg("could not label the pod; retrying")
		return fmt.Errorf("label pod %s: %w", l.pod, err)
	}
	l.mu.Lock()
	l.applied = want
	l.mu.Unlock()
	l.log.Info().Str("event", logging.EventRoleLabelled).Str("role", want).Msg("pod labelled " + RoleLabel + "=" + want)
	return nil
}

// flush applies the wanted label once more before exit.
func (l *labeler) flush(ctx context.Context) { _ = l.apply(ctx) }

// event is one Kubernetes Event on the pod.
type event struct {
	typ, reason, message string
	at                   time.Time
}

// eventSink writes Events on the pod in order, off the election's path: an
// API server that is slow or down must not hold up closing the gate.
type eventSink struct {
	cs      kubernetes.Interface
	ns, pod string
	timeout time.Duration
	log     zerolog.Logger

	ch  chan event
	mu  sync.Mutex
	uid types.UID
	wg  sync.WaitGroup
}

func newEventSink(cs kubernetes.Interface, ns, pod string, timeout time.Duration, log zerolog.Logger) *eventSink {
	return &eventSink{cs: cs, ns: ns, pod: pod, timeout: timeout, log: log, ch: make(chan event, 64)}
}

func (s *eventSink) emit(typ, reason, format string, args ...any) {
	ev := event{typ: typ, reason: reason, message: fmt.Sprintf(format, args...), at: time.Now()}
	s.wg.Add(1)
	select {
	case s.ch <- ev:
	default:
		s.wg.Done()
		s.log.Warn().Str("event", logging.EventKubeEventDropped).Str("reason", reason).Msg("event queue full")
	}
}

func (s *eventSink) run(ctx context.Context) {
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

// flush waits until queued events are written or ctx ends.
func (s *eventSink) flush(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn().Str("event", logging.EventKubeEventsUnflushed).Msg("exiting with Kubernetes Events not written")
	}
}

func (s *eventSink) write(ctx context.Context, ev event) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.mu.Lock()
	uid := s.uid
	s.mu.Unlock()
	if uid == "" {
		// The UID ties the Event to this incarnation of the pod in
		// `kubectl describe pod`; without it the Event is still listed.
		if p, err := s.cs.CoreV1().Pods(s.ns).Get(ctx, s.pod, metav1.GetOptions{}); err == nil {
			uid = p.UID
			s.mu.Lock()
			s.uid = uid
			s.mu.Unlock()
		}
	}
	ts := metav1.NewTime(ev.at)
	obj := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", s.pod, ev.at.UnixNano()), Namespace: s.ns},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: s.ns, Name: s.pod, UID: uid,
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
