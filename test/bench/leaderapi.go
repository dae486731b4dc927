package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func leaseTransitions(ctx context.Context, cs kubernetes.Interface, ns string) (int32, error) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := cs.CoordinationV1().Leases(ns).Get(c, leader.DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("lease: %w", err)
	}
	if l.Spec.LeaseTransitions == nil {
		return 0, nil
	}
	return *l.Spec.LeaseTransitions, nil
}

// auditCounts counts the API server's audit events by user agent (up to
// the first space) for requests received in [from, to).
func auditCounts(path string, from, to time.Time) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			UserAgent string    `json:"userAgent"`
			Received  time.Time `json:"requestReceivedTimestamp"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Received.Before(from) || !ev.Received.Before(to) {
			continue
		}
		ua, _, _ := strings.Cut(ev.UserAgent, " ")
		counts[ua]++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return counts, nil
}

func deleteLeases(ctx context.Context, cs kubernetes.Interface, ns string) error {
	for _, name := range []string{leader.DefaultLeaseName, "baseline-leader"} {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := cs.CoordinationV1().Leases(ns).Delete(c, name, metav1.DeleteOptions{})
		cancel()
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete lease %s: %w", name, err)
		}
	}
	// A fresh keystore per cluster: walletd-init of the first pod creates it.
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cs.CoreV1().Secrets(ns).Delete(c, "factom-wallet-keystore", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete keystore secret: %w", err)
	}
	return nil
}

// requestCount is the API requests a member has sent: the sidecar's
// factom_sidecar_kube_requests_total (all clients), the baseline's /requests.
func requestCount(m *member) (float64, error) {
	if strings.HasPrefix(m.name, "baseline") {
		resp, err := benchHTTP.Get("http://" + m.listen + "/requests")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var v struct{ Requests int64 }
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return 0, err
		}
		return float64(v.Requests), nil
	}
	resp, err := benchHTTP.Get("http://" + m.listen + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "factom_sidecar_kube_requests_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, err
		}
		total += v
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return total, nil
}
