package faults

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
)

// Router plays the factom-wallet Service: it lists the Pods labelled
// factom.io/role=leader through the admin client and sends clients to one
// of them. Like kube-proxy, it keeps its last endpoints while the API
// server cannot be reached, so a stale label keeps attracting traffic.
type Router struct {
	cs        kubernetes.Interface
	namespace string

	mu        sync.Mutex
	endpoints []string          // labelled pods
	urls      map[string]string // pod → proxy URL (changes when a sidecar restarts)
}

// NewRouter routes to pods of namespace.
func NewRouter(cs kubernetes.Interface, namespace string) *Router {
	return &Router{cs: cs, namespace: namespace, urls: map[string]string{}}
}

// SetURL records where pod's proxy listens.
func (r *Router) SetURL(pod, url string) {
	r.mu.Lock()
	r.urls[pod] = url
	r.mu.Unlock()
}

// Run refreshes the endpoints every interval until ctx ends.
func (r *Router) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Router) refresh(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pods, err := r.cs.CoreV1().Pods(r.namespace).List(lctx, metav1.ListOptions{LabelSelector: leader.RoleLabel + "=leader"})
	if err != nil {
		return // keep the last endpoints, as kube-proxy does
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	r.mu.Lock()
	r.endpoints = names
	r.mu.Unlock()
}

// HasEndpoint reports whether some pod carries the leader label.
func (r *Router) HasEndpoint() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.endpoints) > 0
}

// Pick returns one labelled pod and its proxy URL.
func (r *Router) Pick(rng *rand.Rand) (pod, url string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.endpoints) == 0 {
		return "", "", false
	}
	pod = r.endpoints[rng.IntN(len(r.endpoints))]
	url, ok = r.urls[pod]
	return pod, url, ok
}
