package leader

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func fakeElector(t *testing.T, lease *coordinationv1.Lease) (*Elector, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(lease)
	e := &Elector{cfg: Config{PodFlags: podFlags("ns", "factom-wallet-0"), LeaseName: "l", RenewDeadline: time.Second}, log: zerolog.Nop(), now: time.Now, process: "mine",
		lease: cs.CoordinationV1().Leases("ns"), gate: NewGate(nil, nil)}
	e.obs = newObserver(cs.CoordinationV1().Leases("ns"), "l", time.Now, time.Second, time.Second, zerolog.Nop())
	return e, cs
}

func leaseNaming(holder, process string, term int32) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "ns", Annotations: map[string]string{AnnotationProcess: process}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseTransitions: &term},
	}
}

// TestRenewLockWritesOnlyItsOwnProcesssLease: client-go's renew loop
// goes through this lock, so a process never renews (or releases) a
// Lease that names another process of the same pod.
func TestRenewLockWritesOnlyItsOwnProcesssLease(t *testing.T) {
	ctx := context.Background()
	e, _ := fakeElector(t, leaseNaming("factom-wallet-0", "previous", 3))
	lock := &processLock{e: e}
	rec, _, err := lock.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Update(ctx, *rec); err == nil || !strings.Contains(err.Error(), `names process "previous"`) {
		t.Fatalf("renewing another process's Lease: %v", err)
	}
	if e.releaseOwn(3) {
		t.Fatal("released a Lease this process never held")
	}

	e, cs := fakeElector(t, leaseNaming("factom-wallet-0", "mine", 4))
	lock = &processLock{e: e}
	rec, _, _ = lock.Get(ctx)
	if err := lock.Update(ctx, *rec); err != nil {
		t.Fatalf("renewing its own Lease: %v", err)
	}
	if e.releaseOwn(5) {
		t.Fatal("released the Lease for a term it does not hold")
	}
	if !e.releaseOwn(4) {
		t.Fatal("did not release its own Lease")
	}
	got, _ := cs.CoordinationV1().Leases("ns").Get(ctx, "l", metav1.GetOptions{})
	if *got.Spec.HolderIdentity != "" || *got.Spec.LeaseTransitions != 4 || *got.Spec.LeaseDurationSeconds != 1 {
		t.Fatalf("released Lease spec %+v: want no holder, term 4 kept, 1 s", got.Spec)
	}
}

func TestAcquisitionAnnotations(t *testing.T) {
	e := &Elector{process: "p", cfg: Config{Takeover: TakeoverConfig{AdvertiseAddress: "10.0.0.1:8099", ContainerName: "sidecar"}}}
	a := e.annotations(map[string]string{AnnotationProcess: "old", AnnotationProxyAddress: "10.0.0.9:8189", "other": "kept"})
	if a[AnnotationProcess] != "p" || a[AnnotationAddress] != "10.0.0.1:8099" || a[AnnotationContainer] != "sidecar" || a["other"] != "kept" {
		t.Fatalf("annotations %v", a)
	}
	if _, ok := a[AnnotationProxyAddress]; ok {
		t.Fatalf("the previous holder's proxy address was kept: %v", a)
	}
}

// TestReleaseAfterARenewalItDidNotSee: a renewal cancelled in flight may
// have landed, so the release's conditional update conflicts; it reads the
// Lease once and still releases it while it names this term.
func TestReleaseAfterARenewalItDidNotSee(t *testing.T) {
	ctx := context.Background()
	e, cs := fakeElector(t, leaseNaming("factom-wallet-0", "mine", 4))
	leases := cs.CoordinationV1().Leases("ns")
	l, _ := leases.Get(ctx, "l", metav1.GetOptions{})
	e.noteOwn(l)
	conflicts := 0
	cs.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "l", errors.New("renewed meanwhile"))
		}
		return false, nil, nil
	})
	if !e.releaseOwn(4) {
		t.Fatal("did not release after a conflict")
	}
	got, _ := leases.Get(ctx, "l", metav1.GetOptions{})
	if conflicts != 1 || *got.Spec.HolderIdentity != "" {
		t.Fatalf("conflicts %d, holder %q after the release", conflicts, *got.Spec.HolderIdentity)
	}
}
