// Package kubewatch follows one named Kubernetes object: a get, then a watch
// from the version the get returned, each state handed to a callback. The
// election follows its Lease with it and the keystore its Secret; both need
// only get and watch on that one object, which a Role's resourceNames can
// grant (a watch with a metadata.name field selector), never list.
package kubewatch

import (
	"context"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Object is a typed API object pointer (*corev1.Secret, *coordinationv1.Lease).
type Object interface {
	runtime.Object
	GetName() string
	GetResourceVersion() string
}

// Source reads and watches the object called Name.
type Source[T Object] struct {
	Name string
	// Get returns the object, or found false when it does not exist.
	Get func(ctx context.Context) (obj T, found bool, err error)
	// Watch starts a watch with the given options.
	Watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// Once gets the object and hands it to observe (the zero T while it does not
// exist), then watches it from that version and hands over every change,
// until the watch ends. It returns nil when the server closed the watch
// (its timeoutSeconds passed) or answered 410 Gone (the version is too old):
// either way the caller starts again with a fresh get, which is also its
// periodic resync. Any other failure is returned for the caller to retry.
func Once[T Object](ctx context.Context, src Source[T], timeoutSeconds int64, observe func(T)) error {
	var absent T
	obj, found, err := src.Get(ctx)
	if err != nil {
		return err
	}
	rv := ""
	if found {
		observe(obj)
		rv = obj.GetResourceVersion()
	} else {
		observe(absent)
	}
	w, err := src.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", src.Name).String(),
		ResourceVersion: rv,
		TimeoutSeconds:  &timeoutSeconds,
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if o, ok := ev.Object.(T); ok && o.GetName() == src.Name {
					observe(o)
				}
			case watch.Deleted:
				observe(absent)
			case watch.Error:
				status := apierrors.FromObject(ev.Object)
				var se apierrors.APIStatus
				if errors.As(status, &se) && se.Status().Code == http.StatusGone {
					return nil
				}
				return status
			}
		}
	}
}
