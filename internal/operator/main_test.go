package operator_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// The integration tests share one real API server, one walletd cluster
// (three walletd processes with their sidecars) and a bridge of two real
// factomd nodes with factomd-mode sidecars. Every sidecar listens on a
// non-loopback address of this host that its Pod object names, so the
// plugin reaches it through the API server's pod proxy, as in a cluster.
// The plugin runs as a built binary with the token of a ServiceAccount
// bound to the shipped factom-operator Role: what it needs beyond that
// Role fails here.

var env struct {
	kube       *testenv.Kube
	cluster    *testenv.Cluster
	node1      *testenv.Factomd
	node2      *testenv.Factomd
	peerLink   *testenv.TCPProxy // node 2's connection to node 1
	bridges    []*testenv.Process
	plugin     string
	kubeconfig string
	admin      kubernetes.Interface
	ports      map[string]int // pod → sidecar port
	operator   *rest.Config   // the factom-operator ServiceAccount's token
}

var setupErr error

const operatorSA = "factom-operator"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kubectl-factom-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupErr = setup(dir)
	code := m.Run()
	teardown()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestPlugin runs the steps in order on the shared cluster: the history,
// last, checks the transitions the steps before caused.
func TestPlugin(t *testing.T) {
	need(t)
	for _, step := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"the operator role reaches only the sidecar port", operatorRoleReachesOnlyTheSidecarPort},
		{"status on a healthy system", statusOnAHealthySystem},
		{"status shows a follower whose walletd stopped", statusShowsAFollowerWhoseWalletdStopped},
		{"status shows a stopped bridge node", statusShowsAStoppedBridgeNode},
		{"status shows a bridge node lagging behind the network", statusShowsALaggingBridgeNode},
		{"pause holds failover and resume hands it over", pauseHoldsFailoverAndResumeHandsItOver},
		{"switchover to a named pod during writes", switchoverToANamedPodDuringWrites},
		{"switchover to an out-of-sync replica is refused", switchoverToAnOutOfSyncReplicaIsRefused},
		{"rollout refuses pods no StatefulSet owns", rolloutRefusesPodsNoStatefulSetOwns},
		{"history outlives sidecar restarts", historyOutlivesSidecarRestarts},
	} {
		if !t.Run(step.name, step.run) {
			return // later steps assume the state the earlier ones leave
		}
	}
}

func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the real API server, factomd and walletd")
	}
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

func setup(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ip, err := testenv.ProxyableHostIP()
	if err != nil {
		return err
	}
	if env.kube, err = testenv.StartKube(filepath.Join(dir, "kube")); err != nil {
		return err
	}
	if env.admin, err = env.kube.Clientset(); err != nil {
		return err
	}
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		return err
	}
	if env.plugin, err = testenv.BuildCommand(dir, "kubectl-factom"); err != nil {
		return err
	}
	env.cluster, err = testenv.StartCluster(ctx, env.kube, testenv.ClusterOptions{Dir: filepath.Join(dir, "wallet"), Sidecar: sidecar, ListenHost: ip})
	if err != nil {
		return err
	}
	env.ports = map[string]int{}
	for _, p := range env.cluster.Pods {
		_, port, _ := net.SplitHostPort(p.Listen)
		env.ports[p.Name], _ = strconv.Atoi(port)
	}
	if err := startBridge(ctx, dir, sidecar, ip); err != nil {
		return err
	}
	return operatorKubeconfig(ctx, filepath.Join(dir, "operator.kubeconfig"))
}

// startBridge runs factomd node 1 and node 2 (a follower of node 1), each
// watched by a sidecar in factomd mode with the other as reference.
func startBridge(ctx context.Context, dir, sidecar, ip string) error {
	var err error
	if env.node1, err = testenv.StartFactomd("factomd-1", testenv.FactomdOptions{Dir: dir, BlockTime: 3}); err != nil {
		return err
	}
	// Node 2 syncs from node 1 through a link the tests can cut: node 2
	// then runs on, answering, and falls behind the network for real.
	if env.peerLink, err = testenv.StartTCPProxy(env.node1.NetworkAddr()); err != nil {
		return err
	}
	if env.node2, err = testenv.StartFactomd("factomd-2", testenv.FactomdOptions{Dir: dir, BlockTime: 3, Peer: env.peerLink.Addr()}); err != nil {
		return err
	}
	nodes := []*testenv.Factomd{env.node1, env.node2}
	for i, n := range nodes {
		port, err := testenv.FreePort()
		if err != nil {
			return err
		}
		name := "factom-bridge-" + strconv.Itoa(i)
		env.ports[name] = port
		if err := env.kube.CreateProxiedPod(ctx, env.cluster.Namespace, name, map[string]string{"app.kubernetes.io/name": "factom-bridge"}, ip, port); err != nil {
			return err
		}
		other := nodes[1-i]
		p, err := testenv.Start(name, sidecar, []string{"factomd",
			"--listen", ip + ":" + strconv.Itoa(port), "--factomd-url", n.URL(), "--reference-url", other.URL() + "/v2",
			"--max-lag", "2", "--poll-interval", "500ms", "--poll-timeout", "400ms", "--stale-after", "2s",
			"--max-block-age", "30s", "--log-format", "json",
		}, nil, filepath.Join(dir, name+".log"))
		if err != nil {
			return err
		}
		env.bridges = append(env.bridges, p)
	}
	return nil
}

// operatorKubeconfig binds the shipped factom-operator Role to a
// ServiceAccount and writes a kubeconfig with a token the API server
// issued for it.
func operatorKubeconfig(ctx context.Context, path string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	ns := env.cluster.Namespace
	// The shipped Role names each pod's sidecar port (8099); here every
	// sidecar has its own port on one host address.
	role, err := os.ReadFile(filepath.Join(root, "manifests/components/operator-rbac/operator-rbac.yaml"))
	if err != nil {
		return err
	}
	text := string(role)
	for name, port := range env.ports {
		text = strings.ReplaceAll(text, name+":8099", name+":"+strconv.Itoa(port))
	}
	rolePath := filepath.Join(filepath.Dir(path), "operator-rbac.yaml")
	if err := os.WriteFile(rolePath, []byte(text), 0o600); err != nil {
		return err
	}
	if err := env.kube.ApplyManifest(ctx, rolePath, ns); err != nil {
		return err
	}
	cfg, err := env.kube.RoleKubeconfig(ctx, path, ns, operatorSA, "factom-operator", time.Hour)
	if err != nil {
		return fmt.Errorf("operator kubeconfig: %w", err)
	}
	env.operator, env.kubeconfig = cfg, path
	return nil
}

func teardown() {
	if env.cluster != nil {
		env.cluster.Stop()
	}
	for _, p := range env.bridges {
		p.Stop(5 * time.Second)
	}
	for _, n := range []*testenv.Factomd{env.node2, env.node1} {
		if n != nil {
			n.Stop(10 * time.Second)
		}
	}
	if env.peerLink != nil {
		env.peerLink.Close()
	}
	if env.kube != nil {
		env.kube.Stop()
	}
}

// result is one run of the plugin binary.
type result struct {
	stdout, stderr string
	code           int
}

// run runs kubectl-factom with the operator's kubeconfig.
func run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.plugin, append([]string{"--kubeconfig", env.kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl-factom %v: %v", args, err)
	}
	return r
}

var metaGet = metav1.GetOptions{}
