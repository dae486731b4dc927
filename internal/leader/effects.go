package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
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

// eventSink is where the election's Events go: the sidecar's one
// kubeevents.Sink, shared with the keystore (nil Recorder: none written).
type eventSink struct{ rec kubeevents.Recorder }

func (s *eventSink) emit(typ, reason, format string, args ...any) {
	if s != nil && s.rec != nil {
		s.rec.Emit(typ, reason, format, args...)
	}
}

// flush waits for the Events emitted so far, on the way out.
func (s *eventSink) flush(ctx context.Context) {
	if s != nil && s.rec != nil {
		s.rec.Flush(ctx)
	}
}
