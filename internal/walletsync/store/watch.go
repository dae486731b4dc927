package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
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
	sec, err := s.get(ctx)
	rv := ""
	switch {
	case errors.Is(err, ErrNotFound):
		onSecret(nil)
	case err != nil:
		return err
	default:
		onSecret(sec)
		rv = sec.ResourceVersion
	}
	timeout := int64(resync / time.Second)
	if timeout < 1 {
		timeout = 1
	}
	wctx, cancel := context.WithTimeout(ctx, resync+s.timeout)
	defer cancel()
	w, err := s.client.CoreV1().Secrets(s.namespace).Watch(wctx, metav1.ListOptions{
		FieldSelector:       fields.OneTermEqualSelector("metadata.name", s.name).String(),
		ResourceVersion:     rv,
		TimeoutSeconds:      &timeout,
		AllowWatchBookmarks: true,
	})
	if err != nil {
		return fmt.Errorf("watch keystore secret: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				// Server-side timeout: resync with a fresh get.
				return nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if obj, ok := ev.Object.(*corev1.Secret); ok && obj.Name == s.name {
					onSecret(obj)
				}
			case watch.Deleted:
				onSecret(nil)
			case watch.Error:
				status := apierrors.FromObject(ev.Object)
				var se apierrors.APIStatus
				if errors.As(status, &se) && se.Status().Code == http.StatusGone {
					// 410 Gone: the resourceVersion is too old; start
					// over from a fresh get.
					return nil
				}
				return fmt.Errorf("watch keystore secret: %w", status)
			}
		}
	}
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
