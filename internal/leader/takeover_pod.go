package leader

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podVerdict is what the holder's Pod object says about its process.
type podVerdict struct {
	// gone: the kubelet reports the holder's container terminated after
	// the holder acquired its term (it has exited since, or restarted).
	gone   bool
	detail string
	// deleting: the Pod is being deleted (or is gone): its process is on
	// its way out, so a single refused round is enough.
	deleting bool
}

// podEvidence judges the holder's Pod (nil: it does not exist). acquired is
// the Lease's acquireTime of the current term, written by the holder on its
// own node's clock, the clock the kubelet there stamps terminations with. A
// termination at or before it belongs to an earlier process of the pod,
// whose status the kubelet may still report while the new process already
// leads; only a later one shows the term's process gone. The stamps have
// whole seconds, so a process that died within its first second is left to
// the probes.
func podEvidence(p *corev1.Pod, container string, acquired time.Time) podVerdict {
	if p == nil {
		return podVerdict{deleting: true, detail: "pod deleted"}
	}
	v := podVerdict{}
	if p.DeletionTimestamp != nil {
		v.deleting = true
		v.detail = "pod deleting"
	}
	if container == "" || acquired.IsZero() {
		return v
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != container {
			continue
		}
		if t := cs.State.Terminated; t != nil && t.FinishedAt.Time.After(acquired) {
			return podVerdict{gone: true, deleting: v.deleting,
				detail: fmt.Sprintf("container %s terminated at %s (exit code %d, %s)", container, t.FinishedAt.UTC().Format(time.RFC3339), t.ExitCode, t.Reason)}
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.Time.After(acquired) {
			return podVerdict{gone: true, deleting: v.deleting,
				detail: fmt.Sprintf("container %s restarted (restart count %d; exited at %s with code %d)", container, cs.RestartCount, t.FinishedAt.UTC().Format(time.RFC3339), t.ExitCode)}
		}
	}
	return v
}
