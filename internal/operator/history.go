package operator

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

// History is what `history` prints.
type History struct {
	Namespace   string               `json:"namespace"`
	Transitions []control.Transition `json:"transitions"`
}

func (o *options) historyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: fmt.Sprintf("List the last %d leader transitions, oldest first", control.HistoryLimit),
		Long: `List the last leader transitions (term, from, to, reason, time, time to
writable). Each new leader records its transition on the keystore Secret in the
same write that fences the keystore under its term, so the history outlives
sidecar restarts and Event expiry.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			ks, h := c.keystore(cmd.Context())
			if ks.Error != "" {
				return fmt.Errorf("history: %s", ks.Error)
			}
			doc := History{Namespace: c.Namespace, Transitions: h}
			if doc.Transitions == nil {
				doc.Transitions = []control.Transition{}
			}
			if o.output == OutputJSON || o.output == OutputYAML {
				return PrintDocument(o.streams.Out, o.output, "History", doc)
			}
			return PrintTables(o.streams.Out, o.output == OutputWide, HistoryTable(doc.Transitions, o.now()))
		},
	}
}

// HistoryTable lists transitions oldest first.
func HistoryTable(h []control.Transition, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		column("Term", false), column("From", false), column("To", false), column("Reason", false),
		column("Time", false), column("Age", false), column("Time To Writable", false),
	}}
	for _, e := range h {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			strconv.FormatInt(e.Term, 10), dash(e.From), e.To, e.Reason,
			e.Time.UTC().Format(time.RFC3339), now.Sub(e.Time).Round(time.Second).String(),
			(time.Duration(e.TookMs) * time.Millisecond).String(),
		}})
	}
	return t
}
