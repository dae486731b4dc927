package faults

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// FaultKind names one kind of fault the suite injects.
type FaultKind string

// The faults, in the order the summary line lists them.
const (
	KillSidecar      FaultKind = "kill-sidecar"      // SIGKILL the sidecar; the pod restarts (walletd-init, walletd, sidecar) after Hold
	PauseSidecar     FaultKind = "pause-sidecar"     // SIGSTOP the sidecar past the lease; SIGCONT after Hold
	KillWalletd      FaultKind = "kill-walletd"      // SIGKILL walletd under a running sidecar; restart it after Hold
	RestartAPIServer FaultKind = "restart-apiserver" // stop the API server, start it again after Hold
	CutAPIServer     FaultKind = "cut-apiserver"     // cut the pod's connection to the API server; restore after Hold
	Burst            FaultKind = "burst"             // Writes parallel writes at once
	TermSidecar      FaultKind = "term-sidecar"      // SIGTERM the sidecar (a graceful handover, as kubectl delete pod); it restarts after Hold
	SlowWalletd      FaultKind = "slow-walletd"      // delay every answer of the pod's walletd to its sidecar by Delay, for Hold
	DeleteLease      FaultKind = "delete-lease"      // delete the leader Lease
	// FalseTakeover refuses connections on the pod's advertised probe and
	// proxy ports (the suite's TCP proxies) while its sidecar lives, for
	// Hold: followers see the refusals of a dead process and take over
	// early from a live leader, whose writes in flight the term fences.
	FalseTakeover FaultKind = "false-takeover"
)

// FaultKinds lists every kind.
var FaultKinds = []FaultKind{KillSidecar, PauseSidecar, KillWalletd, RestartAPIServer, CutAPIServer, Burst, TermSidecar, SlowWalletd, DeleteLease, FalseTakeover}

// Target says which replica a pod fault hits, resolved when it is injected:
// the writable leader at that moment, or one of the others.
type Target int

const (
	// Leader is the replica that is the writable leader when the step runs.
	Leader Target = iota
	// Follower0 and Follower1 are the first and second of the other
	// replicas, in name order.
	Follower0
	Follower1
)

func (t Target) String() string {
	switch t {
	case Leader:
		return "leader"
	case Follower0:
		return "follower#0"
	default:
		return "follower#1"
	}
}

// Step is one fault of a schedule.
type Step struct {
	At     time.Duration // since the workload started
	Kind   FaultKind
	Target Target        // pod faults only
	Hold   time.Duration // how long the fault lasts before it is healed
	Writes int           // Burst only
	Delay  time.Duration // SlowWalletd only: added to each answer
	// WholePod: a killed sidecar comes back with its whole pod restarted
	// (walletd killed too, walletd-init, walletd, sidecar), as after a node
	// failure; otherwise only the sidecar container restarts.
	WholePod bool
}

func (s Step) String() string {
	switch s.Kind {
	case Burst:
		return fmt.Sprintf("%6.2fs %s of %d writes", s.At.Seconds(), s.Kind, s.Writes)
	case RestartAPIServer:
		return fmt.Sprintf("%6.2fs %s, down %.2fs", s.At.Seconds(), s.Kind, s.Hold.Seconds())
	case DeleteLease:
		return fmt.Sprintf("%6.2fs %s", s.At.Seconds(), s.Kind)
	case SlowWalletd:
		return fmt.Sprintf("%6.2fs %s on the %s by %s for %.2fs", s.At.Seconds(), s.Kind, s.Target, s.Delay, s.Hold.Seconds())
	case TermSidecar:
		return fmt.Sprintf("%6.2fs %s on the %s, restarted after %.2fs", s.At.Seconds(), s.Kind, s.Target, s.Hold.Seconds())
	case KillSidecar:
		then := "the sidecar restarts"
		if s.WholePod {
			then = "the whole pod restarts"
		}
		return fmt.Sprintf("%6.2fs %s on the %s, %s after %.2fs", s.At.Seconds(), s.Kind, s.Target, then, s.Hold.Seconds())
	default:
		return fmt.Sprintf("%6.2fs %s on the %s for %.2fs", s.At.Seconds(), s.Kind, s.Target, s.Hold.Seconds())
	}
}

// Plan is a fault schedule: everything the seed decides.
type Plan struct {
	Seed     uint64
	Duration time.Duration
	Steps    []Step
}

func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule seed=%d duration=%s, %d faults:", p.Seed, p.Duration, len(p.Steps))
	for _, s := range p.Steps {
		b.WriteString("\n  " + s.String())
	}
	return b.String()
}

// PlanOptions shape a schedule.
type PlanOptions struct {
	// Duration of the workload; faults start within it.
	Duration time.Duration
	// LeaseDuration of the sidecars: a pause outlasts it.
	LeaseDuration time.Duration
	// MinGap and MaxGap bound the pause between two faults.
	MinGap, MaxGap time.Duration
}

// weights of the fault kinds, in FaultKinds order.
var weights = []int{3, 3, 2, 2, 3, 2, 3, 2, 1, 2}

// NewPlan draws a schedule from seed (a PCG source seeded with it): the same
// seed always gives the same plan.
func NewPlan(seed uint64, o PlanOptions) Plan {
	if o.MinGap == 0 {
		o.MinGap, o.MaxGap = 500*time.Millisecond, 3*time.Second
	}
	rng := rand.New(rand.NewPCG(seed, 0x6661756c7473)) // "faults"
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	p := Plan{Seed: seed, Duration: o.Duration}
	at := time.Duration(0)
	for {
		at += between(o.MinGap, o.MaxGap)
		if at >= o.Duration {
			return p
		}
		n := rng.IntN(total)
		kind := FaultKinds[len(FaultKinds)-1]
		for i, w := range weights {
			if n < w {
				kind = FaultKinds[i]
				break
			}
			n -= w
		}
		s := Step{At: at, Kind: kind}
		// The leader is where faults matter most: it takes 60% of them.
		if rng.Float64() >= 0.6 {
			s.Target = Follower0 + Target(rng.IntN(2))
		}
		switch kind {
		case KillSidecar:
			s.Hold = between(time.Second, 6*time.Second)
			s.WholePod = rng.IntN(2) == 0
		case PauseSidecar:
			// Past the lease, so another replica takes over while this one
			// still believes it leads.
			s.Hold = o.LeaseDuration + between(500*time.Millisecond, 3*time.Second)
		case KillWalletd:
			s.Hold = between(500*time.Millisecond, 4*time.Second)
		case RestartAPIServer:
			s.Target = Leader
			s.Hold = between(0, 5*time.Second)
		case CutAPIServer:
			// Some cuts end before the renew deadline, some outlast the lease.
			s.Hold = between(500*time.Millisecond, o.LeaseDuration+3*time.Second)
		case Burst:
			s.Target = Leader
			s.Writes = 10 + rng.IntN(21)
		case TermSidecar:
			// The leader mostly: a handover in the middle of writes.
			if rng.IntN(4) > 0 {
				s.Target = Leader
			}
			s.Hold = between(500*time.Millisecond, 4*time.Second)
		case SlowWalletd:
			// Some delays stay under the proxy's walletd timeout, some
			// outlast it.
			s.Delay = []time.Duration{50 * time.Millisecond, 500 * time.Millisecond, 3 * time.Second, 16 * time.Second}[rng.IntN(4)]
			s.Hold = between(time.Second, 6*time.Second)
		case DeleteLease:
			s.Target = Leader
		case FalseTakeover:
			// On the leader it deposes a live leader; on a follower it
			// matters only once that follower leads.
			if rng.IntN(4) > 0 {
				s.Target = Leader
			}
			s.Hold = between(500*time.Millisecond, 4*time.Second)
		}
		p.Steps = append(p.Steps, s)
	}
}
