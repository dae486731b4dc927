package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// A rollout replaces the walletd pods one at a time so that leadership
// changes once: every follower first, then one switchover to an updated,
// in-sync follower, then the old leader. The StatefulSet must use the
// OnDelete update strategy (the shipped manifests do): with RollingUpdate
// the StatefulSet controller replaces pods itself, highest ordinal first,
// and when the leader is not the last pod it replaces, leadership moves
// to a pod the controller replaces next, which fails over again.

// ErrRolloutRefused is a rollout the plugin would not start or continue.
var ErrRolloutRefused = errors.New("rollout refused")

// RevisionLabel is the label the StatefulSet controller puts on each pod:
// the revision of the template the pod was made from.
const RevisionLabel = appsv1.ControllerRevisionHashLabelKey

// restartedAtAnnotation is what `kubectl rollout restart` stamps on the
// pod template; the plugin stamps the same.
const restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// RolloutOptions tune a rollout.
type RolloutOptions struct {
	// Restart stamps the pod template first, so every pod is replaced even
	// when the template did not change (`kubectl rollout restart`).
	Restart bool
	// PodTimeout bounds the wait for one replaced pod to be Ready and in
	// sync, and for one switchover.
	PodTimeout time.Duration
	// Progress, when set, gets one line per step.
	Progress io.Writer
}

// RolloutResult is what a rollout did.
type RolloutResult struct {
	StatefulSet string   `json:"statefulSet"`
	Revision    string   `json:"revision"`
	Replaced    []string `json:"replaced"`
	// Switchover is set when the leader was handed over ("from → to").
	SwitchoverFrom string `json:"switchoverFrom,omitempty"`
	SwitchoverTo   string `json:"switchoverTo,omitempty"`
	// LeaseTransitions is how many times the Lease changed hands during
	// the rollout (1 when the leader was replaced, 0 when it was already
	// up to date).
	LeaseTransitions int64         `json:"leaseTransitions"`
	Took             time.Duration `json:"tookNs"`
}

// Rollout replaces every walletd pod that is not on the StatefulSet's
// update revision, leadership changing at most once.
func (c *Client) Rollout(ctx context.Context, opts RolloutOptions) (RolloutResult, error) {
	if opts.PodTimeout <= 0 {
		opts.PodTimeout = 10 * time.Minute
	}
	start := c.now()
	r, err := c.Report(ctx)
	if err != nil {
		return RolloutResult{}, err
	}
	if err := rolloutReady(r); err != nil {
		return RolloutResult{}, err
	}
	sts, err := c.walletStatefulSet(ctx, r)
	if err != nil {
		return RolloutResult{}, err
	}
	if sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		return RolloutResult{}, fmt.Errorf("%w: statefulset %s uses the %s update strategy, so the StatefulSet controller replaces the pods itself and may fail over more than once; set spec.updateStrategy.type to OnDelete (the shipped manifests do)", ErrRolloutRefused, sts.Name, sts.Spec.UpdateStrategy.Type)
	}
	res := RolloutResult{StatefulSet: sts.Name}
	firstTerm := r.Lease.Term
	if opts.Restart {
		if sts, err = c.stampRestart(ctx, sts.Name); err != nil {
			return res, err
		}
	}
	if res.Revision, err = c.updateRevision(ctx, sts.Name, sts.Generation, opts.PodTimeout); err != nil {
		return res, err
	}
	c.progress(opts, "rolling %s onto revision %s", sts.Name, res.Revision)
	for {
		r, err := c.Report(ctx)
		if err != nil {
			return res, err
		}
		step, err := nextRolloutStep(r, res.Revision)
		if err != nil {
			return res, err
		}
		switch {
		case step.replace != "":
			c.progress(opts, "replacing %s", step.replace)
			if err := c.replacePod(ctx, step.replace, res.Revision, opts.PodTimeout); err != nil {
				return res, err
			}
			res.Replaced = append(res.Replaced, step.replace)
			c.progress(opts, "%s is Ready and in sync on revision %s", step.replace, res.Revision)
		case step.switchTo != "":
			c.progress(opts, "handing the leadership from %s to %s", r.Lease.Holder, step.switchTo)
			sw, err := c.Switchover(ctx, step.switchTo, opts.PodTimeout)
			if err != nil {
				return res, err
			}
			res.SwitchoverFrom, res.SwitchoverTo = sw.From, sw.To
			c.progress(opts, "%s is the writable leader (term %d) after %s", sw.To, sw.Term, sw.Took.Round(time.Millisecond))
		default:
			res.LeaseTransitions = r.Lease.Term - firstTerm
			res.Took = c.now().Sub(start)
			return res, nil
		}
	}
}

// rolloutReady refuses to start unless a leader is writable and every
// follower is in sync: a rollout takes one replica away at a time, and a
// follower that is behind is no place to hand the leadership to.
func rolloutReady(r *Report) error {
	if r.Lease.Paused {
		return fmt.Errorf("%w: failover is paused (kubectl factom resume first)", ErrRolloutRefused)
	}
	writable := false
	for _, w := range r.Wallet {
		if why := w.unfit(); why != "" {
			return fmt.Errorf("%w: %s: %s", ErrRolloutRefused, w.Pod, why)
		}
		writable = writable || w.Writable
	}
	if !writable {
		return fmt.Errorf("%w: no writable leader (lease holder %q)", ErrRolloutRefused, r.Lease.Holder)
	}
	return nil
}

// rolloutStep is the next thing a rollout does: replace a pod, hand the
// leadership over, or neither (done).
type rolloutStep struct {
	replace  string
	switchTo string
}

// nextRolloutStep picks, from the current state, the outdated follower
// with the highest ordinal; when only the leader is outdated, the updated
// in-sync follower with the highest applied generation to hand over to.
func nextRolloutStep(r *Report, revision string) (rolloutStep, error) {
	leader := r.Lease.Holder
	var outdated []string
	leaderOutdated := false
	for i, w := range r.Wallet {
		if r.pods[i].Pod.Labels[RevisionLabel] == revision {
			continue
		}
		if w.Pod == leader {
			leaderOutdated = true
			continue
		}
		outdated = append(outdated, w.Pod)
	}
	if len(outdated) > 0 {
		sort.Slice(outdated, func(i, j int) bool { return podOrder(outdated[j], outdated[i]) })
		return rolloutStep{replace: outdated[0]}, nil
	}
	if !leaderOutdated {
		return rolloutStep{}, nil
	}
	best := -1
	for i, w := range r.Wallet {
		if w.Pod == leader || r.pods[i].Pod.Labels[RevisionLabel] != revision || w.unfit() != "" {
			continue
		}
		if best < 0 || w.AppliedGeneration > r.Wallet[best].AppliedGeneration {
			best = i
		}
	}
	if best < 0 {
		return rolloutStep{}, fmt.Errorf("%w: no updated, in-sync follower to hand the leadership of %s to", ErrRolloutRefused, leader)
	}
	return rolloutStep{switchTo: r.Wallet[best].Pod}, nil
}

// walletStatefulSet is the StatefulSet that owns the wallet pods.
func (c *Client) walletStatefulSet(ctx context.Context, r *Report) (*appsv1.StatefulSet, error) {
	name := ""
	for _, ps := range r.pods {
		owner := metav1.GetControllerOf(ps.Pod)
		if owner == nil || owner.Kind != "StatefulSet" {
			return nil, fmt.Errorf("%w: pod %s is not owned by a StatefulSet", ErrRolloutRefused, ps.Pod.Name)
		}
		if name != "" && owner.Name != name {
			return nil, fmt.Errorf("%w: the wallet pods belong to two StatefulSets (%s, %s); narrow --wallet-selector", ErrRolloutRefused, name, owner.Name)
		}
		name = owner.Name
	}
	if name == "" {
		return nil, fmt.Errorf("%w: no wallet pods match %q", ErrRolloutRefused, c.Names.WalletSelector)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	sts, err := c.Kube.AppsV1().StatefulSets(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("statefulset %s: %w", name, err)
	}
	return sts, nil
}

// stampRestart sets the template's restartedAt annotation, as `kubectl
// rollout restart` does, so the StatefulSet gets a new update revision.
func (c *Client) stampRestart(ctx context.Context, name string) (*appsv1.StatefulSet, error) {
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartedAtAnnotation, c.now().UTC().Format(time.RFC3339))
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	sts, err := c.Kube.AppsV1().StatefulSets(c.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-factom"})
	if err != nil {
		return nil, fmt.Errorf("restart statefulset %s: %w", name, err)
	}
	return sts, nil
}

// updateRevision waits until the StatefulSet controller has seen
// generation and returns the revision new pods are made from.
func (c *Client) updateRevision(ctx context.Context, name string, generation int64, timeout time.Duration) (string, error) {
	var rev string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout())
		defer cancel()
		sts, err := c.Kube.AppsV1().StatefulSets(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // retried until the timeout
		}
		rev = sts.Status.UpdateRevision
		return sts.Status.ObservedGeneration >= generation && rev != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("statefulset %s: the controller did not publish an update revision for generation %d: %w", name, generation, err)
	}
	return rev, nil
}

// replacePod deletes the pod and waits until the StatefulSet controller
// has made it again from revision, it is Ready, and its sidecar says it
// is in sync with a healthy walletd.
func (c *Client) replacePod(ctx context.Context, pod, revision string, timeout time.Duration) error {
	old, err := c.podNamed(ctx, pod)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, c.timeout())
	err = c.Kube.CoreV1().Pods(c.Namespace).Delete(dctx, pod, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}})
	cancel()
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", pod, err)
	}
	why := "not yet replaced"
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, false, func(ctx context.Context) (bool, error) {
		r, err := c.Report(ctx)
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for i, w := range r.Wallet {
			p := r.pods[i].Pod
			if w.Pod != pod {
				continue
			}
			switch {
			case p.UID == old.UID:
				why = "the old pod is still terminating"
			case p.Labels[RevisionLabel] != revision:
				why = "made from revision " + p.Labels[RevisionLabel]
			case !podReady(p):
				why = "not Ready"
			case w.unfit() != "":
				why = w.unfit()
			default:
				return true, nil
			}
			return false, nil
		}
		why = "not yet recreated"
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("pod %s after %s: %s: %w", pod, timeout, why, err)
	}
	return nil
}

// podNamed reads one wallet pod by name (list, which the operator Role
// grants; it does not grant get).
func (c *Client) podNamed(ctx context.Context, name string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	list, err := c.Kube.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: c.Names.WalletSelector, FieldSelector: "metadata.name=" + name})
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("pod %s: not found", name)
	}
	return &list.Items[0], nil
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (c *Client) progress(opts RolloutOptions, format string, args ...any) {
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "%s "+format+"\n", append([]any{c.now().UTC().Format("15:04:05")}, args...)...)
	}
}
