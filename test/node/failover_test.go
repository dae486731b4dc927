package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func (d *deployment) leaderPodDeleted(t *testing.T) {
	ctx := context.Background()
	leader := d.waitWalletConverged(t, time.Minute)
	w := StartWriter(d.serviceURL(t, "factom-wallet"))
	waitAck(t, w, time.Now(), time.Minute)
	deleted := time.Now()
	if err := d.node.Client.CoreV1().Pods(d.ns).Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := testenv.Eventually(2*time.Minute, 100*time.Millisecond, func() (bool, error) {
		list, err := d.node.Client.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: leaderSelector})
		if err != nil {
			return false, err
		}
		for _, p := range list.Items {
			if p.Name != leader {
				return true, nil
			}
		}
		return false, fmt.Errorf("no other pod labelled leader after deleting %s", leader)
	})
	if err != nil {
		t.Fatal(err)
	}
	at := waitAck(t, w, deleted, 2*time.Minute)
	t.Logf("first acknowledged write through the Service %s after deleting %s", at.Sub(deleted).Round(time.Millisecond), leader)
	d.waitWalletConverged(t, 4*time.Minute)
	acked, _ := w.Finish()
	d.checkKeystore(t, acked)
}

// leaderSidecarKilled kills the leader's sidecar process inside its
// container (the pod and walletd live on): another replica takes over
// early, on the evidence of refused connections or the container status,
// and the restarted sidecar rejoins as a follower of the new term.
func (d *deployment) leaderSidecarKilled(t *testing.T) {
	ctx := context.Background()
	leader := d.waitWalletConverged(t, time.Minute)
	before, err := d.node.Client.CoreV1().Pods(d.ns).Get(ctx, leader, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := ContainerStatus(before, "sidecar")
	lease0 := d.lease(t)
	w := StartWriter(d.serviceURL(t, "factom-wallet"))
	waitAck(t, w, time.Now(), time.Minute)
	killed, err := d.node.SignalContainer(ctx, d.ns, leader, "sidecar", syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	at := waitAck(t, w, killed, 2*time.Minute)
	t.Logf("first acknowledged write through the Service %s after killing the leader's sidecar", at.Sub(killed).Round(time.Millisecond))
	err = testenv.Eventually(2*time.Minute, 200*time.Millisecond, func() (bool, error) {
		p, err := d.node.Client.CoreV1().Pods(d.ns).Get(ctx, leader, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		now, _ := ContainerStatus(p, "sidecar")
		return now.RestartCount > cs.RestartCount, fmt.Errorf("sidecar of %s not restarted (restarts %d)", leader, now.RestartCount)
	})
	if err != nil {
		t.Fatal(err)
	}
	newLeader := d.waitWalletConverged(t, 4*time.Minute)
	lease1 := d.lease(t)
	if newLeader == leader || lease1.holder == leader {
		t.Fatalf("%s leads again after its sidecar was killed (lease holder %s): no other replica took over", leader, lease1.holder)
	}
	if lease1.transitions <= lease0.transitions {
		t.Fatalf("lease transitions %d → %d: no takeover", lease0.transitions, lease1.transitions)
	}
	// Early, not at expiry: the new leader says so in its log and in a
	// Kubernetes Event, naming the evidence.
	logs, err := d.node.Kubectl(ctx, "-n", d.ns, "logs", newLeader, "-c", "sidecar")
	if err != nil {
		t.Fatal(err)
	}
	if !containsEvent(logs, "leader_takeover_early") {
		t.Errorf("%s took over without a leader_takeover_early line: it waited for the lease", newLeader)
	}
	if reasons := d.eventReasons(t, newLeader); !reasons["LeaderTakeoverEarly"] {
		t.Errorf("no LeaderTakeoverEarly Event on %s (reasons: %v)", newLeader, reasons)
	}
	// The restarted process rejoined as a follower of the new term, never
	// as the holder of its predecessor's.
	st := d.sidecarStatus(t, leader)
	if st.Election.Role != "follower" || st.Election.Writable || st.Election.Term != lease1.transitions {
		t.Errorf("restarted sidecar of %s: role %q writable %v term %d; want a follower of term %d", leader, st.Election.Role, st.Election.Writable, st.Election.Term, lease1.transitions)
	}
	t.Logf("%s took over early (term %d → %d); %s rejoined as a follower", newLeader, lease0.transitions, lease1.transitions, leader)
	acked, _ := w.Finish()
	d.checkKeystore(t, acked)
}

// rolloutRestart restarts every wallet pod with `kubectl factom rollout
// restart` while a client writes: every pod is replaced, the leadership
// changes exactly once, and no acknowledged write is lost.
func (d *deployment) rolloutRestart(t *testing.T) {
	ctx := context.Background()
	leader := d.waitWalletConverged(t, time.Minute)
	uids := map[string]types.UID{}
	for _, p := range d.walletPods(t) {
		uids[p.Name] = p.UID
	}
	lease0 := d.lease(t)
	w := StartWriter(d.serviceURL(t, "factom-wallet"))
	waitAck(t, w, time.Now(), time.Minute)
	rctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	// With the shipped factom-operator Role's rights only.
	kubeconfig, err := d.node.OperatorKubeconfig(ctx, d.ns, "factom-operator")
	if err != nil {
		t.Fatal(err)
	}
	// A RollingUpdate StatefulSet is refused before anything changes: the
	// controller would pick the order and could fail over twice.
	d.setUpdateStrategy(t, "RollingUpdate")
	_, refusal, err := d.node.KubectlFactom(rctx, kubeconfig, "rollout", "restart")
	if err == nil || !strings.Contains(refusal, "OnDelete") {
		t.Fatalf("rollout of a RollingUpdate StatefulSet: err %v, stderr %q; want a refusal naming OnDelete", err, refusal)
	}
	d.setUpdateStrategy(t, "OnDelete")
	for _, p := range d.walletPods(t) {
		if p.UID != uids[p.Name] {
			t.Fatalf("the refused rollout replaced %s", p.Name)
		}
	}
	out, progress, err := d.node.KubectlFactom(rctx, kubeconfig, "rollout", "restart", "--pod-timeout", "6m")
	t.Logf("kubectl factom rollout restart:\n%s%s", progress, out)
	if err != nil {
		t.Fatal(err)
	}
	newLeader := d.waitWalletConverged(t, 4*time.Minute)
	waitAck(t, w, time.Now(), 2*time.Minute)
	acked, failed := w.Finish()
	lease1 := d.lease(t)
	if got := lease1.transitions - lease0.transitions; got != 1 {
		t.Errorf("the rollout changed the leadership %d times (lease transitions %d → %d), want exactly once", got, lease0.transitions, lease1.transitions)
	}
	if newLeader == leader {
		t.Errorf("%s still leads after the rollout replaced it", leader)
	}
	for _, p := range d.walletPods(t) {
		if p.UID == uids[p.Name] {
			t.Errorf("%s was not replaced", p.Name)
		}
	}
	t.Logf("leadership %s → %s, once; %d writes acknowledged, %d failed during the rollout (clients retry)", leader, newLeader, len(acked), failed)
	d.checkKeystore(t, acked)
}

// leaseState is the walletd leader Lease's holder and transition count.
type leaseState struct {
	holder      string
	transitions int64
}

func (d *deployment) lease(t *testing.T) leaseState {
	t.Helper()
	l, err := d.node.Client.CoordinationV1().Leases(d.ns).Get(context.Background(), "factom-walletd-leader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var s leaseState
	if l.Spec.HolderIdentity != nil {
		s.holder = *l.Spec.HolderIdentity
	}
	if l.Spec.LeaseTransitions != nil {
		s.transitions = int64(*l.Spec.LeaseTransitions)
	}
	return s
}

func (d *deployment) walletPods(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := d.node.Client.CoreV1().Pods(d.ns).List(context.Background(), metav1.ListOptions{LabelSelector: walletSelector})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// sidecarStatus is the part of a walletd sidecar's /status the checks
// read, from the pod IP (the node reaches pod IPs).
type sidecarStatus struct {
	Election struct {
		Role     string `json:"role"`
		Writable bool   `json:"writable"`
		Term     int64  `json:"term"`
	} `json:"election"`
}

func (d *deployment) sidecarStatus(t *testing.T, pod string) sidecarStatus {
	t.Helper()
	p, err := d.node.Client.CoreV1().Pods(d.ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + net.JoinHostPort(p.Status.PodIP, "8099") + "/status")
	if err != nil {
		t.Fatalf("%s /status: %v", pod, err)
	}
	defer resp.Body.Close()
	var st sidecarStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("%s /status: %v", pod, err)
	}
	return st
}

// eventReasons are the reasons of the Kubernetes Events on a pod.
func (d *deployment) eventReasons(t *testing.T, pod string) map[string]bool {
	t.Helper()
	list, err := d.node.Client.CoreV1().Events(d.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + pod})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range list.Items {
		reasons[e.Reason] = true
	}
	return reasons
}

func waitAck(t *testing.T, w *Writer, t0 time.Time, timeout time.Duration) time.Time {
	t.Helper()
	at, err := w.WaitAckAfter(t0, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func (d *deployment) setUpdateStrategy(t *testing.T, strategy string) {
	t.Helper()
	if err := d.node.SetUpdateStrategy(context.Background(), d.ns, "factom-wallet", strategy); err != nil {
		t.Fatal(err)
	}
}
