package walletsync

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
)

// eventer posts the keystore's Kubernetes Events on this replica's pod
// through the sidecar's one Recorder (nil: none). Messages are built by
// this package from fixed text, generations and public data only.
type eventer struct{ rec kubeevents.Recorder }

func (e eventer) warn(reason, format string, args ...any) {
	if e.rec != nil {
		e.rec.Emit(corev1.EventTypeWarning, reason, format, args...)
	}
}

func (e eventer) normal(reason, format string, args ...any) {
	if e.rec != nil {
		e.rec.Emit(corev1.EventTypeNormal, reason, format, args...)
	}
}
