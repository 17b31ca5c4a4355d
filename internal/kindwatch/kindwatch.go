// Package kindwatch is berth's one watch layer: a Set holds one shared
// informer per kind (per namespace in scope, or one cluster-wide), all
// selecting the same labels and fields, started on first use through a REST
// mapper, and caching objects without their managedFields. Kinds are watched
// through the dynamic client (JSON into unstructured maps) or, for built-in
// kinds when Options.Typed is set, through a typed clientset (protobuf into
// typed objects, converted to the cached unstructured copy). apply's engine
// (inventory status for the reconciler, cli-utils' status watcher) and
// `berth wait` (internal/readiness) both read the cluster through it.
//
//	set := kindwatch.New(ctx, dyn, mapper, kindwatch.Options{
//		LabelSelector: "app.kubernetes.io/managed-by=berth",
//		OnEvent:       func(e kindwatch.Event) { ... }, // every add, update, delete
//	})
//	deployments := set.Kind(schema.GroupKind{Group: "apps", Kind: "Deployment"})
//	<-deployments.Ready()
//	u, found, ok := deployments.Get("team-a", "envoy-…")
//
// It knows no kind of its own (callers name them) and nothing of Gateways or
// inventories; it must not import apply, render or xds. The informers stop
// when the Set's context ends.
package kindwatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Options configure a Set. Every callback is optional; callbacks run on the
// informers' goroutines and must not block.
type Options struct {
	// Namespaces scope the watches of namespaced kinds (one informer per
	// namespace); empty watches every namespace. Cluster-scoped kinds are
	// always watched cluster-wide.
	Namespaces []string
	// LabelSelector and FieldSelector select the objects of every kind.
	LabelSelector string
	FieldSelector string
	// Transform edits each object (its apiVersion and kind set) before it
	// is cached, while it still has its managedFields (the Set drops them afterwards: they are often as
	// large as the spec and nobody reads them from the cache).
	Transform func(*unstructured.Unstructured)
	// OnEvent is called for every add, update and delete of every kind.
	OnEvent func(Event)
	// OnReady is called once per started kind, when Ready closes.
	OnReady func(*Kind)
	// OnError is called when a kind cannot be watched: it has no REST
	// mapping, or listing it was refused (forbidden, unauthorized, not
	// found; the informer keeps retrying, and the kind may sync later).
	OnError func(*Error)
	// ResetMapper, when set, is called before retrying the REST mapping of
	// a kind the mapper does not know (a CRD may have been installed since
	// discovery was cached).
	ResetMapper func()
	// RetryFailed makes Kind start a kind whose REST mapping failed again
	// on its next call (a long-running process); otherwise the failure
	// stays (a command that runs once).
	RetryFailed bool
	// Typed, when set, watches the kinds client-go has types for (the
	// built-in kinds) through this clientset instead of the dynamic client,
	// so they are decoded from the clientset's content type (protobuf when it
	// is configured so) into typed objects rather than from JSON into maps.
	// TransformTyped turns each typed object into the cached unstructured
	// copy; without it the object is converted whole and then goes through
	// Transform like any other. Other kinds use the dynamic client.
	Typed kubernetes.Interface
	// TransformTyped converts a typed object (of the kind gvk) into the
	// copy to cache; the Set then sets its apiVersion and kind and drops its
	// managedFields. It must be safe for concurrent use and must not block.
	TransformTyped func(gvk schema.GroupVersionKind, obj runtime.Object) (*unstructured.Unstructured, error)
	// TypedInformer, when set, builds the typed informer of a resource in a
	// namespace ("" = all), listing with tweak; nil (or a nil result) uses
	// client-go's informer factory, whose informers carry a namespace index
	// (an entry per cached object) that the Set never reads.
	TypedInformer func(client kubernetes.Interface, gvr schema.GroupVersionResource, namespace string, tweak func(*metav1.ListOptions)) cache.SharedIndexInformer
}

// Event is one informer notification.
type Event struct {
	Kind schema.GroupKind
	// Old is the previous state of an update; nil for adds and deletes.
	Old *unstructured.Unstructured
	// Object is the new state, or the last known state of a deleted object.
	Object  *unstructured.Unstructured
	Deleted bool
}

// Error says why a kind is not (or not yet) watched.
type Error struct {
	Kind schema.GroupKind
	// Resource is the kind's resource (plural) when its mapping is known.
	Resource string
	// Denied is true when listing was refused rather than impossible.
	Denied bool
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("watch %s: %v", e.Kind, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Set is one shared informer per kind. Its methods are safe for concurrent
// use.
type Set struct {
	ctx    context.Context
	dyn    dynamic.Interface
	mapper meta.RESTMapper
	opts   Options

	mu    sync.Mutex
	kinds map[schema.GroupKind]*Kind
}

// New returns an empty Set; Kind starts watches. They stop when ctx ends.
func New(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, opts Options) *Set {
	opts.Namespaces = slices.Clone(opts.Namespaces)
	return &Set{ctx: ctx, dyn: dyn, mapper: mapper, opts: opts, kinds: map[schema.GroupKind]*Kind{}}
}

// Scopes are the namespaces a kind's informers run in ("" = all).
func (s *Set) Scopes(namespaced bool) []string {
	if !namespaced || len(s.opts.Namespaces) == 0 {
		return []string{""}
	}
	return s.opts.Namespaces
}

// Kind returns the watch of gk, starting it on first use. It never blocks:
// the REST mapping and the first list happen in the background, and Ready
// closes when they are done.
func (s *Set) Kind(gk schema.GroupKind) *Kind {
	s.mu.Lock()
	k, ok := s.kinds[gk]
	if !ok {
		k = &Kind{gk: gk, informers: map[string]cache.SharedIndexInformer{}, ready: make(chan struct{})}
		s.kinds[gk] = k
	}
	s.mu.Unlock()
	if !ok {
		go s.start(k)
	}
	return k
}

// Kinds returns the kinds started so far, in no order.
func (s *Set) Kinds() []*Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Kind, 0, len(s.kinds))
	for _, k := range s.kinds {
		out = append(out, k)
	}
	return out
}

func (s *Set) start(k *Kind) {
	mapping, err := s.mapper.RESTMapping(k.gk)
	if meta.IsNoMatchError(err) && s.opts.ResetMapper != nil {
		s.opts.ResetMapper()
		mapping, err = s.mapper.RESTMapping(k.gk)
	}
	if err != nil {
		werr := &Error{Kind: k.gk, Err: err}
		if s.opts.RetryFailed {
			s.mu.Lock()
			delete(s.kinds, k.gk)
			s.mu.Unlock()
		}
		if s.opts.OnError != nil {
			s.opts.OnError(werr)
		}
		k.markReady(s, werr)
		return
	}
	k.gvk, k.resource = mapping.GroupVersionKind, mapping.Resource.Resource
	k.namespaced = mapping.Scope.Name() == meta.RESTScopeNameNamespace
	synced := make([]cache.InformerSynced, 0, len(s.opts.Namespaces)+1)
	for _, ns := range s.Scopes(k.namespaced) {
		inf := s.informer(k, mapping.Resource, ns)
		k.informers[ns] = inf
		synced = append(synced, inf.HasSynced)
	}
	k.started.Store(true)
	for _, inf := range k.informers {
		go inf.RunWithContext(s.ctx)
	}
	var werr *Error
	if !cache.WaitForCacheSync(s.ctx.Done(), synced...) {
		werr = &Error{Kind: k.gk, Resource: k.resource, Err: fmt.Errorf("stopped before the watch synced: %w", context.Cause(s.ctx))}
	}
	k.markReady(s, werr) // a no-op when a refusal made it ready already
}

func (s *Set) informer(k *Kind, gvr schema.GroupVersionResource, ns string) cache.SharedIndexInformer {
	tweak := func(o *metav1.ListOptions) {
		o.LabelSelector, o.FieldSelector = s.opts.LabelSelector, s.opts.FieldSelector
	}
	var inf cache.SharedIndexInformer
	if s.opts.Typed != nil && s.opts.TypedInformer != nil {
		inf = s.opts.TypedInformer(s.opts.Typed, gvr, ns, tweak)
	}
	if s.opts.Typed != nil && inf == nil {
		f := informers.NewSharedInformerFactoryWithOptions(s.opts.Typed, 0, informers.WithNamespace(ns), informers.WithTweakListOptions(tweak))
		if gi, err := f.ForResource(gvr); err == nil {
			inf = gi.Informer()
		}
	}
	if inf == nil {
		inf = dynamicinformer.NewFilteredDynamicInformer(s.dyn, gvr, ns, 0, cache.Indexers{}, tweak).Informer()
	}
	_ = inf.SetTransform(func(o any) (any, error) {
		var u *unstructured.Unstructured
		switch o := o.(type) {
		case *unstructured.Unstructured:
			u = o
		case runtime.Object: // from the typed informer
			if s.opts.TransformTyped != nil {
				var err error
				if u, err = s.opts.TransformTyped(k.gvk, o); err != nil {
					return nil, fmt.Errorf("watch %s: %w", k.gk, err)
				}
				u.SetGroupVersionKind(k.gvk)
				u.SetManagedFields(nil)
				return u, nil
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			if err != nil {
				return nil, fmt.Errorf("watch %s: %w", k.gk, err)
			}
			u = &unstructured.Unstructured{Object: m}
		default:
			return o, nil
		}
		if u.GetKind() == "" { // kstatus and Transform need apiVersion and kind
			u.SetGroupVersionKind(k.gvk)
		}
		if s.opts.Transform != nil {
			s.opts.Transform(u)
		}
		u.SetManagedFields(nil)
		return u, nil
	})
	_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) {
			first := !k.denied.Swap(true)
			if first && s.opts.OnError != nil {
				s.opts.OnError(&Error{Kind: k.gk, Resource: k.resource, Denied: true, Err: err})
			}
			// Nobody should wait for a cache that may never fill.
			k.markReady(s, nil)
			return
		}
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	if s.opts.OnEvent != nil {
		gk, on := k.gk, s.opts.OnEvent
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(o any) {
				if u := asUnstructured(o); u != nil {
					on(Event{Kind: gk, Object: u})
				}
			},
			UpdateFunc: func(old, o any) {
				if u := asUnstructured(o); u != nil {
					on(Event{Kind: gk, Old: asUnstructured(old), Object: u})
				}
			},
			DeleteFunc: func(o any) {
				if u := asUnstructured(o); u != nil {
					on(Event{Kind: gk, Object: u, Deleted: true})
				}
			},
		})
	}
	return inf
}

func asUnstructured(o any) *unstructured.Unstructured {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	u, _ := o.(*unstructured.Unstructured)
	return u
}

// Kind is the watch of one kind.
type Kind struct {
	gk         schema.GroupKind
	gvk        schema.GroupVersionKind // set before started
	resource   string
	namespaced bool
	informers  map[string]cache.SharedIndexInformer // by namespace, "" = all; complete once started
	started    atomic.Bool
	denied     atomic.Bool
	err        *Error // set before ready closes
	ready      chan struct{}
	readyOnce  sync.Once
}

// markReady records err (nil: none) and closes ready, once.
func (k *Kind) markReady(s *Set, err *Error) {
	k.readyOnce.Do(func() {
		k.err = err
		close(k.ready)
		if s.opts.OnReady != nil {
			s.opts.OnReady(k)
		}
	})
}

// GroupKind is the kind watched.
func (k *Kind) GroupKind() schema.GroupKind { return k.gk }

// Namespaced is false for cluster-scoped kinds (known once started).
func (k *Kind) Namespaced() bool { return k.namespaced }

// Ready closes when every informer of the kind has listed once, or the kind
// cannot be watched (Err), or listing it was refused (Denied).
func (k *Kind) Ready() <-chan struct{} { return k.ready }

// Err is, once Ready has closed, why the kind is not watched: no REST
// mapping, or the Set stopped before the first list. nil otherwise
// (including while listing is refused: see Denied).
func (k *Kind) Err() error {
	select {
	case <-k.ready:
		if k.err != nil {
			return k.err
		}
	default:
	}
	return nil
}

// Denied reports whether listing the kind was refused at least once.
func (k *Kind) Denied() bool { return k.denied.Load() }

// HasSynced reports whether every informer of the kind has listed once.
func (k *Kind) HasSynced() bool {
	if !k.started.Load() {
		return false
	}
	for _, inf := range k.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Get returns the cached object ns/name (name alone for cluster-scoped
// kinds). ok is false while the kind is not synced (or not watchable, or ns
// is outside the Set's namespaces), so that absence means nothing; found is
// false when the object does not exist.
func (k *Kind) Get(ns, name string) (u *unstructured.Unstructured, found, ok bool) {
	if !k.HasSynced() {
		return nil, false, false
	}
	inf := k.informers[""]
	if inf == nil {
		inf = k.informers[ns]
	}
	if inf == nil {
		return nil, false, false
	}
	key := name
	if k.namespaced {
		key = ns + "/" + name
	}
	item, exists, err := inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil, false, err == nil
	}
	u, _ = item.(*unstructured.Unstructured)
	return u, u != nil, true
}

// List returns every cached object of the kind, in no order.
func (k *Kind) List() []*unstructured.Unstructured {
	if !k.started.Load() {
		return nil
	}
	var out []*unstructured.Unstructured
	for _, inf := range k.informers {
		for _, o := range inf.GetStore().List() {
			if u, ok := o.(*unstructured.Unstructured); ok {
				out = append(out, u)
			}
		}
	}
	return out
}

// Len is the number of cached objects of the kind.
func (k *Kind) Len() int {
	if !k.started.Load() {
		return 0
	}
	n := 0
	for _, inf := range k.informers {
		n += len(inf.GetStore().ListKeys())
	}
	return n
}
