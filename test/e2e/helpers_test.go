package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func resetKeystore(t *testing.T) {
	t.Helper()
	cs, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := testenv.KubeTestNamespace
	_ = cs.CoreV1().Secrets(ns).Delete(ctx, "factom-wallet-keystore", metav1.DeleteOptions{})
	_ = cs.CoordinationV1().Leases(ns).Delete(ctx, "factom-walletd-leader", metav1.DeleteOptions{})
}

// viaProxy is a walletd client that talks to a pod's sidecar proxy, as an
// application behind the factom-wallet Service does.
func viaProxy(p *testenv.WalletPod) *walletd.Client {
	return walletd.New(jsonrpc.New(p.ProxyURL(), jsonrpc.Options{Timeout: 30 * time.Second}))
}

// direct talks to a pod's walletd itself, to check what it holds.
func direct(p *testenv.WalletPod) *walletd.Client {
	user, password := p.Walletd.Credentials()
	return walletd.New(jsonrpc.New(p.Walletd.URL(), jsonrpc.Options{Timeout: 30 * time.Second, User: user, Password: password, TLS: p.Walletd.ClientTLS()}))
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// publicKeys is every public address and identity key walletd holds.
func publicKeys(t *testing.T, c *walletd.Client) []string {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	addrs, err := c.AllAddresses(ctx)
	if err != nil {
		t.Fatalf("all-addresses: %v", err)
	}
	ids, err := c.AllIdentityKeys(ctx)
	if err != nil {
		t.Fatalf("all-identity-keys: %v", err)
	}
	var out []string
	for _, k := range append(addrs, ids...) {
		out = append(out, k.Public)
	}
	sort.Strings(out)
	return out
}

func contains(keys []string, k string) bool {
	i := sort.SearchStrings(keys, k)
	return i < len(keys) && keys[i] == k
}

// waitReplicated waits until every running pod's walletd holds exactly the
// keys the leader's walletd holds.
func waitReplicated(t *testing.T, c *testenv.Cluster, leader *testenv.WalletPod) []string {
	t.Helper()
	want := publicKeys(t, direct(leader))
	for _, p := range c.Pods {
		if p == leader || p.Sidecar.Exited() {
			continue
		}
		err := testenv.Eventually(60*time.Second, 100*time.Millisecond, func() (bool, error) {
			got := publicKeys(t, direct(p))
			if strings.Join(got, ",") != strings.Join(want, ",") {
				return false, fmt.Errorf("%s holds %d keys, the leader %d", p.Name, len(got), len(want))
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// secrets collects every secret a test saw, to check none leaks.
type secrets struct {
	mu   sync.Mutex
	vals map[string]bool
}

func (s *secrets) add(vals ...walletd.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string]bool{}
	}
	for _, v := range vals {
		if v != "" {
			s.vals[v.Reveal()] = true
			// Each word of a seed is common English; the phrase is the secret.
		}
	}
}

func (s *secrets) addKeys(keys ...walletd.Key) {
	for _, k := range keys {
		s.add(k.Secret)
	}
}

func (s *secrets) addBackup(t *testing.T, c *walletd.Client) {
	t.Helper()
	b, err := c.WalletBackup(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("wallet-backup: %v", err)
	}
	s.add(b.Seed)
	s.addKeys(b.Addresses...)
	s.addKeys(b.IdentityKeys...)
}

func (s *secrets) check(t *testing.T, what, text string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.vals {
		if strings.Contains(text, v) {
			t.Errorf("a secret appears in %s", what)
			return
		}
	}
}

// checkNoLeaks looks for every collected secret in every sidecar's logs,
// metrics, probe and status bodies, and the namespace's Events.
func (s *secrets) checkNoLeaks(t *testing.T, c *testenv.Cluster) {
	t.Helper()
	if len(s.vals) == 0 {
		t.Fatal("no secrets collected: the leak check would prove nothing")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, p := range c.Pods {
		s.check(t, p.Name+" sidecar log", p.Sidecar.Logs())
		if p.Sidecar.Exited() {
			continue
		}
		for _, path := range []string{"/metrics", "/status", "/readyz", "/livez", "/startupz", "/leader"} {
			resp, err := client.Get("http://" + p.Listen + path)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			s.check(t, p.Name+" "+path, string(body))
		}
	}
	cs, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	events, err := cs.CoreV1().Events(c.Namespace).List(ctxT(t, 10*time.Second), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		s.check(t, "Event "+e.Reason, e.Message)
	}
}

// crashLeader kills leader, waits for the next one and checks that its
// walletd holds every acknowledged key; it returns the new leader and the
// keys its walletd holds.
func crashLeader(t *testing.T, c *testenv.Cluster, leader *testenv.WalletPod, acked []string) (*testenv.WalletPod, []string) {
	t.Helper()
	leader.Kill()
	next, err := c.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatal("the killed pod is still the leader")
	}
	held := publicKeys(t, direct(next))
	for _, k := range acked {
		if !contains(held, k) {
			t.Fatalf("the new leader %s lost acknowledged key %s", next.Name, k)
		}
	}
	return next, held
}

// handedOut records the addresses clients received, to prove none is
// handed out twice.
type handedOut struct {
	issued map[string]bool
	acked  []string
	seen   *secrets
}

// generate asks p's proxy for n EC addresses, each one new.
func (h *handedOut) generate(t *testing.T, ctx context.Context, p *testenv.WalletPod, n int) {
	t.Helper()
	if h.issued == nil {
		h.issued = map[string]bool{}
	}
	api := viaProxy(p)
	for range n {
		k, err := api.GenerateECAddress(ctx)
		if err != nil {
			t.Fatalf("generate-ec-address via %s: %v", p.Name, err)
		}
		if h.issued[k.Public] {
			t.Fatalf("%s handed out twice", k.Public)
		}
		h.issued[k.Public] = true
		h.acked = append(h.acked, k.Public)
		h.seen.addKeys(k)
	}
}
