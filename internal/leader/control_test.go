package leader

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

func TestOperatorHoldsOnTheLease(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e := &Elector{cfg: Config{PodFlags: podFlags("", "factom-wallet-1"), LeaseDuration: 4 * time.Second}, now: func() time.Time { return now }}
	view := func(holder string, ann map[string]string, observed time.Duration) leaseView {
		return leaseView{known: true, exists: true, observedAt: now.Add(-observed),
			lease: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}}
	}
	paused := map[string]string{control.AnnotationPaused: "true"}
	switchTo := func(pod string, age time.Duration) map[string]string {
		return map[string]string{control.AnnotationSwitchoverTo: pod, control.AnnotationSwitchoverAt: now.Add(-age).Format(time.RFC3339Nano)}
	}
	for name, tc := range map[string]struct {
		v    leaseView
		held bool
		wait time.Duration
	}{
		"paused, a crashed leader's lease":          {view("factom-wallet-0", paused, time.Minute), true, -1},
		"paused, released":                          {view("", paused, time.Minute), true, -1},
		"paused, this pod's own previous lease":     {view("factom-wallet-1", paused, time.Minute), false, 0},
		"not paused":                                {view("factom-wallet-0", nil, time.Minute), false, 0},
		"released for another pod's switchover":     {view("", switchTo("factom-wallet-2", time.Second), time.Second), true, 3 * time.Second},
		"released for this pod's switchover":        {view("", switchTo("factom-wallet-1", time.Second), time.Second), false, 0},
		"switchover target silent a lease duration": {view("", switchTo("factom-wallet-2", 5*time.Second), 5*time.Second), false, 0},
		"switchover request expired":                {view("", switchTo("factom-wallet-2", time.Minute), time.Second), false, 0},
	} {
		held, wait := e.held(tc.v, now)
		if held != tc.held || (held && wait != tc.wait) {
			t.Errorf("%s: held %v, wait %s; want %v, %s", name, held, wait, tc.held, tc.wait)
		}
	}
}

func TestAfterHoldDatesTheTakeoverFromTheEndOfTheHold(t *testing.T) {
	expiry := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	trigger, reason := afterHold(expiry, "lease expired", expiry.Add(time.Hour))
	if !trigger.Equal(expiry.Add(time.Hour)) || reason != "lease expired (after an operator hold)" {
		t.Errorf("held takeover: %s, %q", trigger, reason)
	}
	trigger, reason = afterHold(expiry, "lease expired", time.Time{})
	if !trigger.Equal(expiry) || reason != "lease expired" {
		t.Errorf("takeover without a hold: %s, %q", trigger, reason)
	}
}

func TestHandoverOnlyFromAWritableUnpausedHolder(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	me := "factom-wallet-0"
	lease := func(holder string, ann map[string]string) leaseView {
		return leaseView{known: true, exists: true, observedAt: now,
			lease: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Annotations: ann}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}}
	}
	request := map[string]string{control.AnnotationSwitchoverTo: "factom-wallet-2", control.AnnotationSwitchoverAt: now.Format(time.RFC3339Nano)}
	pausedRequest := map[string]string{control.AnnotationPaused: "true"}
	for k, v := range request {
		pausedRequest[k] = v
	}
	for name, tc := range map[string]struct {
		v        leaseView
		writable bool
		want     string
	}{
		"writable holder":           {lease(me, request), true, "factom-wallet-2"},
		"still promoting":           {lease(me, request), false, ""},
		"paused":                    {lease(me, pausedRequest), true, ""},
		"another pod holds it":      {lease("factom-wallet-1", request), true, ""},
		"no request":                {lease(me, nil), true, ""},
		"the request names the pod": {lease(me, map[string]string{control.AnnotationSwitchoverTo: me, control.AnnotationSwitchoverAt: now.Format(time.RFC3339Nano)}), true, ""},
	} {
		e := &Elector{cfg: Config{PodFlags: podFlags("", me)}, now: func() time.Time { return now }, ctl: newOperatorControl(nil), cur: &termState{writable: tc.writable}}
		e.onLeaseMeta(tc.v)
		got := ""
		select {
		case got = <-e.ctl.handover:
		default:
		}
		if got != tc.want {
			t.Errorf("%s: handover to %q, want %q", name, got, tc.want)
		}
	}
}
