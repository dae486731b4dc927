package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

const (
	bridgeSelector = "app.kubernetes.io/name=factom-bridge"
	walletSelector = "app.kubernetes.io/name=factom-wallet"
	leaderSelector = walletSelector + ",factom.io/role=leader"
)

// deployment is one installation of the shipped manifests on the node.
type deployment struct {
	node *Node
	ns   string
}

// TestKustomizeLocalOverlay installs manifests/overlays/local with
// `kubectl apply -k` (through test/node/overlays/local, which only swaps
// the images for the ones built here) and runs every real-node check on it.
func TestKustomizeLocalOverlay(t *testing.T) {
	n := needNode(t)
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if out, err := n.Kubectl(ctx, "apply", "-k", filepath.Join(root, "test/node/overlays/local")); err != nil {
		t.Fatalf("kubectl apply -k: %v\n%s", err, out)
	}
	d := &deployment{node: n, ns: "factom-local"}
	t.Cleanup(func() { d.remove(t) })
	d.checks(t, began)
	// The job the system exists for, on the same pods (once: the chart's
	// run repeats the checks above, not this).
	if !t.Failed() {
		t.Run("audit-log entries through the Services survive failovers", d.auditLog)
	}
	if !t.Failed() {
		t.Run("Prometheus scrapes every sidecar and the no-leader alert follows a frozen leader", d.prometheus)
	}
}

// TestHelmChart installs the chart with `helm install` and the chart's own
// values-local.yaml (a LOCAL network), with the images swapped by
// test/node/helm-values.yaml, and runs the same checks.
func TestHelmChart(t *testing.T) {
	n := needNode(t)
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if out, err := n.Helm(ctx, "install", "factom", filepath.Join(root, "manifests/helm/factom-sidecar"),
		"--namespace", "factom-helm", "--create-namespace",
		"--values", filepath.Join(root, "manifests/helm/factom-sidecar/values-local.yaml"),
		"--values", filepath.Join(root, "test/node/helm-values.yaml")); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	d := &deployment{node: n, ns: "factom-helm"}
	t.Cleanup(func() { d.remove(t) })
	// The chart's own check, run at once: its Pod waits for a ready bridge
	// and one leader, then writes and reads through the Services.
	t.Run("helm test passes", func(t *testing.T) {
		out, err := n.Helm(ctx, "test", "factom", "--namespace", "factom-helm", "--logs", "--timeout", "8m")
		if err != nil {
			logs, _ := n.Kubectl(ctx, "logs", "-n", "factom-helm", "factom-test")
			t.Fatalf("helm test: %v\n%s\ntest pod log:\n%s", err, out, logs)
		}
		for _, want := range []string{"ok: exactly one wallet leader", "ok: the write read back through factom-wallet-read"} {
			if !strings.Contains(out, want) {
				t.Errorf("helm test output lacks %q:\n%s", want, out)
			}
		}
	})
	d.checks(t, began)
}

// checks runs the real-node checks in order; each builds on the state the
// previous one left.
func (d *deployment) checks(t *testing.T, began time.Time) {
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"bridge pods become Ready through the sidecar", func(t *testing.T) {
			d.waitBridgeReady(t, 6*time.Minute)
			t.Logf("bridge Ready %s after install", time.Since(began).Round(time.Second))
		}},
		{"wallet pods become Ready after walletd-init, one leader", func(t *testing.T) {
			d.waitWalletConverged(t, 6*time.Minute)
			t.Logf("wallet Ready %s after install", time.Since(began).Round(time.Second))
		}},
		{"writes through the leader Service and reads through the read Service", d.writesAndReads},
		{"frozen factomd leaves the Service and returns", d.frozenFactomd},
		{"leader pod deleted: another takes over, the pod rejoins", d.leaderPodDeleted},
		{"leader sidecar killed: another replica takes over early, the restarted one follows", d.leaderSidecarKilled},
		{"kubectl factom rollout restart: one leadership change, no key lost", d.rolloutRestart},
		{"kubectl logs and Events explain the failovers", d.logsAndEvents},
		{"liveness restarts an unresponsive factomd, never a syncing one", d.livenessRestart},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Logf("%s", d.node.PodProblems(context.Background(), d.ns))
			return
		}
	}
}

func (d *deployment) remove(t *testing.T) {
	if err := d.node.DeleteNamespace(context.Background(), d.ns, 3*time.Minute); err != nil {
		t.Errorf("remove %s: %v", d.ns, err)
	}
}

// waitAnswers waits until method answers through url (a Service's
// ClusterIP, which kube-proxy programs a moment after its endpoints).
func (d *deployment) waitAnswers(t *testing.T, url, method string) {
	t.Helper()
	err := testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := Call(ctx, url, method, nil, nil)
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("%s through %s: %v", method, url, err)
	}
}

// waitBridgeReady waits until both bridge pods are Ready, hold blocks the
// LOCAL network made (the follower synced from the leader: two nodes at
// height 0 would agree too) and are both behind the factom-bridge Service.
func (d *deployment) waitBridgeReady(t *testing.T, timeout time.Duration) []corev1.Pod {
	t.Helper()
	pods, err := d.node.WaitPods(context.Background(), d.ns, bridgeSelector, 2, timeout, func(p *corev1.Pod) bool {
		return PodReady(p) && sidecarHeight(p) >= 3
	})
	if err != nil {
		t.Fatalf("bridge pods: %v", err)
	}
	d.waitEndpoints(t, "factom-bridge", 2, timeout)
	return pods
}

// waitEndpoints waits until the Service's EndpointSlices list exactly want
// ready endpoints.
func (d *deployment) waitEndpoints(t *testing.T, service string, want int, timeout time.Duration) {
	t.Helper()
	err := testenv.Eventually(timeout, 200*time.Millisecond, func() (bool, error) {
		got, err := d.readyEndpoints(service)
		if err != nil {
			return false, err
		}
		return got == want, fmt.Errorf("%s has %d ready endpoints, want %d", service, got, want)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sidecarHeight is the local height the pod's sidecar reports, or -1.
func sidecarHeight(p *corev1.Pod) int64 {
	if p.Status.PodIP == "" {
		return -1
	}
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get("http://" + net.JoinHostPort(p.Status.PodIP, "8099") + "/readyz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var body struct {
		LocalHeight *int64 `json:"localHeight"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || body.LocalHeight == nil {
		return -1
	}
	return *body.LocalHeight
}

func (d *deployment) readyEndpoints(service string) (int, error) {
	slices, err := d.node.Client.DiscoveryV1().EndpointSlices(d.ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				n++
			}
		}
	}
	return n, nil
}

// waitWalletConverged waits for three Ready wallet pods, exactly one of
// them labelled leader, and returns the leader's name.
func (d *deployment) waitWalletConverged(t *testing.T, timeout time.Duration) string {
	t.Helper()
	ctx := context.Background()
	_, err := d.node.WaitPods(ctx, d.ns, walletSelector, 3, timeout, func(p *corev1.Pod) bool {
		init, ok := ContainerStatus(p, "walletd-init")
		return PodReady(p) && ok && init.State.Terminated != nil && init.State.Terminated.ExitCode == 0
	})
	if err != nil {
		t.Fatalf("wallet pods: %v", err)
	}
	var leader string
	err = testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		list, err := d.node.Client.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: leaderSelector})
		if err != nil {
			return false, err
		}
		if len(list.Items) != 1 {
			return false, fmt.Errorf("%d pods labelled leader", len(list.Items))
		}
		leader = list.Items[0].Name
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.waitEndpoints(t, "factom-wallet", 1, time.Minute)
	return leader
}

// serviceURL is the JSON-RPC URL of a Service's ClusterIP: traffic goes
// through kube-proxy's rules as a client pod's would.
func (d *deployment) serviceURL(t *testing.T, service string) string {
	t.Helper()
	svc, err := d.node.Client.CoreV1().Services(d.ns).Get(context.Background(), service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + net.JoinHostPort(svc.Spec.ClusterIP, fmt.Sprint(svc.Spec.Ports[0].Port)) + "/v2"
}

func (d *deployment) writesAndReads(t *testing.T) {
	ctx := context.Background()
	var a Address
	if err := Call(ctx, d.serviceURL(t, "factom-wallet"), "generate-ec-address", nil, &a); err != nil {
		t.Fatalf("write through the factom-wallet ClusterIP: %v", err)
	}
	if !strings.HasPrefix(a.Public, "EC") {
		t.Fatalf("generate-ec-address answered %+v", a.Public)
	}
	// Every replica behind the read Service holds the new key once in sync.
	d.waitReadBack(t, "factom-wallet-read", a.Public)
}

// waitReadBack reads all-addresses through the read Service six times (so
// the Service's load balancing reaches every replica) and waits each time
// until the answering replica holds public.
func (d *deployment) waitReadBack(t *testing.T, service, public string) {
	t.Helper()
	ctx := context.Background()
	read := d.serviceURL(t, service)
	for i := 0; i < 6; i++ {
		err := testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
			var all struct{ Addresses []Address }
			if err := Call(ctx, read, "all-addresses", nil, &all); err != nil {
				return false, err
			}
			for _, x := range all.Addresses {
				if x.Public == public {
					return true, nil
				}
			}
			return false, fmt.Errorf("a replica behind %s lacks %s", service, public)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (d *deployment) frozenFactomd(t *testing.T) {
	ctx := context.Background()
	pod := "factom-bridge-1"
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := true
	defer func() {
		if frozen {
			_, _ = d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGCONT)
		}
	}()
	err := testenv.Eventually(2*time.Minute, 200*time.Millisecond, func() (bool, error) {
		p, err := d.node.Client.CoreV1().Pods(d.ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return !PodReady(p), fmt.Errorf("%s still Ready", pod)
	})
	if err != nil {
		t.Fatal(err)
	}
	d.waitEndpoints(t, "factom-bridge", 1, time.Minute)
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	frozen = false
	d.waitBridgeReady(t, 3*time.Minute)
}

// checkKeystore asserts every acknowledged address is held by the leader
// and none was issued twice.
func (d *deployment) checkKeystore(t *testing.T, acked []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range acked {
		if seen[a] {
			t.Errorf("address %s was issued twice", a)
		}
		seen[a] = true
	}
	var all struct{ Addresses []Address }
	// A client retries: the Service may still point at a pod whose
	// sidecar is restarting for a moment after the pods look converged.
	err := testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		err := Call(context.Background(), d.serviceURL(t, "factom-wallet"), "all-addresses", nil, &all)
		return err == nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, x := range all.Addresses {
		held[x.Public] = true
	}
	for _, a := range acked {
		if !held[a] {
			t.Errorf("acknowledged address %s was lost", a)
		}
	}
	t.Logf("%d acknowledged addresses, all held by the leader, none twice", len(acked))
}

func (d *deployment) logsAndEvents(t *testing.T) {
	ctx := context.Background()
	leader := d.waitWalletConverged(t, time.Minute)
	out, err := d.node.Kubectl(ctx, "-n", d.ns, "logs", leader, "-c", "sidecar")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"leader_elected", "failover_complete", "keystore_promoted"} {
		if !containsEvent(out, ev) {
			t.Errorf("kubectl logs %s -c sidecar has no %q line", leader, ev)
		}
	}
	evs, err := d.node.Kubectl(ctx, "-n", d.ns, "get", "events", "--field-selector", "involvedObject.kind=Pod", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list corev1.EventList
	if err := json.Unmarshal([]byte(evs), &list); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range list.Items {
		reasons[e.Reason] = true
	}
	for _, r := range []string{"LeaderElected", "LeaderLost"} {
		if !reasons[r] {
			t.Errorf("kubectl get events has no %s Event (reasons seen: %v)", r, reasons)
		}
	}
}

func containsEvent(logs, event string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == event {
			return true
		}
	}
	return false
}

// livenessRestart freezes a factomd past the sidecar's unresponsive window:
// the kubelet's liveness probe (asking the sidecar) restarts the factomd
// container, and the restarted node, syncing back, is not restarted again.
func (d *deployment) livenessRestart(t *testing.T) {
	ctx := context.Background()
	pod := "factom-bridge-1"
	d.waitBridgeReady(t, 3*time.Minute)
	p, err := d.node.Client.CoreV1().Pods(d.ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := ContainerStatus(p, "factomd")
	if _, err := d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	err = testenv.Eventually(6*time.Minute, 500*time.Millisecond, func() (bool, error) {
		p, err := d.node.Client.CoreV1().Pods(d.ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		cs, _ := ContainerStatus(p, "factomd")
		return cs.RestartCount > before.RestartCount, fmt.Errorf("factomd of %s not restarted yet", pod)
	})
	if err != nil {
		_, _ = d.node.SignalContainer(ctx, d.ns, pod, "factomd", syscall.SIGCONT)
		t.Fatal(err)
	}
	// Restarted, the node loads and syncs: it must become Ready again
	// without another restart.
	pods := d.waitBridgeReady(t, 5*time.Minute)
	for _, p := range pods {
		if p.Name != pod {
			continue
		}
		cs, _ := ContainerStatus(&p, "factomd")
		if cs.RestartCount != before.RestartCount+1 {
			t.Errorf("factomd of %s restarted %d times, want once", pod, cs.RestartCount-before.RestartCount)
		}
	}
}
