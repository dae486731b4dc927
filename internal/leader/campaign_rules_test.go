package leader

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

// TestCampaignRules: what a follower does with each state of the Lease.
func TestCampaignRules(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	start := now.Add(-time.Hour)
	const me, other = "factom-wallet-1", "factom-wallet-0"
	plain := &Elector{cfg: Config{PodFlags: podFlags("", me), LeaseDuration: 4 * time.Second}, now: func() time.Time { return now }, process: "mine", ctl: newOperatorControl(nil)}
	withTakeover := &Elector{cfg: plain.cfg, now: plain.now, process: "mine", ctl: newOperatorControl(nil),
		take: newTakeover(TakeoverConfig{Enabled: true, ProbePeriod: time.Second, Refusals: 3}, me, "mine", time.Second, nil, nil, plain.now, zerolog.Nop(), nil, func() {})}

	// view is the Lease held by holder's process with ann, last changed
	// ago, of a 4 s duration.
	view := func(holder, process string, ann map[string]string, ago time.Duration) leaseView {
		secs := int32(4)
		a := map[string]string{AnnotationProcess: process}
		for k, v := range ann {
			a[k] = v
		}
		return leaseView{known: true, exists: true, observedAt: now.Add(-ago),
			lease: &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Annotations: a}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs}}}
	}
	paused := map[string]string{control.AnnotationPaused: "true"}
	switchTo := func(pod string) map[string]string {
		return map[string]string{control.AnnotationSwitchoverTo: pod, control.AnnotationSwitchoverAt: now.Add(-time.Second).Format(time.RFC3339Nano)}
	}

	for name, tc := range map[string]struct {
		e      *Elector
		v      leaseView
		try    bool
		reason string
		wait   time.Duration // when not trying
	}{
		"no answer from the API server yet":       {plain, leaseView{}, false, "", -1},
		"no Lease: created, dated from the start": {plain, leaseView{known: true}, true, "no lease yet", 0},
		"released":                                                  {plain, view("", "p0", nil, time.Second), true, "lease released", 0},
		"released for this pod's switchover":                        {plain, view("", "p0", switchTo(me), time.Second), true, "switchover", 0},
		"released for another pod's switchover":                     {plain, view("", "p0", switchTo("factom-wallet-2"), time.Second), false, "", 3 * time.Second},
		"another holder's fresh Lease":                              {plain, view(other, "p0", nil, time.Second), false, "", 3 * time.Second},
		"another holder's expired Lease":                            {plain, view(other, "p0", nil, 5*time.Second), true, "lease expired", 0},
		"paused: not even an expired Lease":                         {plain, view(other, "p0", paused, time.Hour), false, "", -1},
		"paused: this pod's previous process":                       {plain, view(me, "previous", paused, time.Second), true, "lease held by this pod's previous process", 0},
		"this process's own earlier term":                           {plain, view(me, "mine", nil, time.Second), true, "lease held by this process's previous term", 0},
		"this pod's previous process, no takeover":                  {plain, view(me, "previous", nil, time.Second), true, "lease held by this pod's previous process", 0},
		"this pod's previous process, takeover on":                  {withTakeover, view(me, "previous", nil, time.Second), false, "", 3 * time.Second},
		"another holder, takeover on, no evidence":                  {withTakeover, view(other, "p0", nil, time.Second), false, "", 3 * time.Second},
		"another holder, takeover on, expired":                      {withTakeover, view(other, "p0", nil, 5*time.Second), true, "lease expired", 0},
		"paused, takeover on: this pod's previous process, expired": {withTakeover, view(me, "previous", paused, time.Hour), true, "lease expired", 0},
	} {
		s := tc.e.nextStep(tc.v, now, start)
		if s.try != tc.try || s.reason != tc.reason || (!s.try && s.wait != tc.wait) {
			t.Errorf("%s: step %+v; want try %v, reason %q, wait %s", name, s, tc.try, tc.reason, tc.wait)
		}
	}

	// The trigger dates the takeover: from the start, the release seen,
	// or the expiry.
	// A release seen happen (a handover): the first in rank tries at once
	// and promotes beside its acquisition, each next rank a stagger later.
	// A release found at start: everyone at once, nobody alongside.
	promoting := func(e *Elector) *Elector {
		e.hooks.OnPromote = func(context.Context, int64) error { return nil }
		return e
	}
	handover := func(holder string, inSync bool) *Elector {
		e := promoting(&Elector{cfg: plain.cfg, now: plain.now, process: "mine", ctl: newOperatorControl(nil), inSync: func() bool { return inSync }})
		e.ctl.lastHolder = holder
		return e
	}
	released := view("", "p0", nil, 10*time.Millisecond)
	for name, tc := range map[string]struct {
		e         *Elector
		try       bool
		alongside bool
		wait      time.Duration
	}{
		"released by wallet-0: wallet-1 is first":                {handover("factom-wallet-0", true), true, true, 0},
		"released by wallet-2: wallet-1 is second":               {handover("factom-wallet-2", true), false, false, releaseStagger - 10*time.Millisecond},
		"released by wallet-0, wallet-1 not in sync: second":     {handover("factom-wallet-0", false), false, false, releaseStagger - 10*time.Millisecond},
		"released for this pod's switchover: first":              {promoting(&Elector{cfg: plain.cfg, now: plain.now, process: "mine", ctl: newOperatorControl(nil)}), true, true, 0},
		"released before this process started: at once, no rank": {promoting(&Elector{cfg: plain.cfg, now: plain.now, process: "mine", ctl: newOperatorControl(nil)}), true, false, 0},
	} {
		v := released
		if strings.Contains(name, "switchover") {
			v = view("", "p0", switchTo(me), 10*time.Millisecond)
		}
		s := tc.e.nextStep(v, now, start)
		if s.try != tc.try || s.alongside != tc.alongside || (!s.try && s.wait != tc.wait) {
			t.Errorf("%s: step %+v; want try %v, alongside %v, wait %s", name, s, tc.try, tc.alongside, tc.wait)
		}
	}
	if s := handover("factom-wallet-2", true).nextStep(view("", "p0", nil, releaseStagger), now, start); !s.try || s.alongside {
		t.Errorf("second in rank after the stagger: step %+v; want a plain try", s)
	}

	if s := plain.nextStep(leaseView{known: true}, now, start); !s.trigger.Equal(start) {
		t.Errorf("missing Lease dated %s, want the start %s", s.trigger, start)
	}
	if s := plain.nextStep(view(other, "p0", nil, 5*time.Second), now, start); !s.trigger.Equal(now.Add(-time.Second)) {
		t.Errorf("expired Lease dated %s, want its expiry %s", s.trigger, now.Add(-time.Second))
	}
}
