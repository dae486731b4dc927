package leader

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

func TestProbeRoundVerdict(t *testing.T) {
	tests := []struct {
		name  string
		round probeRound
		want  string
	}{
		{"both ports refused", probeRound{addr: "refused", proxy: "refused"}, EvidenceRefused},
		{"probe port refused, no proxy address published", probeRound{addr: "refused"}, EvidenceRefused},
		{"probe port refused, proxy port times out", probeRound{addr: "refused", proxy: "error"}, probeInconclusive},
		{"probe port refused, proxy port connects", probeRound{addr: "refused", proxy: "answered"}, probeInconclusive},
		{"probe port times out (a paused process)", probeRound{addr: "error", proxy: "answered"}, probeInconclusive},
		{"both time out (a partition)", probeRound{addr: "error", proxy: "error"}, probeInconclusive},
		{"the holder's process answers", probeRound{addr: "answered", proxy: "refused", process: "p1"}, probeAlive},
		{"another process answers at the address", probeRound{addr: "answered", proxy: "answered", process: "p2"}, EvidenceReplaced},
		{"an answer without a process id", probeRound{addr: "answered", proxy: "answered"}, probeInconclusive},
		{"nothing probed (no address)", probeRound{}, probeInconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.round.verdict("p1"); got != tt.want {
				t.Fatalf("verdict = %q, want %q", got, tt.want)
			}
		})
	}
	if got := (probeRound{addr: "answered", process: "p2"}).verdict(""); got != probeInconclusive {
		t.Fatalf("an answer against a Lease without a process id = %q, want no evidence", got)
	}
}

func TestCounterNeedsConsecutiveRounds(t *testing.T) {
	var c counter
	at := time.Unix(100, 0)
	for i, v := range []string{EvidenceRefused, EvidenceRefused, probeInconclusive, EvidenceRefused, EvidenceReplaced} {
		c.add(v, at.Add(time.Duration(i)*time.Second))
	}
	if c.run != 2 || !c.first.Equal(at.Add(3*time.Second)) || c.last != EvidenceReplaced {
		t.Fatalf("after a timeout between refusals: run %d from %s (last %s), want 2 from the round after the timeout", c.run, c.first, c.last)
	}
	c.add(probeAlive, at)
	if c.run != 0 {
		t.Fatalf("an answer from the holder left a run of %d", c.run)
	}
}

func TestRank(t *testing.T) {
	tests := []struct {
		me, holder string
		inSync     bool
		want       int
	}{
		{"factom-wallet-1", "factom-wallet-0", true, 0},
		{"factom-wallet-2", "factom-wallet-0", true, 1},
		{"factom-wallet-0", "factom-wallet-1", true, 0},
		{"factom-wallet-2", "factom-wallet-1", true, 1},
		{"factom-wallet-1", "factom-wallet-2", true, 1},
		{"factom-wallet-1", "factom-wallet-0", false, 1},
		// The holder pod's own restarted process goes after the others.
		{"factom-wallet-0", "factom-wallet-0", true, 2},
		{"factom-wallet-2", "factom-wallet-2", true, 4},
		{"wallet", "other", true, 0},
	}
	for _, tt := range tests {
		if got := rank(tt.me, tt.holder, tt.inSync); got != tt.want {
			t.Errorf("rank(%s, holder %s, inSync %v) = %d, want %d", tt.me, tt.holder, tt.inSync, got, tt.want)
		}
	}
}

func TestPodEvidence(t *testing.T) {
	acquired := time.Date(2026, 1, 1, 10, 0, 0, 700e6, time.UTC)
	after := metav1.NewTime(acquired.Add(3 * time.Second))
	before := metav1.NewTime(acquired.Add(-500 * time.Millisecond).Truncate(time.Second))
	pod := func(cs ...corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "factom-wallet-0"}, Status: corev1.PodStatus{ContainerStatuses: cs}}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	terminated := func(at metav1.Time) corev1.ContainerState {
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", FinishedAt: at}}
	}
	deleting := pod(corev1.ContainerStatus{Name: "sidecar", State: running})
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	tests := []struct {
		name         string
		pod          *corev1.Pod
		gone, delete bool
	}{
		{"running", pod(corev1.ContainerStatus{Name: "sidecar", State: running}), false, false},
		{"sidecar terminated after the term began", pod(corev1.ContainerStatus{Name: "sidecar", State: terminated(after)}), true, false},
		{"sidecar restarted after the term began", pod(corev1.ContainerStatus{Name: "sidecar", State: running, RestartCount: 1, LastTerminationState: terminated(after)}), true, false},
		{"an earlier process's termination, still reported", pod(corev1.ContainerStatus{Name: "sidecar", State: terminated(before)}), false, false},
		{"restarted before the term began", pod(corev1.ContainerStatus{Name: "sidecar", State: running, RestartCount: 3, LastTerminationState: terminated(before)}), false, false},
		{"walletd terminated, sidecar running", pod(corev1.ContainerStatus{Name: "walletd", State: terminated(after)}, corev1.ContainerStatus{Name: "sidecar", State: running}), false, false},
		{"pod deleting", deleting, false, true},
		{"pod gone", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := podEvidence(tt.pod, "sidecar", acquired)
			if v.gone != tt.gone || v.deleting != tt.delete {
				t.Fatalf("podEvidence = %+v, want gone %v deleting %v", v, tt.gone, tt.delete)
			}
			if v.gone && !strings.Contains(v.detail, "sidecar") {
				t.Fatalf("detail %q does not name the container", v.detail)
			}
		})
	}
	if v := podEvidence(pod(corev1.ContainerStatus{Name: "sidecar", State: terminated(after)}), "", acquired); v.gone {
		t.Fatal("a Lease without a container name gave container evidence")
	}
}

func TestResolveAdvertise(t *testing.T) {
	tests := []struct {
		name, listen, proxy, podIP string
		addr, proxyAddr            string
	}{
		{"pod IP with the listen and proxy ports", "[::]:8099", ":8189", "10.244.0.7", "10.244.0.7:8099", "10.244.0.7:8189"},
		{"listen names a host", "127.0.0.1:4000", "127.0.0.1:4001", "", "127.0.0.1:4000", "127.0.0.1:4001"},
		{"no host and no pod IP: nothing to probe", "0.0.0.0:8099", ":8189", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := TakeoverConfig{Enabled: true}
			c.ResolveAdvertise(tt.listen, tt.proxy, tt.podIP)
			if c.AdvertiseAddress != tt.addr || c.AdvertiseProxyAddress != tt.proxyAddr {
				t.Fatalf("got %q, %q; want %q, %q", c.AdvertiseAddress, c.AdvertiseProxyAddress, tt.addr, tt.proxyAddr)
			}
		})
	}
	c := TakeoverConfig{Enabled: true, AdvertiseAddress: "wallet-0.example:9000"}
	c.ResolveAdvertise("[::]:8099", ":8189", "10.0.0.1")
	if c.AdvertiseAddress != "wallet-0.example:9000" || c.AdvertiseProxyAddress != "wallet-0.example:8189" {
		t.Fatalf("a set address was changed or not used for the proxy: %+v", c)
	}
}

func TestTakeoverFlags(t *testing.T) {
	c := DefaultConfig(func(string) (string, bool) { return "", false }, "")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if !c.Takeover.Enabled || c.Takeover.ProbePeriod != DefaultTakeoverProbePeriod || c.Takeover.Refusals != DefaultTakeoverRefusals || c.Takeover.ContainerName != "sidecar" {
		t.Fatalf("defaults = %+v", c.Takeover)
	}
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"--takeover-refusals=0"}, "takeover-refusals"},
		{[]string{"--takeover-probe-period=1ms"}, "takeover-probe-period"},
		{[]string{"--advertise-address=10.0.0.1"}, "advertise-address"},
	} {
		c := DefaultTakeoverConfig()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c.registerFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		var fe *config.FlagError
		if err := c.validate(); !errors.As(err, &fe) || fe.Flag != tt.flag {
			t.Errorf("%v: validate() = %v, want an error naming --%s", tt.args, err, tt.flag)
		}
	}
	off := TakeoverConfig{Enabled: false, Refusals: 0}
	if err := off.validate(); err != nil {
		t.Fatalf("disabled early takeover with zero refusals: %v", err)
	}
}

func leaseOf(holder, process, rv string, term int32) leaseView {
	return leaseView{known: true, exists: true, lease: &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv, Annotations: map[string]string{
			AnnotationProcess: process, AnnotationAddress: "127.0.0.1:1", AnnotationProxyAddress: "127.0.0.1:2", AnnotationContainer: "sidecar"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseTransitions: &term},
	}}
}

func TestTakeoverPublishesAfterRefusalsAndRank(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	wakes := 0
	tk := newTakeover(TakeoverConfig{Enabled: true, ProbePeriod: 200 * time.Millisecond, Refusals: 3, ContainerName: "sidecar"},
		"factom-wallet-2", "mine", 2*time.Second, nil, func() bool { return true }, clk.now, zerolog.Nop(), nil, func() { wakes++ })
	v := leaseOf("factom-wallet-0", "theirs", "10", 4)
	tk.leaseChanged(v)
	tgt, _ := tk.snapshot()
	refused := probeRound{addr: "refused", proxy: "refused"}
	for range 3 {
		tk.record(tgt, refused)
		clk.add(200 * time.Millisecond)
	}
	if _, ok := tk.ready(v); ok {
		t.Fatal("rank 1 (factom-wallet-1 goes first) published without waiting a retry period")
	}
	clk.add(2 * time.Second)
	tk.record(tgt, refused)
	ev, ok := tk.ready(v)
	if !ok || ev.kind != EvidenceRefused || ev.rounds != 4 || wakes != 1 {
		t.Fatalf("after the rank delay: ready %v, evidence %+v, wakes %d", ok, ev, wakes)
	}
	if !strings.Contains(ev.String(), "127.0.0.1:1") || !strings.Contains(ev.String(), "127.0.0.1:2") {
		t.Fatalf("evidence %q does not name the refused addresses", ev)
	}
	// Only the Lease's metadata changed (an annotation): still the same
	// holder, term and renewal.
	if _, ok := tk.ready(leaseOf("factom-wallet-0", "theirs", "11", 4)); !ok {
		t.Fatal("evidence voided by a metadata-only change of the Lease")
	}
	// The Lease moved on (another replica took it): the evidence is not
	// for it.
	if _, ok := tk.ready(leaseOf("factom-wallet-1", "other", "11", 5)); ok {
		t.Fatal("evidence used against another holder's Lease")
	}
	// A renewal the takeover has not processed yet voids it too.
	renewed := leaseOf("factom-wallet-0", "theirs", "12", 4)
	renewAt := metav1.NewMicroTime(clk.now())
	renewed.lease.Spec.RenewTime = &renewAt
	if _, ok := tk.ready(renewed); ok {
		t.Fatal("evidence used against a renewed Lease")
	}
	// The renewal processed: the holder lives; everything gathered is
	// dropped.
	tk.leaseChanged(renewed)
	if _, ok := tk.ready(renewed); ok {
		t.Fatal("evidence survived a renewal")
	}
	tgt, _ = tk.snapshot()
	for range 2 {
		tk.record(tgt, refused)
	}
	tk.record(tgt, probeRound{addr: "error", proxy: "error"})
	tk.record(tgt, refused)
	clk.add(10 * time.Second)
	tk.record(tgt, refused)
	if _, ok := tk.ready(renewed); ok {
		t.Fatal("published with a timeout breaking the run of refusals")
	}
}

func TestTakeoverPodEvidenceAndDeletion(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	tk := newTakeover(TakeoverConfig{Enabled: true, ProbePeriod: 200 * time.Millisecond, Refusals: 3, ContainerName: "sidecar"},
		"factom-wallet-1", "mine", 2*time.Second, nil, nil, clk.now, zerolog.Nop(), nil, func() {})
	v := leaseOf("factom-wallet-0", "theirs", "10", 4)
	acquired := metav1.NewMicroTime(clk.now().Add(-time.Minute))
	v.lease.Spec.AcquireTime = &acquired
	tk.leaseChanged(v)
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "factom-wallet-0"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name: "sidecar", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, FinishedAt: metav1.NewTime(clk.now())}}}}}}
	tk.podSeen("factom-wallet-0", gone)
	if ev, ok := tk.ready(v); !ok || ev.kind != EvidenceContainer {
		t.Fatalf("container terminated: ready %v, %+v", ok, ev)
	}

	v2 := leaseOf("factom-wallet-2", "other", "20", 5)
	tk.leaseChanged(v2)
	tgt, _ := tk.snapshot()
	now := metav1.NewTime(clk.now())
	tk.podSeen("factom-wallet-2", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "factom-wallet-2", DeletionTimestamp: &now}})
	if _, ok := tk.ready(v2); ok {
		t.Fatal("a deleting pod alone was taken as evidence")
	}
	tk.record(tgt, probeRound{addr: "refused", proxy: "refused"})
	clk.add(2 * time.Second) // rank 1: factom-wallet-0 goes first
	tk.record(tgt, probeRound{addr: "refused", proxy: "refused"})
	if ev, ok := tk.ready(v2); !ok || ev.kind != EvidenceDeleting {
		t.Fatalf("deleting pod and one refused round: ready %v, %+v", ok, ev)
	}
}

func TestTargetSkipsOwnProcess(t *testing.T) {
	if _, ok := targetOf(leaseOf("factom-wallet-0", "mine", "1", 1), "factom-wallet-0", "mine"); ok {
		t.Fatal("this process's own Lease is a takeover target")
	}
	if tgt, ok := targetOf(leaseOf("factom-wallet-0", "previous", "1", 1), "factom-wallet-0", "mine"); !ok || tgt.process != "previous" {
		t.Fatal("the Lease of this pod's previous process is not watched")
	}
}

// TestProbeOutcomes probes real sockets: a closed port refuses; a listener
// nobody accepts on (a paused process: the kernel completes the handshake)
// times out and is no evidence; a live sidecar's /leader answers with its
// process id.
func TestProbeOutcomes(t *testing.T) {
	tk := newTakeover(TakeoverConfig{Enabled: true, ProbePeriod: 100 * time.Millisecond, Refusals: 3},
		"a", "mine", time.Second, nil, nil, time.Now, zerolog.Nop(), nil, func() {})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	paused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer paused.Close()
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"leader":false,"process":"theirs"}`))
	}))
	defer live.Close()
	liveAddr := strings.TrimPrefix(live.URL, "http://")
	ctx := context.Background()

	if r := tk.probe(ctx, target{address: closedAddr, proxy: closedAddr}); r.verdict("theirs") != EvidenceRefused {
		t.Errorf("closed ports: %+v", r)
	}
	if r := tk.probe(ctx, target{address: paused.Addr().String(), proxy: closedAddr}); r.verdict("theirs") != probeInconclusive || r.addr != "error" {
		t.Errorf("paused listener: %+v, want a timeout and no evidence", r)
	}
	if r := tk.probe(ctx, target{address: liveAddr, proxy: liveAddr}); r.verdict("theirs") != probeAlive {
		t.Errorf("live sidecar: %+v", r)
	}
	if r := tk.probe(ctx, target{address: liveAddr}); r.verdict("previous") != EvidenceReplaced {
		t.Errorf("another process at the address: %+v", r)
	}
}
