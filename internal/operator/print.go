package operator

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
)

// Output formats of -o.
const (
	OutputTable = "table"
	OutputWide  = "wide"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

// GroupVersion names the plugin's JSON/YAML documents.
var GroupVersion = schema.GroupVersion{Group: "factom.io", Version: "v1alpha1"}

// ValidOutput checks a -o value.
func ValidOutput(o string) error {
	switch o {
	case OutputTable, OutputWide, OutputJSON, OutputYAML:
		return nil
	}
	return fmt.Errorf("-o %q: want table, wide, json or yaml", o)
}

// PrintDocument prints v as a JSON or YAML document of the given kind with
// cli-runtime's printers (the same output as kubectl's -o json|yaml).
func PrintDocument(w io.Writer, output, kind string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(GroupVersion.WithKind(kind))
	var p printers.ResourcePrinter = &printers.JSONPrinter{}
	if output == OutputYAML {
		p = &printers.YAMLPrinter{}
	}
	return p.PrintObj(u, w)
}

// PrintTables prints tables with cli-runtime's table printer; columns
// with priority 1 show only with -o wide.
func PrintTables(w io.Writer, wide bool, tables ...*metav1.Table) error {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printers.NewTablePrinter(printers.PrintOptions{Wide: wide}).PrintObj(t, w); err != nil {
			return fmt.Errorf("print table: %w", err)
		}
	}
	return nil
}

func column(name string, wideOnly bool) metav1.TableColumnDefinition {
	c := metav1.TableColumnDefinition{Name: name, Type: "string"}
	if wideOnly {
		c.Priority = 1
	}
	return c
}

// WalletTable is the wallet StatefulSet's table.
func WalletTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		column("Pod", false), column("Role", false), column("Term", false), column("Writable", false),
		column("In Sync", false), column("Applied Gen", false), column("Walletd", false), column("Last Transition", false),
		column("IP", true), column("Node", true), column("Error", true),
	}}
	for _, row := range r.Wallet {
		role := row.Role
		if r.Lease.Paused && row.Role == "leader" {
			role = "leader (paused)"
		}
		inSync := yesNo(row.InSync)
		if !row.InSync && row.SyncMessage != "" {
			inSync = "no: " + row.SyncMessage
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			row.Pod, role, strconv.FormatInt(row.Term, 10), yesNo(row.Writable), inSync,
			strconv.FormatInt(row.AppliedGeneration, 10), row.Walletd, row.LastTransition,
			dash(row.IP), dash(row.Node), dash(row.Error),
		}})
	}
	return t
}

// BridgeTable is the bridge StatefulSet's table.
func BridgeTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		column("Pod", false), column("Ready", false), column("Reason", false), column("Local", false),
		column("Network", false), column("Entry", false), column("Lag", false),
		column("IP", true), column("Node", true), column("Error", true),
	}}
	for _, row := range r.Bridge {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			row.Pod, yesNo(row.Ready), row.Reason, height(row.LocalHeight), height(row.NetworkHeight),
			height(row.EntryHeight), height(row.Lag), dash(row.IP), dash(row.Node), dash(row.Error),
		}})
	}
	return t
}

// Summary is the line above the tables: the Lease and the failover mode.
func Summary(r *Report) string {
	holder := r.Lease.Holder
	if holder == "" {
		holder = "none"
	}
	mode := "failover enabled"
	if r.Lease.Paused {
		mode = "failover PAUSED (kubectl factom resume)"
	}
	s := fmt.Sprintf("namespace %s: leader %s, term %d, keystore generation %d, %s", r.Namespace, holder, r.Lease.Term, r.Keystore.Generation, mode)
	if r.Lease.SwitchoverTo != "" {
		s += ", switchover to " + r.Lease.SwitchoverTo + " pending"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func height(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}
