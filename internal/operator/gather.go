package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

// Names are the objects of one deployment (the manifests' defaults).
type Names struct {
	Lease          string
	KeystoreSecret string
	WalletSelector string
	BridgeSelector string
	// SidecarContainer and SidecarPort find a pod's sidecar: the container
	// of that name and its port of that name (else its first port, else
	// DefaultSidecarPort).
	SidecarContainer string
	SidecarPort      string
}

// DefaultNames are the names the shipped manifests use.
var DefaultNames = Names{
	Lease:            "factom-walletd-leader",
	KeystoreSecret:   "factom-wallet-keystore",
	WalletSelector:   "app.kubernetes.io/name=factom-wallet",
	BridgeSelector:   "app.kubernetes.io/name=factom-bridge",
	SidecarContainer: "sidecar",
	SidecarPort:      "sidecar",
}

// DefaultSidecarPort is the sidecar's --listen port in the manifests.
const DefaultSidecarPort = 8099

// Client reads a deployment's state from the API server.
type Client struct {
	Kube      kubernetes.Interface
	Metadata  metadata.Interface
	Namespace string
	Names     Names
	// Timeout bounds each request (default 5 s).
	Timeout time.Duration
	Now     func() time.Time
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 5 * time.Second
	}
	return c.Timeout
}

func (c *Client) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Snapshot is everything status and history are built from.
type Snapshot struct {
	Namespace string
	Lease     LeaseState
	Keystore  KeystoreState
	Wallet    []PodState
	Bridge    []PodState
	History   []control.Transition
}

// LeaseState is the walletd leader Lease.
type LeaseState struct {
	Found        bool      `json:"found"`
	Holder       string    `json:"holder"`
	Term         int64     `json:"term"`
	RenewTime    time.Time `json:"renewTime,omitzero"`
	Paused       bool      `json:"paused"`
	SwitchoverTo string    `json:"switchoverTo,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// KeystoreState is the keystore Secret's annotations (never its data).
type KeystoreState struct {
	Found       bool   `json:"found"`
	Term        int64  `json:"term"`
	Generation  int64  `json:"generation"`
	CommittedAt string `json:"committedAt,omitempty"`
	Error       string `json:"error,omitempty"`
}

// PodState is a pod and its sidecar's /status.
type PodState struct {
	Pod   *corev1.Pod
	Port  int
	Body  map[string]any // decoded /status, nil on error
	Error string
}

// Gather reads the Lease, the keystore annotations, the pods and their
// sidecars' /status. Failures to reach one part are recorded in the
// snapshot, not returned: status shows what it could read.
func (c *Client) Gather(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{Namespace: c.Namespace}
	s.Lease = c.lease(ctx)
	s.Keystore, s.History = c.keystore(ctx)
	var err error
	if s.Wallet, err = c.pods(ctx, c.Names.WalletSelector); err != nil {
		return nil, err
	}
	if s.Bridge, err = c.pods(ctx, c.Names.BridgeSelector); err != nil {
		return nil, err
	}
	return s, nil
}

func (c *Client) lease(ctx context.Context) LeaseState {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	l, err := c.Kube.CoordinationV1().Leases(c.Namespace).Get(ctx, c.Names.Lease, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return LeaseState{}
	}
	if err != nil {
		return LeaseState{Error: fmt.Sprintf("lease %s: %v", c.Names.Lease, err)}
	}
	st := LeaseState{Found: true, Paused: control.Paused(l.Annotations), SwitchoverTo: control.SwitchoverTarget(l.Annotations, c.now())}
	if l.Spec.HolderIdentity != nil {
		st.Holder = *l.Spec.HolderIdentity
	}
	if l.Spec.LeaseTransitions != nil {
		st.Term = int64(*l.Spec.LeaseTransitions)
	}
	if l.Spec.RenewTime != nil {
		st.RenewTime = l.Spec.RenewTime.Time
	}
	return st
}

var secretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// keystore reads only the Secret's metadata: the sealed keystore is never
// fetched.
func (c *Client) keystore(ctx context.Context) (KeystoreState, []control.Transition) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	m, err := c.Metadata.Resource(secretsResource).Namespace(c.Namespace).Get(ctx, c.Names.KeystoreSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return KeystoreState{}, nil
	}
	if err != nil {
		return KeystoreState{Error: fmt.Sprintf("keystore secret %s: %v", c.Names.KeystoreSecret, err)}, nil
	}
	ann := m.Annotations
	st := KeystoreState{Found: true, CommittedAt: ann["factom.io/keystore-committed-at"]}
	st.Term, _ = strconv.ParseInt(ann["factom.io/keystore-term"], 10, 64)
	st.Generation, _ = strconv.ParseInt(ann["factom.io/keystore-generation"], 10, 64)
	h, err := control.ParseHistory(ann[control.AnnotationHistory])
	if err != nil {
		st.Error = err.Error()
	}
	return st, h
}

func (c *Client) pods(ctx context.Context, selector string) ([]PodState, error) {
	lctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	list, err := c.Kube.CoreV1().Pods(c.Namespace).List(lctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods %q: %w", selector, err)
	}
	out := make([]PodState, len(list.Items))
	var wg sync.WaitGroup
	for i := range list.Items {
		out[i] = PodState{Pod: &list.Items[i], Port: c.sidecarPort(&list.Items[i])}
		wg.Go(func() { c.status(ctx, &out[i]) })
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return podOrder(out[i].Pod.Name, out[j].Pod.Name) })
	return out, nil
}

// podOrder sorts StatefulSet pods by ordinal (factom-wallet-10 after -9).
func podOrder(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (c *Client) sidecarPort(p *corev1.Pod) int {
	for _, ct := range p.Spec.Containers {
		if ct.Name != c.Names.SidecarContainer {
			continue
		}
		for _, port := range ct.Ports {
			if port.Name == c.Names.SidecarPort {
				return int(port.ContainerPort)
			}
		}
		if len(ct.Ports) > 0 {
			return int(ct.Ports[0].ContainerPort)
		}
	}
	return DefaultSidecarPort
}

// status reads the sidecar's /status through the API server's pod proxy:
// no port-forward, and only the RBAC on pods/proxy.
func (c *Client) status(ctx context.Context, ps *PodState) {
	if ps.Pod.Status.PodIP == "" {
		ps.Error = "no pod IP"
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	// No scheme: the resource name RBAC sees is POD:PORT, which the
	// factom-operator Role names.
	raw, err := c.Kube.CoreV1().Pods(c.Namespace).ProxyGet("", ps.Pod.Name, strconv.Itoa(ps.Port), "/status", nil).DoRaw(ctx)
	if err != nil {
		ps.Error = fmt.Sprintf("sidecar /status: %v", shortErr(err))
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		ps.Error = fmt.Sprintf("sidecar /status: %v", err)
		return
	}
	ps.Body = body
}

// shortErr keeps an API error's message, not the proxied body dump.
func shortErr(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok {
		st := s.Status()
		if st.Message != "" {
			return st.Message
		}
		return fmt.Sprintf("HTTP %d %s", st.Code, st.Reason)
	}
	return err.Error()
}
