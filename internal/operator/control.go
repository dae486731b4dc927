package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

// ErrRefused is a switchover the plugin would not start.
var ErrRefused = errors.New("switchover refused")

func (o *options) controlCommands() []*cobra.Command {
	pause := &cobra.Command{
		Use:   "pause",
		Short: "Hold failover: no replica takes the Lease, not even a crashed leader's",
		Long: `Hold failover (maintenance mode). The leader keeps renewing the Lease and
stays writable; no other replica takes the Lease, even when the leader dies.
Every sidecar reports factom_sidecar_failover_paused 1, which alerts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.setPaused(cmd.Context(), true) },
	}
	resume := &cobra.Command{
		Use:   "resume",
		Short: "End a pause: replicas take over an expired or released Lease again",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.setPaused(cmd.Context(), false) },
	}
	var to string
	var timeout time.Duration
	switchover := &cobra.Command{
		Use:   "switchover [--to POD]",
		Short: "Hand the walletd leadership to an in-sync follower and wait until it is writable",
		Long: `Hand the leadership over gracefully: the leader closes writes, finishes the
writes in flight and releases the Lease, and only the target takes it. The
target must be an in-sync follower with a healthy walletd; without --to the
follower with the highest applied keystore generation is chosen. Waits until
the target is the writable leader.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			res, err := c.Switchover(cmd.Context(), to, timeout)
			if err != nil {
				return err
			}
			if o.output == OutputJSON || o.output == OutputYAML {
				return PrintDocument(o.streams.Out, o.output, "Switchover", res)
			}
			fmt.Fprintf(o.streams.Out, "switched over from %s to %s: writable with term %d after %s\n", res.From, res.To, res.Term, res.Took.Round(time.Millisecond))
			return nil
		},
	}
	switchover.Flags().StringVar(&to, "to", "", "pod to hand the leadership to (default: the best in-sync follower)")
	switchover.Flags().DurationVar(&timeout, "timeout", control.SwitchoverTimeout, "how long to wait for the target to be writable")
	return []*cobra.Command{pause, resume, switchover}
}

func (o *options) setPaused(ctx context.Context, paused bool) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	if err := c.SetPaused(ctx, paused); err != nil {
		return err
	}
	word := "resumed"
	if paused {
		word = "paused"
	}
	fmt.Fprintf(o.streams.Out, "failover %s (lease %s/%s)\n", word, c.Namespace, c.Names.Lease)
	return nil
}

// annotateLease merge-patches the Lease's annotations (nil values remove).
// A patch, not an update: it never races the leader's renewals.
func (c *Client) annotateLease(ctx context.Context, ann map[string]any) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return fmt.Errorf("lease patch: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	_, err = c.Kube.CoordinationV1().Leases(c.Namespace).Patch(ctx, c.Names.Lease, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-factom"})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("lease %s/%s does not exist: no walletd sidecar has run yet", c.Namespace, c.Names.Lease)
	}
	if err != nil {
		return fmt.Errorf("annotate lease %s: %w", c.Names.Lease, err)
	}
	return nil
}

// SetPaused pauses or resumes failover.
func (c *Client) SetPaused(ctx context.Context, paused bool) error {
	var v any // nil removes the annotation
	if paused {
		v = "true"
	}
	return c.annotateLease(ctx, map[string]any{control.AnnotationPaused: v})
}

// SwitchoverResult is what a switchover did.
type SwitchoverResult struct {
	From string        `json:"from"`
	To   string        `json:"to"`
	Term int64         `json:"term"`
	Took time.Duration `json:"tookNs"`
}

// Switchover asks the leader to hand over to target (or the best in-sync
// follower) and waits until target is the writable leader.
func (c *Client) Switchover(ctx context.Context, target string, timeout time.Duration) (SwitchoverResult, error) {
	from, to, start, err := c.requestSwitchover(ctx, target)
	if err != nil {
		return SwitchoverResult{}, err
	}
	res := SwitchoverResult{From: from, To: to.Pod}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l := c.lease(ctx)
		if !l.Found || l.Holder != to.Pod {
			return false, nil
		}
		ps := PodState{Pod: to.pod, Port: to.port}
		c.status(ctx, &ps)
		row := walletRow(ps, nil, c.now())
		res.Term = row.Term
		return row.Writable, nil
	})
	res.Took = c.now().Sub(start)
	if err != nil {
		return res, fmt.Errorf("switchover to %s: not the writable leader after %s (kubectl factom status shows why): %w", to.Pod, timeout, err)
	}
	return res, nil
}

// RequestSwitchover checks the target (or picks the best in-sync
// follower) and asks the leader to hand over to it, without waiting. It
// returns the leader, the target and when the request was written.
func (c *Client) RequestSwitchover(ctx context.Context, target string) (from, to string, at time.Time, err error) {
	from, cand, at, err := c.requestSwitchover(ctx, target)
	return from, cand.Pod, at, err
}

func (c *Client) requestSwitchover(ctx context.Context, target string) (string, candidate, time.Time, error) {
	r, err := c.Report(ctx)
	if err != nil {
		return "", candidate{}, time.Time{}, err
	}
	from, to, err := chooseTarget(r, target)
	if err != nil {
		return "", candidate{}, time.Time{}, err
	}
	start := c.now()
	if err := c.annotateLease(ctx, map[string]any{
		control.AnnotationSwitchoverTo: to.Pod,
		control.AnnotationSwitchoverAt: start.UTC().Format(time.RFC3339Nano),
	}); err != nil {
		return "", candidate{}, time.Time{}, err
	}
	return from, to, start, nil
}

// candidate is a follower a switchover may hand over to.
type candidate struct {
	WalletRow
	pod  *corev1.Pod
	port int
}

// chooseTarget refuses a switchover whose target is not an in-sync
// follower with a healthy walletd, or when there is no writable leader to
// hand over from. In sync is the follower's own verdict: it applied the
// last keystore version it saw (under a write load it may be a generation
// behind the Secret; its promotion catches up before writes open).
func chooseTarget(r *Report, want string) (string, candidate, error) {
	if r.Lease.Paused {
		return "", candidate{}, fmt.Errorf("%w: failover is paused (kubectl factom resume first)", ErrRefused)
	}
	from := ""
	for _, w := range r.Wallet {
		if w.Writable && w.Pod == r.Lease.Holder {
			from = w.Pod
		}
	}
	if from == "" {
		return "", candidate{}, fmt.Errorf("%w: no writable leader to hand over from (lease holder %q)", ErrRefused, r.Lease.Holder)
	}
	var best *candidate
	for i, w := range r.Wallet {
		if want != "" && w.Pod != want {
			continue
		}
		reason := w.unfit()
		if w.Pod == from {
			reason = "it is already the leader"
		}
		if reason != "" {
			if want != "" {
				return "", candidate{}, fmt.Errorf("%w: %s: %s", ErrRefused, w.Pod, reason)
			}
			continue
		}
		if best == nil || w.AppliedGeneration > best.AppliedGeneration {
			best = &candidate{WalletRow: w, pod: r.pods[i].Pod, port: r.pods[i].Port}
		}
	}
	if best == nil {
		if want != "" {
			return "", candidate{}, fmt.Errorf("%w: no wallet pod %q", ErrRefused, want)
		}
		return "", candidate{}, fmt.Errorf("%w: no in-sync follower", ErrRefused)
	}
	return from, *best, nil
}

// unfit says why a replica is not fit to lead (a switchover's target, a
// rollout's next leader, the leader a rollout starts from), or "" when it
// is: its sidecar answered, its walletd is healthy and, unless it is the
// writable leader (whose sync verdict is its own), it is in sync.
func (w WalletRow) unfit() string {
	switch {
	case w.Error != "":
		return w.Error
	case !w.InSync && !w.Writable:
		return "it is not in sync: " + w.SyncMessage
	case !w.WalletdOK:
		return "its walletd is unhealthy: " + w.Walletd
	}
	return ""
}
