package kubeevents

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// Logs are read after Flush returned: every line was written before the
// Events it reports were marked done, so plain builders are race-free.

// tick is a clock that advances 1 ms a call, so every Event has its own
// timestamp and name.
func tick() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

func pod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "factom-wallet-0", Namespace: "factom", UID: "uid-0"}}
}

// start runs s until the test ends.
func start(t *testing.T, s *Sink) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func flush(t *testing.T, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Flush(ctx)
	if ctx.Err() != nil {
		t.Fatal("Flush did not return before its deadline")
	}
}

func listed(t *testing.T, cs kubernetes.Interface) []corev1.Event {
	t.Helper()
	l, err := cs.CoreV1().Events("factom").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].FirstTimestamp.Before(&l.Items[j].FirstTimestamp) })
	return l.Items
}

// Two failovers within minutes are two LeaderElected Events, each with its
// own message, in the order they happened: what client-go's tools/events
// would fold into one series keeping the first message.
func TestEveryEventIsWrittenInOrderWithItsOwnMessage(t *testing.T) {
	cs := fake.NewClientset(pod())
	s := New(cs, "factom", "factom-wallet-0", Options{Now: tick(), Log: zerolog.Nop()})
	s.Emit(corev1.EventTypeNormal, "LeaderElected", "became the writable walletd leader with term %d", 1)
	s.Emit(corev1.EventTypeNormal, "LeaderLost", "term %d ended: %s", 1, "lease lost")
	s.Emit(corev1.EventTypeNormal, "LeaderElected", "became the writable walletd leader with term %d", 2)
	start(t, s)
	flush(t, s)

	evs := listed(t, cs)
	var got []string
	for _, e := range evs {
		got = append(got, e.Type+" "+e.Reason+": "+e.Message)
		if e.InvolvedObject.Name != "factom-wallet-0" || e.InvolvedObject.UID != "uid-0" || e.InvolvedObject.Kind != "Pod" || e.Count != 1 ||
			e.Source.Component != "factom-sidecar" || e.ReportingController != "factom.io/sidecar" || e.ReportingInstance != "factom-wallet-0" {
			t.Errorf("event %s: %+v", e.Name, e)
		}
	}
	want := []string{
		"Normal LeaderElected: became the writable walletd leader with term 1",
		"Normal LeaderLost: term 1 ended: lease lost",
		"Normal LeaderElected: became the writable walletd leader with term 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	gets := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "pods" {
			gets++
		}
	}
	if gets != 1 {
		t.Fatalf("the pod was read %d times, want once for its UID", gets)
	}
}

func TestAnEventIsWrittenWithoutUIDWhenThePodCannotBeRead(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "factom-wallet-0", nil)
	})
	s := New(cs, "factom", "factom-wallet-0", Options{Now: tick(), Log: zerolog.Nop()})
	start(t, s)
	s.Emit(corev1.EventTypeWarning, "KeystoreFenced", "keystore write under term %d refused", 3)
	flush(t, s)
	evs := listed(t, cs)
	if len(evs) != 1 || evs[0].InvolvedObject.UID != "" || evs[0].Type != corev1.EventTypeWarning || evs[0].Message != "keystore write under term 3 refused" {
		t.Fatalf("events = %+v", evs)
	}
}

func TestAFullQueueDropsTheEventWithoutBlocking(t *testing.T) {
	logs := &strings.Builder{} // written before the Flush that the test waits for
	cs := fake.NewClientset(pod())
	s := New(cs, "factom", "factom-wallet-0", Options{QueueSize: 2, Now: tick(), Log: zerolog.New(logs)})
	for i := range 3 {
		s.Emit(corev1.EventTypeNormal, "LeaderElected", "term %d", i+1) // Run is not running: nothing drains
	}
	if !strings.Contains(logs.String(), `"event":"kube_event_dropped"`) || !strings.Contains(logs.String(), `"reason":"LeaderElected"`) {
		t.Fatalf("no drop logged: %s", logs.String())
	}
	start(t, s)
	flush(t, s)
	if evs := listed(t, cs); len(evs) != 2 || evs[0].Message != "term 1" || evs[1].Message != "term 2" {
		t.Fatalf("events = %+v, want the first two", evs)
	}
}

func TestFlushGivesUpAtItsDeadline(t *testing.T) {
	logs := &strings.Builder{} // written before the Flush that the test waits for
	s := New(fake.NewClientset(pod()), "factom", "factom-wallet-0", Options{Now: tick(), Log: zerolog.New(logs)})
	s.Emit(corev1.EventTypeNormal, "LeaseReleased", "released") // never written: Run is not running
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Flush(ctx)
	if !strings.Contains(logs.String(), `"event":"kube_events_unflushed"`) {
		t.Fatalf("unflushed Events not logged: %s", logs.String())
	}
}

// An API server that does not answer one write costs that write its
// timeout; the next Event is still written.
func TestAnUnansweredWriteTimesOutAndTheNextIsWritten(t *testing.T) {
	var mu sync.Mutex
	var created []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_ = json.NewEncoder(w).Encode(pod())
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev corev1.Event
		_ = json.Unmarshal(body, &ev)
		if ev.Reason == "LeaderLost" {
			<-r.Context().Done() // never answered: the sink's timeout ends the request
			return
		}
		mu.Lock()
		created = append(created, ev.Message)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, QPS: 1000, Burst: 1000, ContentConfig: rest.ContentConfig{ContentType: "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{} // written before the Flush that the test waits for
	s := New(cs, "factom", "factom-wallet-0", Options{Timeout: 2 * time.Second, Now: tick(), Log: zerolog.New(logs)})
	start(t, s)
	s.Emit(corev1.EventTypeNormal, "LeaderLost", "term 1 ended")
	s.Emit(corev1.EventTypeNormal, "LeaseReleased", "released the lease at the end of term 1")
	flush(t, s)
	mu.Lock()
	defer mu.Unlock()
	if len(created) != 1 || created[0] != "released the lease at the end of term 1" {
		t.Fatalf("created %q, want only the second Event; logs:\n%s", created, logs.String())
	}
	if !strings.Contains(logs.String(), `"event":"kube_event_failed","reason":"LeaderLost"`) || strings.Contains(logs.String(), "LeaseReleased") {
		t.Fatalf("want exactly the unanswered write logged as failed: %s", logs.String())
	}
}
