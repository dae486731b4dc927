package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// TestAdmissionPolicyOnTheNode installs the local overlay under the
// own-pod admission policy (manifests/components/admission-policy): the
// sidecars still label themselves, through a failover too, and the token
// the kubelet mounts into a wallet pod (bound to that pod) can change
// neither another pod nor any label of its own pod but factom.io/role.
func TestAdmissionPolicyOnTheNode(t *testing.T) {
	n := needNode(t)
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(root, "manifests/components/admission-policy/policy.yaml")
	if out, err := n.Kubectl(ctx, "apply", "-f", policy); err != nil {
		t.Fatalf("kubectl apply the policy: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = n.Kubectl(context.Background(), "delete", "-f", policy, "--ignore-not-found") })
	if out, err := n.Kubectl(ctx, "apply", "-k", filepath.Join(root, "test/node/overlays/local")); err != nil {
		t.Fatalf("kubectl apply -k: %v\n%s", err, out)
	}
	d := &deployment{node: n, ns: "factom-local"}
	t.Cleanup(func() { d.remove(t) })
	if !t.Run("the sidecars label themselves under the policy", func(t *testing.T) { d.waitWalletConverged(t, 6*time.Minute) }) ||
		!t.Run("a failover relabels under the policy", d.leaderPodDeleted) {
		t.Logf("%s", n.PodProblems(ctx, d.ns))
		return
	}

	leader := d.waitWalletConverged(t, time.Minute)
	pods, err := n.Client.CoreV1().Pods(d.ns).List(ctx, metav1.ListOptions{LabelSelector: walletSelector})
	if err != nil {
		t.Fatal(err)
	}
	var own, other string
	var ownUID types.UID
	for _, p := range pods.Items {
		switch {
		case p.Name != leader && own == "":
			own, ownUID = p.Name, p.UID
		case p.Name != leader && p.Name != own:
			other = p.Name
		}
	}
	sidecar := mountedTokenClient(t, n, ownUID)
	patch := func(pod, body string) error {
		// Strategic merge: a container list is merged by name, not replaced.
		_, err := sidecar.CoreV1().Pods(d.ns).Patch(ctx, pod, types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{})
		return err
	}
	if err := patch(own, `{"metadata":{"labels":{"factom.io/role":"follower"}}}`); err != nil {
		t.Fatalf("the mounted token could not set its own pod's role label: %v", err)
	}
	for name, c := range map[string]struct{ pod, body string }{
		"another pod's role label":     {other, `{"metadata":{"labels":{"factom.io/role":"follower"}}}`},
		"the leader's role label":      {leader, `{"metadata":{"labels":{"factom.io/role":"follower"}}}`},
		"another label of its own pod": {own, `{"metadata":{"labels":{"app.kubernetes.io/name":"other"}}}`},
		"an annotation of its own pod": {own, `{"metadata":{"annotations":{"note":"x"}}}`},
		"its own pod's walletd image":  {own, `{"spec":{"containers":[{"name":"walletd","image":"registry.invalid/other:1"}]}}`},
	} {
		if err := patch(c.pod, c.body); err == nil || !strings.Contains(err.Error(), "factom-sidecar service account may") {
			t.Errorf("%s: want the policy's refusal, got %v", name, err)
		}
	}
}

// mountedTokenClient is a client with the service-account token the
// kubelet projected into the pod with uid (read from the kubelet's
// volume directory on this host): the sidecar's own credentials.
func mountedTokenClient(t *testing.T, n *Node, uid types.UID) kubernetes.Interface {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(n.dir, "kubelet", "pods", string(uid), "volumes", "kubernetes.io~projected", "*", "token"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no projected token for pod %s: %v", uid, err)
	}
	token, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	cfg := n.Kube.AdminConfig()
	cfg.BearerToken = strings.TrimSpace(string(token))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(fmt.Errorf("token client: %w", err))
	}
	return cs
}
