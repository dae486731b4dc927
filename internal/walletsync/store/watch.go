package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/kubewatch"
)

// Watch calls onSecret with the Secret (nil while it does not exist) now,
// on every change, and again every resync (the watch is re-established
// with a fresh get: that get is the periodic resync and also recovers from
// 410 Gone). It needs only get and watch on the one Secret (a watch with a
// metadata.name field selector is authorised by a Role's resourceNames),
// not list. Errors go to onError and are retried with backoff. It returns
// when ctx is done.
func (s *Store) Watch(ctx context.Context, resync time.Duration, onSecret func(*corev1.Secret), onError func(error)) {
	if resync <= 0 {
		resync = 5 * time.Minute
	}
	backoff := newBackoff(200*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		err := s.watchOnce(ctx, resync, onSecret)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			onError(err)
			if !backoff.wait(ctx) {
				return
			}
			continue
		}
		backoff.reset()
	}
}

func (s *Store) watchOnce(ctx context.Context, resync time.Duration, onSecret func(*corev1.Secret)) error {
	timeout := max(int64(resync/time.Second), 1)
	// A bound of our own in case the server's timeout never comes.
	wctx, cancel := context.WithTimeout(ctx, resync+s.timeout)
	defer cancel()
	err := kubewatch.Once(wctx, kubewatch.Source[*corev1.Secret]{
		Name: s.name,
		Get: func(ctx context.Context) (*corev1.Secret, bool, error) {
			sec, err := s.get(ctx)
			if errors.Is(err, ErrNotFound) {
				return nil, false, nil
			}
			return sec, err == nil, err
		},
		Watch: s.client.CoreV1().Secrets(s.namespace).Watch,
	}, timeout, onSecret)
	if err != nil {
		return fmt.Errorf("watch keystore secret: %w", err)
	}
	return nil
}

type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, cur: min} }

func (b *backoff) reset() { b.cur = b.min }

// wait waits the current delay (doubling it for next time); false if ctx
// ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	b.cur = min(2*b.cur, b.max)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
