package apply

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// recorder is a per-run dynamic client over the shared one that remembers every
// object it read. cli-utils reads each object right before applying it (to check
// the owning inventory); remembering that read tells created from configured from
// unchanged, and which fields were taken back, without another request.
type recorder struct {
	dynamic.Interface
	mu   sync.Mutex
	seen map[readKey]*unstructured.Unstructured // nil value: read returned NotFound
	// absent are objects the run creates only if they do not exist
	// (createOnly): their read is answered NotFound without a request.
	absent map[readKey]bool
}

type readKey struct {
	gr              schema.GroupResource
	namespace, name string
}

func newRecorder(d dynamic.Interface) *recorder {
	return &recorder{Interface: d, seen: map[readKey]*unstructured.Unstructured{}}
}

func (r *recorder) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return &recordingResource{NamespaceableResourceInterface: r.Interface.Resource(gvr), r: r, gr: gvr.GroupResource()}
}

func (r *recorder) record(k readKey, u *unstructured.Unstructured, err error) {
	switch {
	case err == nil:
		r.mu.Lock()
		r.seen[k] = u
		r.mu.Unlock()
	case isNotFoundOrGone(err):
		r.mu.Lock()
		r.seen[k] = nil
		r.mu.Unlock()
	}
}

func (r *recorder) lookup(k readKey) (*unstructured.Unstructured, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.seen[k]
	return u, ok
}

type recordingResource struct {
	dynamic.NamespaceableResourceInterface
	r  *recorder
	gr schema.GroupResource
}

func (x *recordingResource) Namespace(ns string) dynamic.ResourceInterface {
	return &recordingNamespaced{ResourceInterface: x.NamespaceableResourceInterface.Namespace(ns), r: x.r, gr: x.gr, ns: ns}
}

func (x *recordingResource) Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	u, err := x.NamespaceableResourceInterface.Get(ctx, name, opts, sub...)
	if len(sub) == 0 {
		x.r.record(readKey{gr: x.gr, name: name}, u, err)
	}
	return u, err
}

type recordingNamespaced struct {
	dynamic.ResourceInterface
	r  *recorder
	gr schema.GroupResource
	ns string
}

func (x *recordingNamespaced) Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	if k := (readKey{gr: x.gr, namespace: x.ns, name: name}); len(sub) == 0 && x.r.absent[k] {
		err := apierrors.NewNotFound(x.gr, name)
		x.r.record(k, nil, err)
		return nil, err
	}
	u, err := x.ResourceInterface.Get(ctx, name, opts, sub...)
	if len(sub) == 0 {
		x.r.record(readKey{gr: x.gr, namespace: x.ns, name: name}, u, err)
	}
	return u, err
}
