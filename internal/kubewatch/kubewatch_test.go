package kubewatch

import (
	"context"
	"errors"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// The real API server is exercised by the election's and the keystore's
// integration tests; these drive the event cases it does not produce on
// demand (410 Gone, an error event, an object of another name).

func secret(name, rv string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}}
}

func source(get *corev1.Secret, w *watch.FakeWatcher, gotOpts *metav1.ListOptions) Source[*corev1.Secret] {
	return Source[*corev1.Secret]{
		Name: "ks",
		Get: func(context.Context) (*corev1.Secret, bool, error) {
			return get, get != nil, nil
		},
		Watch: func(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			*gotOpts = opts
			return w, nil
		},
	}
}

func TestOnceDeliversGetThenChanges(t *testing.T) {
	w := watch.NewFakeWithChanSize(8, false)
	w.Add(secret("ks", "11"))
	w.Modify(secret("other", "12")) // not ours: ignored
	w.Delete(secret("ks", "13"))
	w.Stop() // the server closing the watch
	var opts metav1.ListOptions
	var seen []string
	err := Once(context.Background(), source(secret("ks", "10"), w, &opts), 300, func(s *corev1.Secret) {
		if s == nil {
			seen = append(seen, "absent")
			return
		}
		seen = append(seen, s.ResourceVersion)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10", "11", "absent"}; len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Fatalf("observed %v, want %v", seen, want)
	}
	if opts.ResourceVersion != "10" || opts.FieldSelector != "metadata.name=ks" || opts.TimeoutSeconds == nil || *opts.TimeoutSeconds != 300 {
		t.Fatalf("watch options %+v", opts)
	}
}

func TestOnceMissingObjectWatchesFromNow(t *testing.T) {
	w := watch.NewFakeWithChanSize(1, false)
	w.Stop()
	var opts metav1.ListOptions
	absent := 0
	if err := Once(context.Background(), source(nil, w, &opts), 60, func(s *corev1.Secret) {
		if s == nil {
			absent++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if absent != 1 || opts.ResourceVersion != "" {
		t.Fatalf("absent reported %d times, watch from %q", absent, opts.ResourceVersion)
	}
}

func TestOnceGoneMeansStartAgainOtherErrorsAreReturned(t *testing.T) {
	gone := watch.NewFakeWithChanSize(1, false)
	gone.Error(&apierrors.NewResourceExpired("too old").ErrStatus)
	var opts metav1.ListOptions
	if err := Once(context.Background(), source(secret("ks", "1"), gone, &opts), 60, func(*corev1.Secret) {}); err != nil {
		t.Fatalf("410 Gone: %v, want nil (start again with a get)", err)
	}

	failed := watch.NewFakeWithChanSize(1, false)
	failed.Error(&apierrors.NewForbidden(corev1.Resource("secrets"), "ks", errors.New("no")).ErrStatus)
	err := Once(context.Background(), source(secret("ks", "1"), failed, &opts), 60, func(*corev1.Secret) {})
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Code != http.StatusForbidden {
		t.Fatalf("error event: %v, want the 403 status", err)
	}
}

func TestOnceReturnsGetErrors(t *testing.T) {
	boom := errors.New("connection refused")
	src := Source[*corev1.Secret]{
		Name: "ks",
		Get:  func(context.Context) (*corev1.Secret, bool, error) { return nil, false, boom },
		Watch: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			t.Fatal("watched after a failed get")
			return nil, nil
		},
	}
	if err := Once(context.Background(), src, 60, func(*corev1.Secret) { t.Fatal("observed after a failed get") }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
