package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

// ErrUnhealthy is status's answer for an unhealthy deployment (non-zero
// exit), after the tables are printed.
var ErrUnhealthy = errors.New("unhealthy")

// Streams are the command's output streams.
type Streams struct {
	Out, ErrOut io.Writer
}

// options are the flags every command shares.
type options struct {
	config  *genericclioptions.ConfigFlags
	output  string
	names   Names
	timeout time.Duration
	streams Streams
	now     func() time.Time
}

// NewCommand is `kubectl factom` with its subcommands.
func NewCommand(streams Streams) *cobra.Command {
	o := &options{config: genericclioptions.NewConfigFlags(true), names: DefaultNames, streams: streams, now: time.Now}
	root := &cobra.Command{
		Use:           "kubectl-factom",
		Short:         "Operate the Factom walletd and factomd StatefulSets run with factom-sidecar",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Help and usage say "kubectl factom", as kubectl runs it.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl factom"},
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.config.AddFlags(root.PersistentFlags())
	pf := root.PersistentFlags()
	pf.StringVarP(&o.output, "output", "o", OutputTable, "output format: table, wide, json or yaml")
	pf.StringVar(&o.names.Lease, "lease", o.names.Lease, "name of the walletd leader Lease")
	pf.StringVar(&o.names.KeystoreSecret, "keystore-secret", o.names.KeystoreSecret, "name of the keystore Secret (only its annotations are read)")
	pf.StringVar(&o.names.WalletSelector, "wallet-selector", o.names.WalletSelector, "label selector of the walletd pods")
	pf.StringVar(&o.names.BridgeSelector, "bridge-selector", o.names.BridgeSelector, "label selector of the factomd pods")
	pf.DurationVar(&o.timeout, "request-timeout-each", 5*time.Second, "timeout of each API request (a sidecar's /status included)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return ValidOutput(o.output) }
	root.AddCommand(o.statusCommand(), o.historyCommand(), o.rolloutCommand())
	for _, c := range o.controlCommands() {
		root.AddCommand(c)
	}
	return root
}

// client builds the API client for the flags' kubeconfig and namespace.
func (o *options) client() (*Client, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	cfg.UserAgent = "kubectl-factom"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{Kube: kube, Metadata: meta, Namespace: ns, Names: o.names, Timeout: o.timeout, Now: o.now}, nil
}

func (o *options) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the walletd replicas and the factomd bridge; exit 1 when unhealthy",
		Long: `Show one table for the walletd StatefulSet (role, term, writable, in sync,
applied keystore generation, walletd health, last transition) and one for the
factomd bridge (ready and why, local/network/entry heights, lag). Each
sidecar's /status is read through the API server's pod proxy.

Exits 1 when there is no writable leader, a follower is out of sync, a
walletd is unhealthy, a sidecar cannot be read or a bridge is not ready.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			r, err := c.Report(cmd.Context())
			if err != nil {
				return err
			}
			if err := o.printReport(r); err != nil {
				return err
			}
			if !r.Healthy {
				return fmt.Errorf("%w: %s", ErrUnhealthy, strings.Join(r.Problems, "; "))
			}
			return nil
		},
	}
}

// Report gathers and judges the deployment's state.
func (c *Client) Report(ctx context.Context) (*Report, error) {
	s, err := c.Gather(ctx)
	if err != nil {
		return nil, err
	}
	return BuildReport(s, c.now()), nil
}

func (o *options) printReport(r *Report) error {
	w := o.streams.Out
	if o.output == OutputJSON || o.output == OutputYAML {
		return PrintDocument(w, o.output, "Status", r)
	}
	fmt.Fprintln(w, Summary(r))
	fmt.Fprintln(w)
	return PrintTables(w, o.output == OutputWide, WalletTable(r), BridgeTable(r))
}
