package kubemetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
)

func TestRequestsThroughClientGoAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets("ns").Get(context.Background(), "missing", metav1.GetOptions{}); err == nil {
		t.Fatal("want the 404 as an error")
	}
	u, _ := url.Parse(srv.URL)
	if got := testutil.ToFloat64(requests.WithLabelValues("404", "GET", u.Host)); got != 1 {
		t.Errorf("rest_client_requests_total{code=404,method=GET} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(requestDuration, "rest_client_request_duration_seconds"); n == 0 {
		t.Error("no rest_client_request_duration_seconds series after a request")
	}
	// The names dashboards know are in the registry.
	if n, err := testutil.GatherAndCount(reg, "rest_client_requests_total", "rest_client_request_duration_seconds"); err != nil || n < 2 {
		t.Errorf("registry holds %d series of the two request metrics (%v), want both", n, err)
	}
}

func TestLeaderElectionStatusFollowsOnAndOff(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	var mp leaderelection.MetricsProvider = provider{}
	m := mp.NewLeaderMetric()
	m.On("lease-a")
	if got := testutil.ToFloat64(masterStatus.WithLabelValues("lease-a")); got != 1 {
		t.Fatalf("after On: %v, want 1", got)
	}
	m.Off("lease-a")
	if got := testutil.ToFloat64(masterStatus.WithLabelValues("lease-a")); got != 0 {
		t.Fatalf("after Off: %v, want 0", got)
	}
}

func TestRegisterTwiceIntoOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg); err == nil || !strings.Contains(err.Error(), "client-go metrics") {
		t.Fatalf("second Register into the same registry: %v, want a duplicate error", err)
	}
}
