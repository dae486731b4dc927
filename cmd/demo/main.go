// Command demo runs the whole system on one machine. By default it starts a
// real single-node Kubernetes cluster (test/node), applies the shipped local
// overlay with kubectl, writes keys through the leader Service, writes an
// audit log through the Services, deletes the leader pod and shows the
// failover in kubectl logs and Events, freezes a factomd pod until it
// leaves its Service, and reads the audit log's chain back. Where that node cannot run (no
// root, no containerd) it says why and runs the same system as processes
// posing as pods: a real API server and etcd, a two-node factomd LOCAL
// network with a sidecar next to each node, and three walletd replicas.
// Ctrl-C stops everything; --once runs to the end unattended.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/node"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func main() {
	once := flag.Bool("once", false, "run every step once and exit (no live table at the end)")
	keep := flag.Bool("keep", false, "keep the work directory (logs, wallets) after exit")
	mode := flag.String("mode", "auto", "node (a real single-node cluster), process (processes posing as pods), or auto (node where it can run)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runMode := run
	switch *mode {
	case "node":
		runMode = runNode
	case "process":
	case "auto":
		if err := node.Available(); err != nil {
			fmt.Printf("demo: the real node cannot start here (%v); running the processes as pods instead\n", err)
		} else {
			runMode = runNode
		}
	default:
		fmt.Fprintf(os.Stderr, "demo: --mode %q: want node, process or auto\n", *mode)
		os.Exit(2)
	}
	if err := runMode(ctx, os.Stdout, *once, *keep); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type demo struct {
	out      io.Writer
	dir      string
	kube     *testenv.Kube
	nodes    []*testenv.Factomd
	bridges  []*bridge
	cluster  *testenv.Cluster
	started  time.Time
	stopFunc []func()
}

// bridge is one factom-bridge pod: factomd and its sidecar.
type bridge struct {
	name    string
	node    *testenv.Factomd
	sidecar *testenv.Process
	listen  string
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n==> [%5.1fs] %s\n", time.Since(d.started).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) defer_(f func()) { d.stopFunc = append(d.stopFunc, f) }

// writeAddresses writes three EC and three factoid addresses and returns
// the acknowledged ones.
func (d *demo) writeAddresses(ctx context.Context, api *walletd.Client) ([]string, error) {
	var acked []string
	for i := 0; i < 3; i++ {
		for _, gen := range []func(context.Context) (walletd.Key, error){api.GenerateECAddress, api.GenerateFactoidAddress} {
			k, err := gen(ctx)
			if err != nil {
				return acked, err
			}
			acked = append(acked, k.Public)
			fmt.Fprintf(d.out, "    acknowledged %s\n", k.Public)
		}
	}
	return acked, nil
}

// finish runs the deferred stops in reverse and removes the work directory
// unless keep.
func (d *demo) finish(what string, keep bool) {
	d.step("%s", what)
	for i := len(d.stopFunc) - 1; i >= 0; i-- {
		d.stopFunc[i]()
	}
	if keep {
		fmt.Fprintf(d.out, "    logs and state kept in %s\n", d.dir)
	} else {
		os.RemoveAll(d.dir)
	}
	fmt.Fprintln(d.out, "    all stopped")
}

func run(ctx context.Context, out io.Writer, once, keep bool) error {
	d := &demo{out: out, started: time.Now()}
	var err error
	if d.dir, err = os.MkdirTemp("", "factom-sidecar-demo-"); err != nil {
		return err
	}
	defer d.finish("Stopping every process", keep)

	d.step("Building the sidecar")
	sidecar, err := testenv.BuildSidecarBinary(d.dir)
	if err != nil {
		return err
	}

	d.step("Starting a real kube-apiserver and etcd on loopback")
	if d.kube, err = testenv.StartKube(filepath.Join(d.dir, "kube")); err != nil {
		return err
	}
	d.defer_(d.kube.Stop)
	fmt.Fprintf(out, "    API server at %s; the sidecars use only the RBAC of manifests/base/rbac.yaml\n", d.kube.Host())

	if err := d.startFactom(ctx, sidecar); err != nil {
		return err
	}

	d.step("Starting 3 walletd replicas (factom-wallet-0..2), each with walletd-init and a sidecar")
	d.cluster, err = testenv.StartCluster(ctx, d.kube, testenv.ClusterOptions{
		Dir: filepath.Join(d.dir, "wallet"), Sidecar: sidecar, Factomd: strings.TrimPrefix(d.nodes[0].URL(), "http://"),
	})
	if err != nil {
		return err
	}
	d.defer_(d.cluster.Stop)
	leader, err := d.cluster.Leader(60 * time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s is the writable leader; the others follow the keystore Secret\n", leader.Name)
	d.table()

	d.step("Writing through the leader's proxy (what the factom-wallet Service selects)")
	api := walletd.New(jsonrpc.New(leader.ProxyURL(), jsonrpc.Options{Timeout: 30 * time.Second}))
	acked, err := d.writeAddresses(ctx, api)
	if err != nil {
		return err
	}
	if err := d.waitAllHold(ctx, acked); err != nil {
		return err
	}
	fmt.Fprintln(out, "    every replica's walletd holds all of them")
	d.table()

	d.step("Killing the leader %s (SIGKILL of its sidecar and walletd)", leader.Name)
	killedAt := time.Now()
	leader.Kill()
	next, err := d.cluster.Leader(60 * time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s became the writable leader %.1fs after the kill\n", next.Name, time.Since(killedAt).Seconds())
	d.events(killedAt)
	k, err := walletd.New(jsonrpc.New(next.ProxyURL(), jsonrpc.Options{Timeout: 30 * time.Second})).GenerateECAddress(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    the new leader holds all %d acknowledged addresses; its next one is new: %s\n", len(acked), k.Public)

	d.step("Restarting %s: it rejoins as a follower", leader.Name)
	if err := leader.Start(ctx); err != nil {
		return err
	}
	if err := d.waitAllHold(ctx, append(acked, k.Public)); err != nil {
		return err
	}
	d.table()

	if err := d.lagDemo(ctx); err != nil {
		return err
	}

	if once {
		d.step("Done (--once)")
		return nil
	}
	d.step("Live status; press Ctrl-C to stop everything")
	return live(ctx, newLiveTable(out, tableHeader...), d.rows)
}

// live redraws the table every 2 s until ctx ends.
func live(ctx context.Context, t *liveTable, rows func() [][]string) error {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	t.Show(rows())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.Show(rows())
		}
	}
}

// startFactom starts two factomd nodes (node 1 syncs from node 0) and a
// sidecar in factomd mode next to each, each using the other as reference.
func (d *demo) startFactom(ctx context.Context, sidecar string) error {
	d.step("Starting a two-node factomd LOCAL network (a block every 3 s)")
	dir := filepath.Join(d.dir, "factom")
	n0, err := testenv.StartFactomd("factom-bridge-0", testenv.FactomdOptions{Dir: dir, BlockTime: 3})
	if err != nil {
		return err
	}
	d.defer_(func() { n0.Stop(5 * time.Second) })
	d.nodes = append(d.nodes, n0)
	if err := n0.WaitHeight(4, 2*time.Minute); err != nil {
		return err
	}
	n1, err := testenv.StartFactomd("factom-bridge-1", testenv.FactomdOptions{Dir: dir, BlockTime: 3, Peer: n0.NetworkAddr()})
	if err != nil {
		return err
	}
	d.defer_(func() { n1.Stop(5 * time.Second) })
	d.nodes = append(d.nodes, n1)
	for i, n := range d.nodes {
		other := d.nodes[1-i]
		port, err := testenv.FreePort()
		if err != nil {
			return err
		}
		b := &bridge{name: "factom-bridge-" + strconv.Itoa(i), node: n, listen: "127.0.0.1:" + strconv.Itoa(port)}
		b.sidecar, err = testenv.Start(b.name+"-sidecar", sidecar, []string{"factomd",
			"--listen", b.listen, "--factomd-url", n.URL(), "--reference-url", other.URL(),
			"--max-lag", "2", "--poll-interval", "1s", "--poll-timeout", "800ms", "--stale-after", "5s",
			"--max-block-age", "30s", "--stall-window", "2m", "--unresponsive-window", "1m",
		}, nil, filepath.Join(dir, b.name+"-sidecar.log"))
		if err != nil {
			return err
		}
		d.defer_(func() { b.sidecar.Stop(5 * time.Second) })
		d.bridges = append(d.bridges, b)
	}
	fmt.Fprintln(d.out, "    factom-bridge-1 starts at height 0 and syncs from factom-bridge-0; its sidecar says why it is not ready yet")
	d.table()
	return d.waitReady(ctx, d.bridges[1], true, 3*time.Minute)
}

// lagDemo pauses factomd on node 1 until it is several blocks behind, then
// lets it catch up: readiness follows, liveness never fails.
func (d *demo) lagDemo(ctx context.Context) error {
	b := d.bridges[1]
	d.step("Pausing factomd on %s (SIGSTOP): it falls behind the network", b.name)
	if err := b.node.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	if err := d.waitReady(ctx, b, false, 2*time.Minute); err != nil {
		_ = b.node.Signal(syscall.SIGCONT)
		return err
	}
	d.table()
	d.step("Resuming it (SIGCONT): it catches up and becomes ready again")
	if err := b.node.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	if err := d.waitReady(ctx, b, true, 2*time.Minute); err != nil {
		return err
	}
	d.table()
	fmt.Fprintf(d.out, "    readiness changes in %s's log:\n", b.name)
	for _, line := range eventLines(b.sidecar.Logs(), d.started, "readiness_changed") {
		fmt.Fprintln(d.out, "     ", line)
	}
	return nil
}

func (d *demo) waitReady(ctx context.Context, b *bridge, want bool, timeout time.Duration) error {
	err := testenv.Eventually(timeout, 500*time.Millisecond, func() (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		code, _ := getJSON("http://" + b.listen + "/readyz")
		return (code == http.StatusOK) == want, nil
	})
	if err != nil {
		return fmt.Errorf("%s ready=%v: %w", b.name, want, err)
	}
	return nil
}

func (d *demo) waitAllHold(ctx context.Context, keys []string) error {
	return testenv.Eventually(60*time.Second, 200*time.Millisecond, func() (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		for _, p := range d.cluster.Pods {
			if p.Sidecar.Exited() {
				continue
			}
			addrs, err := walletd.New(jsonrpc.New(p.Walletd.URL(), jsonrpc.Options{Timeout: 5 * time.Second})).AllAddresses(ctx)
			if err != nil {
				return false, err
			}
			have := map[string]bool{}
			for _, a := range addrs {
				have[a.Public] = true
			}
			for _, k := range keys {
				if !have[k] {
					return false, fmt.Errorf("%s does not hold %s yet", p.Name, k)
				}
			}
		}
		return true, nil
	})
}

var tableHeader = []string{"POD", "ROLE", "TERM", "HEIGHT", "NETWORK", "LAG", "READY", "LIVE", "KEYSTORE GEN"}

// table prints the status table once.
func (d *demo) table() {
	for _, l := range render(tableHeader, d.rows()) {
		fmt.Fprintln(d.out, "    "+l)
	}
}

// rows has one row per pod from each sidecar's /status and probes.
func (d *demo) rows() [][]string {
	var rows [][]string
	for _, b := range d.bridges {
		readyCode, ready := getJSON("http://" + b.listen + "/readyz")
		liveCode, _ := getJSON("http://" + b.listen + "/livez")
		reason := str(ready["reason"])
		readyText := yesNo(readyCode == http.StatusOK)
		if readyCode != http.StatusOK && reason != "" {
			readyText += " (" + reason + ")"
		}
		rows = append(rows, []string{b.name, "factomd", "-", num(ready["localHeight"]), num(ready["networkHeight"]), num(ready["lag"]), readyText, yesNo(liveCode == http.StatusOK), "-"})
	}
	if d.cluster != nil {
		for _, p := range d.cluster.Pods {
			if p.Sidecar == nil || p.Sidecar.Exited() {
				rows = append(rows, []string{p.Name, "(down)", "", "", "", "", "", "", ""})
				continue
			}
			_, status, _ := p.Get("/status")
			readyCode, _ := getJSON("http://" + p.Listen + "/readyz")
			liveCode, _ := getJSON("http://" + p.Listen + "/livez")
			election, _ := status["election"].(map[string]any)
			keystore, _ := status["keystore"].(map[string]any)
			role := str(election["role"])
			if election["writable"] == true {
				role += " (writable)"
			}
			rows = append(rows, []string{p.Name, role, num(election["term"]), "-", "-", "-", yesNo(readyCode == http.StatusOK), yesNo(liveCode == http.StatusOK), num(keystore["appliedGeneration"])})
		}
	}
	return rows
}

// events prints the transition log lines every walletd sidecar wrote since t.
func (d *demo) events(since time.Time) {
	fmt.Fprintln(d.out, "    what the sidecars logged (kubectl logs ... -c sidecar):")
	for _, p := range d.cluster.Pods {
		for _, line := range eventLines(p.Sidecar.Logs(), since, "leader_elected", "leader_lost", "failover_complete", "leader_observed", "promotion_failed", "keystore_promoted") {
			fmt.Fprintf(d.out, "      %s: %s\n", p.Name, line)
		}
	}
}

// eventLines returns compact renderings of the JSON log lines whose event is
// one of names and whose time is after since.
func eventLines(logs string, since time.Time, names ...string) []string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil || !want[str(rec["event"])] {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, str(rec["time"])); err != nil || t.Before(since) {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%-18s", rec["event"])
		for _, k := range []string{"term", "from", "to", "tookMs", "reason", "localHeight", "networkHeight", "lag"} {
			if v, ok := rec[k]; ok && str(v) != "" {
				fmt.Fprintf(&b, " %s=%s", k, num(v))
			}
		}
		out = append(out, b.String())
	}
	return out
}

func getJSON(url string) (int, map[string]any) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
	return resp.StatusCode, body
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func num(v any) string {
	switch n := v.(type) {
	case nil:
		return "-"
	case float64:
		if n == float64(int64(n)) {
			return strconv.FormatInt(int64(n), 10)
		}
		return strconv.FormatFloat(n, 'f', 1, 64)
	default:
		return str(v)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
