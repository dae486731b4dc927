package leader_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// Short timings keep the tests quick; the benchmark measures the defaults.
const (
	testLease = 4 * time.Second
	testRenew = 3 * time.Second
	testRetry = 500 * time.Millisecond
	leaseName = leader.DefaultLeaseName
	ns        = testenv.KubeTestNamespace
)

var env struct {
	kube       *testenv.Kube
	admin      kubernetes.Interface
	dir        string
	sidecarBin string
	walletdBin string
	kubeconfig string
	root       string
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leader integration setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "leader-it-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	env.dir = dir
	if env.root, err = testenv.RepoRoot(); err != nil {
		return 0, err
	}
	if env.walletdBin, err = testenv.Binary("test-walletd"); err != nil {
		return 0, err
	}
	env.sidecarBin = filepath.Join(dir, "sidecar")
	build := exec.Command("go", "build", "-o", env.sidecarBin, "./cmd/sidecar")
	build.Dir = env.root
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build sidecar: %w: %s", err, out)
	}
	kube, err := testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		return 0, err
	}
	defer kube.Stop()
	env.kube = kube
	if env.admin, err = kube.Clientset(); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kube.CreateNamespace(ctx, ns); err != nil {
		return 0, err
	}
	// The sidecar's only rights are the shipped Role.
	if err := kube.ApplyManifest(ctx, filepath.Join(env.root, "manifests", "base", "rbac.yaml"), ns); err != nil {
		return 0, err
	}
	for _, name := range []string{"factom-wallet-0", "factom-wallet-1", "factom-wallet-2", "other-app"} {
		if _, err := kube.CreatePod(ctx, ns, name, map[string]string{"app.kubernetes.io/name": "factom-wallet"}); err != nil {
			return 0, err
		}
	}
	env.kubeconfig = filepath.Join(dir, "sidecar.kubeconfig")
	if err := kube.WriteKubeconfig(env.kubeconfig, testenv.Sidecar); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// replica is one walletd pod (walletd-init, test-walletd and the sidecar
// as local processes, from testenv's cluster harness).
type replica struct {
	t       *testing.T
	pod     *testenv.WalletPod
	name    string
	listen  string
	sidecar *testenv.Process
}

func (r *replica) sync() { r.listen, r.sidecar = r.pod.Listen, r.pod.Sidecar }

// restart starts the sidecar again, as the kubelet restarts a container.
func (r *replica) restart() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.pod.StartSidecar(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.sync()
}

// leaderAnswer is GET /leader.
type leaderAnswer struct {
	code   int
	Leader bool   `json:"leader"`
	Term   int64  `json:"term"`
	Holder string `json:"holder"`
	Role   string `json:"role"`
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func (r *replica) leader() (leaderAnswer, error) {
	var a leaderAnswer
	resp, err := httpClient.Get("http://" + r.listen + "/leader")
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("/leader body %q: %w", body, err)
	}
	a.code = resp.StatusCode
	return a, nil
}

func (r *replica) status() (leader.Status, error) {
	var s struct {
		Election leader.Status `json:"election"`
	}
	resp, err := httpClient.Get("http://" + r.listen + "/status")
	if err != nil {
		return s.Election, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s.Election, err
}

func (r *replica) probe(path string) int {
	resp, err := httpClient.Get("http://" + r.listen + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// cluster is three replicas sharing the Lease.
type cluster struct {
	t        *testing.T
	replicas []*replica
}

func newCluster(t *testing.T) *cluster { return startCluster(t, testenv.ClusterOptions{}, nil) }

// startCluster starts the pods with opts (directory, binary and timings
// filled in); cleanup runs after the pods have stopped.
func startCluster(t *testing.T, opts testenv.ClusterOptions, cleanup func()) *cluster {
	t.Helper()
	resetLease(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts.Dir, opts.Sidecar = t.TempDir(), env.sidecarBin
	opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = testLease, testRenew, testRetry
	tc, err := testenv.StartCluster(ctx, env.kube, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t}
	for _, p := range tc.Pods {
		r := &replica{t: t, pod: p, name: p.Name}
		r.sync()
		c.replicas = append(c.replicas, r)
	}
	t.Cleanup(func() {
		tc.Stop()
		if t.Failed() {
			for _, p := range tc.Pods {
				t.Logf("--- %s sidecar log (tail):\n%s", p.Name, tailLines(p.Sidecar.Logs(), 40))
			}
		}
		if cleanup != nil {
			cleanup()
		}
		resetLease(t)
	})
	return c
}

// resetLease deletes the Lease and the keystore Secret a previous test
// left behind.
func resetLease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := env.admin.CoordinationV1().Leases(ns).Delete(ctx, leaseName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	err = env.admin.CoreV1().Secrets(ns).Delete(ctx, "factom-wallet-keystore", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// writableLeader waits until exactly one running replica answers 200 on
// /leader with a term above minTerm, and checks that no two replicas ever
// answer 200 together while it waits.
func (c *cluster) writableLeader(minTerm int64, timeout time.Duration) (*replica, int64) {
	c.t.Helper()
	var found *replica
	var term int64
	err := testenv.Eventually(timeout, 50*time.Millisecond, func() (bool, error) {
		var writable []*replica
		var terms []int64
		for _, r := range c.replicas {
			if r.sidecar.Exited() {
				continue
			}
			a, err := r.leader()
			if err != nil {
				continue
			}
			if a.code == http.StatusOK {
				writable = append(writable, r)
				terms = append(terms, a.Term)
			}
		}
		if len(writable) > 1 {
			c.t.Fatalf("two writable leaders at once: %s (term %d) and %s (term %d)", writable[0].name, terms[0], writable[1].name, terms[1])
		}
		if len(writable) == 1 && terms[0] > minTerm {
			found, term = writable[0], terms[0]
			return true, nil
		}
		return false, fmt.Errorf("writable replicas: %d", len(writable))
	})
	if err != nil {
		c.t.Fatalf("no writable leader with term > %d: %v", minTerm, err)
	}
	return found, term
}

func getLease(t *testing.T) *coordinationv1.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := env.admin.CoordinationV1().Leases(ns).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func podRole(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := env.admin.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Labels[leader.RoleLabel]
}

// expectRoles waits until the leader's pod is labelled leader and every
// other running replica's pod follower.
func (c *cluster) expectRoles(lead *replica) {
	c.t.Helper()
	err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		for _, r := range c.replicas {
			want := leader.RoleFollower
			if r == lead {
				want = leader.RoleLeader
			}
			if got := podRole(c.t, r.name); got != want {
				return false, fmt.Errorf("pod %s labelled %q, want %q", r.name, got, want)
			}
		}
		return true, nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// expectEvent waits for an Event on pod with reason whose message has sub.
func expectEvent(t *testing.T, pod, reason, sub string) {
	t.Helper()
	err := testenv.Eventually(30*time.Second, 200*time.Millisecond, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		evs, err := env.admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod + ",reason=" + reason})
		if err != nil {
			return false, err
		}
		for _, ev := range evs.Items {
			if strings.Contains(ev.Message, sub) {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d %s events on %s, none with %q", len(evs.Items), reason, pod, sub)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// expectLog waits for a JSON log line of r with event and term.
func expectLog(t *testing.T, p *testenv.Process, event string, term int64) {
	t.Helper()
	err := testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		for _, line := range strings.Split(p.Logs(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			if m["event"] == event && m["term"] == float64(term) {
				return true, nil
			}
		}
		return false, fmt.Errorf("no %s log line with term %d", event, term)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
