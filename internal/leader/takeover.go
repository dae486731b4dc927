package leader

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

// Early takeover: a follower takes the Lease before it expires when it has
// good evidence that the process holding the term is gone. Safety does not
// rest on the evidence: every acknowledged write is committed under the
// writer's term and a new leader bumps the keystore's term before writes
// open, so a wrongly deposed leader's next commit fails. Only availability
// rests on it, so only evidence that a live process cannot produce counts:
// connections refused on both advertised ports, another process answering
// at the leader's address, or the kubelet reporting the sidecar container
// gone. A timeout is never evidence (a paused or partitioned leader waits
// for the lease as before).

// Defaults of the early-takeover flags.
const (
	// A probe round every 200 ms and 3 refused rounds in a row: a crashed
	// leader is seen dead 400–600 ms after it died, leaving the rest of
	// the 1 s goal to the Lease update and the promotion. A live Go
	// process never refuses a connection on a listening socket (a full
	// backlog drops SYNs: a timeout), so the count guards against a
	// momentary REJECT on the path, not against the process itself.
	DefaultTakeoverProbePeriod = 200 * time.Millisecond
	DefaultTakeoverRefusals    = 3
	DefaultContainerName       = "sidecar"
)

// Annotations the leader writes on the Lease when it takes it, so followers
// know which process holds the term and where to probe it.
const (
	// AnnotationProcess is the holder's process id: random per process
	// start. A term belongs to the process named here.
	AnnotationProcess = "factom.io/leader-process"
	// AnnotationAddress is the holder's --advertise-address (/leader).
	AnnotationAddress = "factom.io/leader-address"
	// AnnotationProxyAddress is where the holder's proxy listens.
	AnnotationProxyAddress = "factom.io/leader-proxy-address"
	// AnnotationContainer names the holder's container in its Pod status.
	AnnotationContainer = "factom.io/leader-container"
)

// TakeoverConfig configures early takeover (flags in RegisterFlags).
type TakeoverConfig struct {
	Enabled     bool
	ProbePeriod time.Duration
	Refusals    int
	// AdvertiseAddress is where followers probe this replica's /leader;
	// AdvertiseProxyAddress its proxy port. Empty: resolved at start from
	// the bound addresses and $POD_IP (ResolveAdvertise).
	AdvertiseAddress      string
	AdvertiseProxyAddress string
	// ContainerName is this sidecar's container in its Pod (status
	// evidence).
	ContainerName string
}

// DefaultTakeoverConfig is early takeover on, with the default timings.
func DefaultTakeoverConfig() TakeoverConfig {
	return TakeoverConfig{Enabled: true, ProbePeriod: DefaultTakeoverProbePeriod, Refusals: DefaultTakeoverRefusals, ContainerName: DefaultContainerName}
}

func (c *TakeoverConfig) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Enabled, "early-takeover", c.Enabled, "take over before the lease expires when the leader's process is seen dead (its ports refuse connections, another process answers at its address, or its Pod status shows its sidecar container terminated or restarted); false: wait for the lease")
	fs.DurationVar(&c.ProbePeriod, "takeover-probe-period", c.ProbePeriod, "how often followers probe the leader's advertised addresses (TCP connect, GET /leader)")
	fs.IntVar(&c.Refusals, "takeover-refusals", c.Refusals, "probe rounds in a row in which the leader is seen gone before a follower takes over early (timeouts break the run: they are not evidence)")
	fs.StringVar(&c.AdvertiseAddress, "advertise-address", c.AdvertiseAddress, "host:port where followers probe this replica (default: $POD_IP with the --listen port, or the --listen address itself when it names a host)")
	fs.StringVar(&c.AdvertiseProxyAddress, "advertise-proxy-address", c.AdvertiseProxyAddress, "host:port of this replica's proxy as followers reach it (default: the advertise host with the --proxy-listen port)")
	fs.StringVar(&c.ContainerName, "container-name", c.ContainerName, "this sidecar's container name in its Pod, whose status followers watch for a terminated or restarted leader")
}

func (c *TakeoverConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	switch {
	case c.ProbePeriod < 10*time.Millisecond:
		return config.Errorf("takeover-probe-period", "%s: must be at least 10ms", c.ProbePeriod)
	case c.Refusals < 1:
		return config.Errorf("takeover-refusals", "%d: must be at least 1", c.Refusals)
	}
	for flagName, v := range map[string]string{"advertise-address": c.AdvertiseAddress, "advertise-proxy-address": c.AdvertiseProxyAddress} {
		if v == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(v); err != nil || host == "" || port == "" {
			return config.Errorf(flagName, "%q: want host:port", v)
		}
	}
	return nil
}

// ResolveAdvertise fills the advertised addresses left empty from the bound
// probe and proxy addresses: their host when it is a specific one, else
// podIP. An address that cannot be resolved stays empty (followers then have
// no address to probe and rely on the Pod status and the lease).
func (c *TakeoverConfig) ResolveAdvertise(listen, proxyListen, podIP string) {
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = advertised(listen, podIP)
	}
	if c.AdvertiseProxyAddress == "" {
		host, _, err := net.SplitHostPort(c.AdvertiseAddress)
		_, port, perr := net.SplitHostPort(proxyListen)
		if err == nil && perr == nil && host != "" {
			c.AdvertiseProxyAddress = net.JoinHostPort(host, port)
		}
	}
}

func advertised(bound, podIP string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return bound
	}
	if podIP == "" {
		return ""
	}
	return net.JoinHostPort(podIP, port)
}

// newProcessID names this process in the Lease: a term belongs to the
// process that acquired it, never to a later process of the same pod.
func newProcessID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; a time-based id still
		// differs between restarts.
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

// Evidence kinds, as logged and counted.
const (
	EvidenceRefused   = "refused"           // both ports refused connections
	EvidenceReplaced  = "process_replaced"  // another process answers at the address
	EvidenceContainer = "container_stopped" // Pod status: container terminated/restarted
	EvidenceDeleting  = "pod_deleting"      // deletionTimestamp set, and refused
	probeAlive        = "alive"             // the holder's process answered
	probeInconclusive = "inconclusive"      // timeouts, errors: no evidence
)

// probeRound is the outcome of one probe of the holder's addresses.
type probeRound struct {
	// addr and proxy are each "refused", "answered" (TCP connected) or
	// "error" (timeout or anything else); "" when not probed.
	addr, proxy string
	// process is the process id /leader answered with ("" if none).
	process string
}

// verdict classifies a round against the holder's process id. Only a
// refusal on every advertised port, or an answer from another process,
// counts as the holder being gone; a timeout anywhere is no evidence.
func (r probeRound) verdict(holderProcess string) string {
	switch {
	case r.addr == "answered" && r.process != "" && holderProcess != "" && r.process != holderProcess:
		return EvidenceReplaced
	case r.addr == "answered" && r.process == holderProcess && holderProcess != "":
		return probeAlive
	case r.addr == "refused" && (r.proxy == "refused" || r.proxy == ""):
		return EvidenceRefused
	}
	return probeInconclusive
}

// evidence is what a follower has seen of the current holder's process.
type evidence struct {
	kind   string
	detail string
	first  time.Time // first round of the run (or the status report)
	rounds int
}

func (ev evidence) String() string {
	if ev.rounds > 0 {
		return fmt.Sprintf("%s (%s; %d probe rounds in a row)", ev.kind, ev.detail, ev.rounds)
	}
	return fmt.Sprintf("%s (%s)", ev.kind, ev.detail)
}

// counter counts consecutive rounds without a sign of life. Anything but
// "gone" ends the run: consecutive means consecutive.
type counter struct {
	run   int
	first time.Time
	last  string
}

// add records a round's verdict and reports the run's length.
func (c *counter) add(verdict string, at time.Time) int {
	if verdict != EvidenceRefused && verdict != EvidenceReplaced {
		*c = counter{}
		return 0
	}
	if c.run == 0 {
		c.first = at
	}
	c.run++
	c.last = verdict
	return c.run
}

// rank is how many retry periods this replica waits, once it has evidence,
// before it tries: StatefulSet ordinals below its own (other than the
// holder's) go first, a replica not in sync waits one more, and the
// holder's own restarted process comes after the others. Conditional
// updates settle any race; the rank only avoids needless ones.
func rank(me, holder string, inSync bool) int {
	mine, okMine := ordinal(me)
	held, okHeld := ordinal(holder)
	r := 0
	if okMine {
		r = mine
		if okHeld && held < mine {
			r--
		}
	}
	if me == holder {
		r = mine + 2
	}
	if !inSync {
		r++
	}
	return r
}

// ordinal is the StatefulSet ordinal at the end of a pod name.
func ordinal(pod string) (int, bool) {
	i := strings.LastIndexByte(pod, '-')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(pod[i+1:])
	return n, err == nil && n >= 0
}
