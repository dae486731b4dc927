package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/node"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

const demoNamespace = "factom-local"

// nodeDemo runs the demo on a real single-node cluster: the shipped local
// overlay applied with kubectl, real pods, a failover through the Service.
type nodeDemo struct {
	*demo
	n *node.Node
}

func runNode(ctx context.Context, out io.Writer, once, keep bool) error {
	// The audit log reports from its own goroutine.
	out = &syncWriter{w: out}
	d := &nodeDemo{demo: &demo{out: out, started: time.Now()}}
	var err error
	if d.dir, err = os.MkdirTemp("", "factom-sidecar-demo-node-"); err != nil {
		return err
	}
	defer d.finish("Deleting the workloads and stopping the node", keep)

	d.step("Starting a real single-node cluster: etcd, kube-apiserver, controller-manager, scheduler, kubelet, kube-proxy, containerd, CoreDNS")
	if d.n, err = node.Start(ctx, filepath.Join(d.dir, "node")); err != nil {
		return err
	}
	d.defer_(d.n.Stop)
	fmt.Fprintf(out, "    node %s Ready in %s; images built here and imported into containerd\n", node.Name, d.n.Started.Round(100*time.Millisecond))

	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	d.step("kubectl apply -k manifests/overlays/local (with the images built here)")
	applied := time.Now()
	res, err := d.n.Kubectl(ctx, "apply", "-k", filepath.Join(root, "test/node/overlays/local"))
	if err != nil {
		return err
	}
	d.indent(res)
	if _, err := d.n.WaitPods(ctx, demoNamespace, "app.kubernetes.io/name=factom-bridge", 2, 6*time.Minute, node.PodReady); err != nil {
		return err
	}
	if _, err := d.n.WaitPods(ctx, demoNamespace, "app.kubernetes.io/name=factom-wallet", 3, 6*time.Minute, node.PodReady); err != nil {
		return err
	}
	leader, err := d.leader(ctx, "", time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    every pod Ready %s after apply; %s is the writable leader\n", time.Since(applied).Round(time.Second), leader)
	d.getPods(ctx)

	svc, err := d.serviceURL(ctx, "factom-wallet")
	if err != nil {
		return err
	}
	d.step("Writing through the factom-wallet Service (%s: kube-proxy sends it to the pod labelled leader)", strings.TrimSuffix(strings.TrimPrefix(svc, "http://"), "/v2"))
	api := walletd.New(jsonrpc.New(svc, jsonrpc.Options{Timeout: 30 * time.Second}))
	acked, err := d.writeAddresses(ctx, api)
	if err != nil {
		return err
	}

	bridgeURL, err := d.serviceURL(ctx, "factom-bridge")
	if err != nil {
		return err
	}
	d.step("Writing an audit log: entries composed through factom-wallet, committed and revealed through factom-bridge")
	audit, err := startAuditLog(ctx, out, svc, bridgeURL)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "    it keeps writing through everything that follows")

	d.step("kubectl delete pod %s (the leader)", leader)
	deleted := time.Now()
	if _, err := d.n.Kubectl(ctx, "-n", demoNamespace, "delete", "pod", leader, "--wait=false"); err != nil {
		return err
	}
	var first walletd.Key
	err = testenv.Eventually(2*time.Minute, 100*time.Millisecond, func() (bool, error) {
		k, err := walletd.New(jsonrpc.New(svc, jsonrpc.Options{Timeout: 5 * time.Second})).GenerateECAddress(ctx)
		first = k
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("no write acknowledged through the Service after the leader was deleted: %w", err)
	}
	next, err := d.leader(ctx, leader, time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s is the writable leader; first write acknowledged through the Service %.1fs after the delete: %s\n", next, time.Since(deleted).Seconds(), first.Public)
	if err := d.holdsAll(ctx, svc, acked); err != nil {
		return err
	}
	fmt.Fprintf(out, "    the new leader holds all %d acknowledged addresses\n", len(acked))
	fmt.Fprintf(out, "    $ kubectl -n %s logs %s -c sidecar | grep failover\n", demoNamespace, next)
	logs, err := d.n.Kubectl(ctx, "-n", demoNamespace, "logs", next, "-c", "sidecar")
	if err != nil {
		return err
	}
	for _, l := range eventLines(logs, deleted, "leader_elected", "keystore_promoted", "failover_complete") {
		fmt.Fprintf(out, "      %s\n", l)
	}
	fmt.Fprintf(out, "    $ kubectl -n %s get events --field-selector involvedObject.kind=Pod\n", demoNamespace)
	d.podEvents(ctx, deleted)
	if _, err := d.n.WaitPods(ctx, demoNamespace, "app.kubernetes.io/name=factom-wallet", 3, 4*time.Minute, node.PodReady); err != nil {
		return err
	}
	fmt.Fprintf(out, "    the StatefulSet recreated %s; it rejoined as a follower in sync\n", leader)
	d.getPods(ctx)

	if err := d.freeze(ctx); err != nil {
		return err
	}
	d.getPods(ctx)

	d.step("Stopping the audit log and reading its chain back from factomd")
	if err := audit.finish(ctx); err != nil {
		return err
	}

	if once {
		d.step("Done (--once)")
		return nil
	}
	d.step("Live status (as kubectl get pods -w); press Ctrl-C to stop everything")
	return live(ctx, newLiveTable(out, "POD", "ROLE", "TERM", "READY", "REASON", "RESTARTS", "KEYSTORE GEN"), func() [][]string { return d.rows(ctx) })
}

// freeze stops factomd inside factom-bridge-1 until its sidecar marks the
// pod unready and it leaves the Service, then lets it catch up.
func (d *nodeDemo) freeze(ctx context.Context) error {
	pod := "factom-bridge-1"
	d.step("Freezing factomd in %s (SIGSTOP of its process) until its sidecar marks it unready", pod)
	frozen := time.Now()
	if _, err := d.n.SignalContainer(ctx, demoNamespace, pod, "factomd", syscall.SIGSTOP); err != nil {
		return err
	}
	err := testenv.Eventually(2*time.Minute, 200*time.Millisecond, func() (bool, error) {
		p, err := d.n.Client.CoreV1().Pods(demoNamespace).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return !node.PodReady(p), errors.New("still Ready")
	})
	if err != nil {
		_, _ = d.n.SignalContainer(ctx, demoNamespace, pod, "factomd", syscall.SIGCONT)
		return err
	}
	_, body := getJSON("http://" + d.podAddr(ctx, pod) + "/readyz")
	fmt.Fprintf(d.out, "    %s NotReady %.1fs after the freeze (reason %s); the factom-bridge Service sends nothing to it\n", pod, time.Since(frozen).Seconds(), str(body["reason"]))
	if _, err := d.n.SignalContainer(ctx, demoNamespace, pod, "factomd", syscall.SIGCONT); err != nil {
		return err
	}
	resumed := time.Now()
	if _, err := d.n.WaitPods(ctx, demoNamespace, "app.kubernetes.io/name=factom-bridge", 2, 3*time.Minute, node.PodReady); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "    unfrozen, it caught up and was Ready again %.1fs later\n", time.Since(resumed).Seconds())
	return nil
}

func (d *nodeDemo) indent(text string) {
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		fmt.Fprintf(d.out, "    %s\n", l)
	}
}

// getPods prints what `kubectl get pods -L factom.io/role` prints.
func (d *nodeDemo) getPods(ctx context.Context) {
	fmt.Fprintf(d.out, "    $ kubectl -n %s get pods -L factom.io/role\n", demoNamespace)
	out, err := d.n.Kubectl(ctx, "-n", demoNamespace, "get", "pods", "-L", "factom.io/role")
	if err != nil {
		fmt.Fprintf(d.out, "    %v\n", err)
		return
	}
	d.indent(out)
}

// leader waits for one pod labelled leader other than not.
func (d *nodeDemo) leader(ctx context.Context, not string, timeout time.Duration) (string, error) {
	var name string
	err := testenv.Eventually(timeout, 100*time.Millisecond, func() (bool, error) {
		list, err := d.n.Client.CoreV1().Pods(demoNamespace).List(ctx, metav1.ListOptions{LabelSelector: "factom.io/role=leader"})
		if err != nil {
			return false, err
		}
		if len(list.Items) != 1 || list.Items[0].Name == not {
			return false, fmt.Errorf("%d pods labelled leader", len(list.Items))
		}
		name = list.Items[0].Name
		return true, nil
	})
	return name, err
}

func (d *nodeDemo) serviceURL(ctx context.Context, name string) (string, error) {
	svc, err := d.n.Client.CoreV1().Services(demoNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return "http://" + net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port))) + "/v2", nil
}

// podAddr is the pod's sidecar address (pod IP, port 8099).
func (d *nodeDemo) podAddr(ctx context.Context, pod string) string {
	p, err := d.n.Client.CoreV1().Pods(demoNamespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil || p.Status.PodIP == "" {
		return "0.0.0.0:0"
	}
	return net.JoinHostPort(p.Status.PodIP, "8099")
}

// holdsAll checks that the leader behind url holds every key. Like any
// client it retries while the Service still points at a pod on its way out.
func (d *nodeDemo) holdsAll(ctx context.Context, url string, keys []string) error {
	var raw json.RawMessage
	err := testenv.Eventually(time.Minute, 200*time.Millisecond, func() (bool, error) {
		var err error
		raw, err = jsonrpc.New(url, jsonrpc.Options{Timeout: 10 * time.Second}).CallRaw(ctx, "all-addresses", nil)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	var all struct {
		Addresses []struct {
			Public string `json:"public"`
		} `json:"addresses"`
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		return err
	}
	held := map[string]bool{}
	for _, a := range all.Addresses {
		held[a.Public] = true
	}
	for _, k := range keys {
		if !held[k] {
			return fmt.Errorf("the new leader lacks acknowledged address %s", k)
		}
	}
	return nil
}

// podEvents prints the sidecars' Events since t, as kubectl get events.
func (d *nodeDemo) podEvents(ctx context.Context, since time.Time) {
	evs, err := d.n.Client.CoreV1().Events(demoNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"})
	if err != nil {
		return
	}
	for _, e := range evs.Items {
		at := e.LastTimestamp.Time
		if at.IsZero() {
			at = e.EventTime.Time
		}
		if at.Before(since.Add(-time.Second)) || e.Source.Component == "kubelet" || e.ReportingController == "kubelet" || e.Reason == "Scheduled" {
			continue
		}
		fmt.Fprintf(d.out, "      %-7s %-16s pod/%-16s %s\n", e.Type, e.Reason, e.InvolvedObject.Name, e.Message)
	}
}

// rows is one row per pod for the live table.
func (d *nodeDemo) rows(ctx context.Context) [][]string {
	list, err := d.n.Client.CoreV1().Pods(demoNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return [][]string{{"(" + err.Error() + ")"}}
	}
	var rows [][]string
	for _, p := range list.Items {
		restarts := 0
		for _, cs := range p.Status.ContainerStatuses {
			restarts += int(cs.RestartCount)
		}
		role, term, gen, reason := "factomd", "-", "-", ""
		if p.Labels["app.kubernetes.io/name"] == "factom-wallet" {
			role = p.Labels["factom.io/role"]
		}
		if p.Status.PodIP != "" {
			code, status := getJSON("http://" + net.JoinHostPort(p.Status.PodIP, "8099") + "/status")
			if code == http.StatusOK {
				election, _ := status["election"].(map[string]any)
				keystore, _ := status["keystore"].(map[string]any)
				if election != nil {
					term, gen = num(election["term"]), num(keystore["appliedGeneration"])
				}
			}
			if code, body := getJSON("http://" + net.JoinHostPort(p.Status.PodIP, "8099") + "/readyz"); code != http.StatusOK {
				reason = str(body["reason"])
			}
		}
		rows = append(rows, []string{p.Name, role, term, yesNo(node.PodReady(&p)), reason, strconv.Itoa(restarts), gen})
	}
	return rows
}

// syncWriter serialises writes from the demo's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
