package operator

import (
	"fmt"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/control"
)

// Report is what `status` prints: one row per wallet and bridge pod, and
// the problems that make the exit code non-zero.
type Report struct {
	Namespace string        `json:"namespace"`
	Lease     LeaseState    `json:"lease"`
	Keystore  KeystoreState `json:"keystore"`
	Wallet    []WalletRow   `json:"wallet"`
	Bridge    []BridgeRow   `json:"bridge"`
	Problems  []string      `json:"problems"`
	Healthy   bool          `json:"healthy"`
	pods      []PodState    // the wallet pods, in Wallet's order
}

// WalletRow is one walletd replica.
type WalletRow struct {
	Pod               string `json:"pod"`
	Role              string `json:"role"`
	Term              int64  `json:"term"`
	Writable          bool   `json:"writable"`
	InSync            bool   `json:"inSync"`
	SyncMessage       string `json:"syncMessage,omitempty"`
	AppliedGeneration int64  `json:"appliedGeneration"`
	Walletd           string `json:"walletd"`
	WalletdOK         bool   `json:"walletdOk"`
	LastTransition    string `json:"lastTransition"`
	IP                string `json:"ip,omitempty"`
	Node              string `json:"node,omitempty"`
	Error             string `json:"error,omitempty"`
}

// BridgeRow is one factomd pod.
type BridgeRow struct {
	Pod           string `json:"pod"`
	Ready         bool   `json:"ready"`
	Reason        string `json:"reason"`
	LocalHeight   *int64 `json:"localHeight"`
	NetworkHeight *int64 `json:"networkHeight"`
	EntryHeight   *int64 `json:"entryHeight"`
	Lag           *int64 `json:"lag"`
	IP            string `json:"ip,omitempty"`
	Node          string `json:"node,omitempty"`
	Error         string `json:"error,omitempty"`
}

// BuildReport turns a snapshot into rows and judges health: unhealthy
// when there is no writable leader (or more than one), a follower is out
// of sync or its walletd is unhealthy, a sidecar cannot be read, or a
// bridge is not ready. A pause is shown, not counted as a problem.
func BuildReport(s *Snapshot, now time.Time) *Report {
	r := &Report{Namespace: s.Namespace, Lease: s.Lease, Keystore: s.Keystore, Wallet: []WalletRow{}, Bridge: []BridgeRow{}, Problems: []string{}, pods: s.Wallet}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	switch {
	case s.Lease.Error != "":
		problem("%s", s.Lease.Error)
	case !s.Lease.Found || s.Lease.Holder == "":
		problem("no leader: the Lease has no holder")
	}
	if s.Keystore.Error != "" {
		problem("%s", s.Keystore.Error)
	}
	writable := 0
	for _, ps := range s.Wallet {
		row := walletRow(ps, s.History, now)
		r.Wallet = append(r.Wallet, row)
		switch {
		case row.Error != "":
			problem("%s: %s", row.Pod, row.Error)
			continue
		case row.Writable:
			writable++
		case !row.InSync:
			problem("%s: follower out of sync (%s)", row.Pod, row.SyncMessage)
		}
		if !row.WalletdOK {
			problem("%s: walletd unhealthy (%s)", row.Pod, row.Walletd)
		}
	}
	switch {
	case writable == 0 && len(s.Wallet) > 0:
		problem("no writable leader")
	case writable > 1:
		problem("%d writable leaders", writable)
	}
	for _, ps := range s.Bridge {
		row := bridgeRow(ps)
		r.Bridge = append(r.Bridge, row)
		switch {
		case row.Error != "":
			problem("%s: %s", row.Pod, row.Error)
		case !row.Ready:
			problem("%s: bridge not ready (%s)", row.Pod, row.Reason)
		}
	}
	r.Healthy = len(r.Problems) == 0
	return r
}

func walletRow(ps PodState, history []control.Transition, now time.Time) WalletRow {
	row := WalletRow{Pod: ps.Pod.Name, Role: ps.Pod.Labels["factom.io/role"], IP: ps.Pod.Status.PodIP, Node: ps.Pod.Spec.NodeName, Error: ps.Error}
	row.LastTransition = lastTransition(ps.Pod.Name, history, now)
	if ps.Body == nil {
		if row.Role == "" {
			row.Role = "unknown"
		}
		return row
	}
	election := obj(ps.Body, "election")
	keystore := obj(ps.Body, "keystore")
	walletd := obj(ps.Body, "walletd")
	if role := str(keystore, "role"); role != "" {
		row.Role = role // leader, promoting, follower: the sidecar's own view
	}
	row.Term, _ = integer(election, "term")
	row.Writable, _ = election["writable"].(bool)
	row.InSync, _ = keystore["keystoreInSync"].(bool)
	row.SyncMessage = str(keystore, "keystoreSyncMessage")
	row.AppliedGeneration, _ = integer(keystore, "appliedGeneration")
	row.WalletdOK, _ = walletd["ready"].(bool)
	row.Walletd = str(walletd, "reason")
	if row.Walletd == "" {
		row.Walletd = "unknown"
	}
	return row
}

func bridgeRow(ps PodState) BridgeRow {
	row := BridgeRow{Pod: ps.Pod.Name, IP: ps.Pod.Status.PodIP, Node: ps.Pod.Spec.NodeName, Error: ps.Error}
	if ps.Body == nil {
		row.Reason = "unknown"
		return row
	}
	ready := obj(ps.Body, "ready")
	row.Ready, _ = ready["ready"].(bool)
	row.Reason = str(ready, "reason")
	local := obj(ps.Body, "local")
	if v, ok := integer(local, "height"); ok {
		row.LocalHeight = &v
	}
	if v, ok := integer(local, "entryHeight"); ok {
		row.EntryHeight = &v
	}
	if v, ok := integer(ps.Body, "networkHeight"); ok {
		row.NetworkHeight = &v
	}
	if v, ok := integer(ready, "lag"); ok {
		row.Lag = &v
	} else if row.LocalHeight != nil && row.NetworkHeight != nil {
		lag := *row.NetworkHeight - *row.LocalHeight
		row.Lag = &lag
	}
	return row
}

// lastTransition is the newest history entry that involves pod.
func lastTransition(pod string, history []control.Transition, now time.Time) string {
	for i := len(history) - 1; i >= 0; i-- {
		t := history[i]
		ago := now.Sub(t.Time).Round(time.Second)
		switch pod {
		case t.To:
			return fmt.Sprintf("leader since term %d, %s ago", t.Term, ago)
		case t.From:
			return fmt.Sprintf("follower since term %d (%s took over), %s ago", t.Term, t.To, ago)
		}
	}
	return "-"
}

func obj(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// integer reads a JSON number (decoded as float64) that is whole.
func integer(m map[string]any, key string) (int64, bool) {
	f, ok := m[key].(float64)
	if !ok || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}
