package walletsync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// The sidecar's one Event sink, on the real API server with only the
// shipped Role: two incidents of the same kind on one pod within a second
// are two Events, each with its own message, tied to the pod's UID.
func TestEachIncidentIsItsOwnEventOnThePod(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the API server")
	}
	pod := testPods[2]
	var logs strings.Builder // read after Flush: every line was written before it returned
	sink := kubeevents.New(userClient(t), testenv.KubeTestNamespace, pod, kubeevents.Options{Log: zerolog.New(&logs)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sink.Run(ctx) }()
	defer func() { cancel(); <-done }()

	reason := "KeystoreFencedSinkTest"
	sink.Emit(corev1.EventTypeWarning, reason, "keystore write under term %d refused", 3)
	sink.Emit(corev1.EventTypeWarning, reason, "keystore write under term %d refused", 4)
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	sink.Flush(fctx)
	if fctx.Err() != nil || strings.Contains(logs.String(), "kube_event") {
		t.Fatalf("Events not written: %s", logs.String())
	}

	admin := adminClient(t)
	p, err := admin.CoreV1().Pods(testenv.KubeTestNamespace).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := admin.CoreV1().Events(testenv.KubeTestNamespace).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod + ",reason=" + reason})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range evs.Items {
		if e.InvolvedObject.UID != p.UID || e.Type != corev1.EventTypeWarning || e.Count != 1 {
			t.Errorf("event %s: uid %q (pod %q), type %s, count %d", e.Name, e.InvolvedObject.UID, p.UID, e.Type, e.Count)
		}
		got[e.Message] = true
	}
	if len(evs.Items) != 2 || !got["keystore write under term 3 refused"] || !got["keystore write under term 4 refused"] {
		t.Fatalf("events %v, want one per incident", got)
	}
}
