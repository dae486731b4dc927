package operator

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (o *options) rolloutCommand() *cobra.Command {
	var podTimeout time.Duration
	rollout := &cobra.Command{
		Use:   "rollout",
		Short: "Replace the walletd pods with one leadership change",
		Long: `Replace the walletd pods one at a time so that the leadership changes once:
every follower first (each waited for until Ready and in sync), then one
switchover to an updated, in-sync follower, then the old leader.

The wallet StatefulSet must use the OnDelete update strategy (the shipped
manifests do), so that changing its template (kubectl apply, helm upgrade,
kubectl set image) replaces no pod by itself; this command then replaces
them. A rollout that stopped half way is continued by running it again.`,
	}
	run := func(restart bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			opts := RolloutOptions{Restart: restart, PodTimeout: podTimeout}
			if o.output != OutputJSON && o.output != OutputYAML {
				opts.Progress = o.streams.ErrOut
			}
			res, err := c.Rollout(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if o.output == OutputJSON || o.output == OutputYAML {
				return PrintDocument(o.streams.Out, o.output, "Rollout", res)
			}
			replaced := "no pod"
			if len(res.Replaced) > 0 {
				replaced = strings.Join(res.Replaced, ", ")
			}
			handover := "the leader was already up to date"
			if res.SwitchoverTo != "" {
				handover = fmt.Sprintf("leadership moved once, %s → %s", res.SwitchoverFrom, res.SwitchoverTo)
			}
			fmt.Fprintf(o.streams.Out, "statefulset %s on revision %s: replaced %s; %s; lease transitions: %d; took %s\n",
				res.StatefulSet, res.Revision, replaced, handover, res.LeaseTransitions, res.Took.Round(time.Second))
			return nil
		}
	}
	restart := &cobra.Command{
		Use:   "restart",
		Short: "Restart every walletd pod (stamp the template, then roll)",
		Args:  cobra.NoArgs,
		RunE:  run(true),
	}
	update := &cobra.Command{
		Use:   "update",
		Short: "Replace the walletd pods not yet on the StatefulSet's current template",
		Args:  cobra.NoArgs,
		RunE:  run(false),
	}
	rollout.PersistentFlags().DurationVar(&podTimeout, "pod-timeout", 10*time.Minute, "how long to wait for each replaced pod to be Ready and in sync, and for the switchover")
	rollout.AddCommand(restart, update)
	return rollout
}
