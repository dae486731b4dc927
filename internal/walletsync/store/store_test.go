package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
)

const seed = walletd.Secret("legal winner thank year wave sausage worth useful legal winner thank yellow")

func testKey(t *testing.T) *keystore.SealKey {
	t.Helper()
	k, err := keystore.NewSealKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCreateRefusesWhatDoesNotFit(t *testing.T) {
	client := fake.NewClientset()
	s := New(client, "ns", DefaultSecretName, testKey(t), Options{})
	st := &keystore.State{Seed: seed}
	for i := 0; i < 8000; i++ {
		st.Imported = append(st.Imported, keystore.Imported{Kind: keystore.FCT, Public: fmt.Sprintf("FA%050d", i), Secret: walletd.Secret(fmt.Sprintf("Fs%050d", i))})
	}
	_, err := s.Create(context.Background(), 1, st)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "Fs0000") {
		t.Fatal("secret in error")
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" {
			t.Fatal("an oversized keystore reached the API")
		}
	}
}

func TestCommitAndBumpCheckTheTermFirst(t *testing.T) {
	client := fake.NewClientset()
	s := New(client, "ns", DefaultSecretName, testKey(t), Options{})
	ctx := context.Background()
	snap, err := s.Create(ctx, 4, &keystore.State{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, snap, 3, snap.State); !errors.Is(err, ErrFenced) || StoredTerm(err) != 4 {
		t.Fatalf("commit under an older term: %v (stored term %d, want 4)", err, StoredTerm(err))
	}
	if _, err := s.BumpTerm(ctx, snap, 3, nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("bump to an older term: %v", err)
	}
	next := snap.State.Clone()
	next.Next.EC = 1
	snap2, err := s.Commit(ctx, snap, 4, next)
	if err != nil || snap2.Generation != 2 || snap2.Term != 4 {
		t.Fatalf("commit: %+v %v", snap2, err)
	}
	loaded, err := s.Load(ctx)
	if err != nil || loaded.Generation != 2 || loaded.State.Next.EC != 1 {
		t.Fatalf("load: %+v %v", loaded, err)
	}
	bumped, err := s.BumpTerm(ctx, loaded, 9, nil)
	if err != nil || bumped.Term != 9 || bumped.Generation != 3 {
		t.Fatalf("bump: %+v %v", bumped, err)
	}
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWatchStartsOverAfterGone(t *testing.T) {
	client := fake.NewClientset()
	s := New(client, "ns", DefaultSecretName, testKey(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := s.Create(ctx, 1, &keystore.State{Seed: seed}); err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int32
	client.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets.Add(1)
		return false, nil, nil
	})
	var mu sync.Mutex
	var watches int
	client.PrependWatchReactor("secrets", func(k8stesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		watches++
		fw := watch.NewFake()
		if watches == 1 {
			go fw.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired})
		}
		return true, fw, nil
	})
	seen := make(chan *corev1.Secret, 10)
	go s.Watch(ctx, time.Minute, func(sec *corev1.Secret) { seen <- sec }, func(err error) { t.Errorf("watch error: %v", err) })
	for i := 0; i < 2; i++ {
		select {
		case sec := <-seen:
			if sec == nil {
				t.Fatal("secret reported missing")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("onSecret called %d times, want 2 (a fresh get after 410 Gone)", i)
		}
	}
	if gets.Load() < 2 {
		t.Fatalf("%d gets", gets.Load())
	}
}

func TestDecodeRejectsBadAnnotations(t *testing.T) {
	s := New(fake.NewClientset(), "ns", DefaultSecretName, testKey(t), Options{})
	for name, ann := range map[string]map[string]string{
		"no term":            {AnnotationGeneration: "1"},
		"negative term":      {AnnotationTerm: "-1", AnnotationGeneration: "1"},
		"non-numeric gen":    {AnnotationTerm: "1", AnnotationGeneration: "x"},
		"no data, good meta": {AnnotationTerm: "1", AnnotationGeneration: "1"},
	} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: DefaultSecretName, Annotations: ann}}
		if _, err := s.Decode(sec); !errors.Is(err, keystore.ErrRejected) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
