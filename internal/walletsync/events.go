package walletsync

import (
	"context"
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

// eventer posts Kubernetes Events on this replica's pod. Messages are
// built by this package from fixed text, generations and public data only.
type eventer struct {
	client    kubernetes.Interface
	namespace string
	pod       string
	log       zerolog.Logger

	mu  sync.Mutex
	uid string
}

func (e *eventer) emit(ctx context.Context, eventType, reason, message string) {
	if e == nil || e.client == nil || e.pod == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e.mu.Lock()
	if e.uid == "" {
		// The UID lets `kubectl describe pod` list the Event; without it
		// (no get on pods) the Event still shows in `kubectl get events`.
		if p, err := e.client.CoreV1().Pods(e.namespace).Get(ctx, e.pod, metav1.GetOptions{}); err == nil {
			e.uid = string(p.UID)
		}
	}
	uid := e.uid
	e.mu.Unlock()
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: e.pod + ".", Namespace: e.namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: e.namespace, Name: e.pod, UID: types.UID(uid),
		},
		Reason:              reason,
		Message:             message,
		Type:                eventType,
		Source:              corev1.EventSource{Component: "factom-sidecar"},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: "factom.io/sidecar",
		ReportingInstance:   e.pod,
	}
	if _, err := e.client.CoreV1().Events(e.namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		e.log.Warn().Str("event", logging.EventKubeEventFailed).Str("reason", reason).Err(err).Msg("could not post a Kubernetes Event")
	}
}

func (e *eventer) warn(ctx context.Context, reason, format string, args ...any) {
	e.emit(ctx, corev1.EventTypeWarning, reason, fmt.Sprintf(format, args...))
}

func (e *eventer) normal(ctx context.Context, reason, format string, args ...any) {
	e.emit(ctx, corev1.EventTypeNormal, reason, fmt.Sprintf(format, args...))
}
