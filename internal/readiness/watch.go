package readiness

// This file is the I/O edge: watches, the wake-up loop, and printing.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/cli-utils/pkg/object"

	"github.com/berth-gateway/berth/render"
)

// GatewayResource is the Gateway API's Gateway resource.
var GatewayResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// bundleKinds are the kinds render puts in a bundle; they are watched from
// the start so objects show before the inventory exists. Other kinds an
// inventory lists are watched once it lists them.
var bundleKinds = []schema.GroupKind{
	{Kind: "ServiceAccount"},
	{Kind: "ConfigMap"},
	{Kind: "Service"},
	{Group: "apps", Kind: "Deployment"},
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
	{Group: "policy", Kind: "PodDisruptionBudget"},
}

// Options say what to wait for.
type Options struct {
	// Namespace of the Gateways; ignored with AllNamespaces.
	Namespace string
	// Name of the Gateway; empty waits for every Gateway that exists in
	// scope when the wait starts (--all).
	Name string
	// AllNamespaces widens --all to every namespace.
	AllNamespaces bool
	// Timeout bounds the wait; 0 looks once (after the watches have listed)
	// and does not wait.
	Timeout time.Duration
	// Out receives the progress lines.
	Out io.Writer
}

// Outcome is how a wait ended.
type Outcome struct {
	// Phase is Ready when every Gateway is ready, Failed when one failed
	// (the wait stops at the first failure), Waiting when the timeout came
	// first.
	Phase    Phase
	Gateways []GatewayOutcome
	Elapsed  time.Duration
	// NotReady lists, after a timeout, what was still not ready.
	NotReady []string
}

// GatewayOutcome is one Gateway's verdict when the wait ended.
type GatewayOutcome struct {
	Key
	Verdict
}

// Summary is a one-line account: the failure, or what timed out.
func (o *Outcome) Summary() string {
	var parts []string
	for _, g := range o.Gateways {
		switch {
		case o.Phase == Failed && g.Phase == Failed:
			parts = append(parts, "Gateway "+g.Key.String()+" failed: "+g.Verdict.String())
		case o.Phase == Waiting && g.Phase == Waiting:
			parts = append(parts, "Gateway "+g.Key.String()+" not ready: "+g.Verdict.String())
		case o.Phase == Ready:
			parts = append(parts, "Gateway "+g.Key.String()+" is Programmed")
		}
	}
	s := strings.Join(parts, "; ")
	if o.Phase == Waiting {
		s = fmt.Sprintf("timed out after %s: %s", o.Elapsed.Round(100*time.Millisecond), s)
	}
	return s
}

// Run waits as opts say and prints progress to opts.Out. The error is for a
// wait that could not run (no client, Gateways not readable, ctx
// cancelled); the outcome says how a wait that ran ended.
func Run(ctx context.Context, cfg *rest.Config, opts Options) (*Outcome, error) {
	start := time.Now()
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("timeout must not be negative, got %s", opts.Timeout)
	}
	if opts.Name == "" && opts.Namespace == "" && !opts.AllNamespaces {
		return nil, errors.New("no namespace")
	}
	if opts.Name != "" && opts.AllNamespaces {
		return nil, errors.New("a Gateway name and all namespaces exclude each other")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops every watch
	w := &watcher{
		ctx:    ctx,
		dyn:    dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
		wake:   make(chan struct{}, 1),
		kinds:  map[schema.GroupKind]*kindWatch{},
	}
	if !opts.AllNamespaces {
		w.ns = opts.Namespace
	}
	var gwFields string
	if opts.Name != "" {
		gwFields = fields.OneTermEqualSelector("metadata.name", opts.Name).String()
	}

	// One plain list first: it fixes the set of Gateways for --all and
	// turns "cannot read Gateways" into an error instead of a watch that
	// retries until the timeout.
	list, err := dyn.Resource(GatewayResource).Namespace(w.ns).List(ctx, metav1.ListOptions{FieldSelector: gwFields})
	if err != nil {
		return nil, fmt.Errorf("list Gateways: %w", err)
	}
	var keys []Key
	if opts.Name != "" {
		keys = []Key{{Namespace: opts.Namespace, Name: opts.Name}}
	} else {
		for _, u := range list.Items {
			keys = append(keys, Key{Namespace: u.GetNamespace(), Name: u.GetName()})
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		if len(keys) == 0 {
			where := "namespace " + opts.Namespace
			if opts.AllNamespaces {
				where = "any namespace"
			}
			// kubectl wait --all fails the same way ("no matching resources found").
			fmt.Fprintln(opts.Out, Stamp(time.Since(start), "no Gateways in "+where))
			return &Outcome{Phase: Failed, Elapsed: time.Since(start),
				Gateways: []GatewayOutcome{{Key: Key{Namespace: opts.Namespace}, Verdict: Verdict{Phase: Failed, Reason: ReasonNotFound, Message: "no Gateways in " + where}}}}, nil
		}
	}

	w.gateways = w.start(GatewayResource.GroupVersion().WithKind("Gateway"), GatewayResource, w.ns, gwFields, "", "Gateways", new(atomic.Bool))
	managed := labels.Set{render.LabelManagedBy: render.LabelManagedByValue}.String()
	w.labelSel = managed
	for _, gk := range bundleKinds {
		w.kind(gk)
	}

	var deadline <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout - time.Since(start))
		defer t.Stop()
		deadline = t.C
	}
	// Wait until the first lists are in (or the deadline), so the first
	// report is not a burst of "NotFound" for objects not yet listed.
	synced := make(chan struct{})
	go func() {
		cache.WaitForCacheSync(ctx.Done(), w.syncFuncs()...)
		close(synced)
	}()
	select {
	case <-synced:
	case <-deadline:
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	prefix := func(k Key) string {
		if len(keys) > 1 {
			return "[" + k.String() + "] "
		}
		return ""
	}
	prev := map[Key]*Snapshot{}
	done := map[Key]Verdict{}
	timedOut := false
	for {
		for _, warning := range w.takeWarnings() {
			fmt.Fprintln(opts.Out, Stamp(time.Since(start), "warning: "+warning))
		}
		out := &Outcome{Phase: Ready}
		snaps := make([]Snapshot, 0, len(keys))
		for _, k := range keys {
			s := w.snapshot(k)
			snaps = append(snaps, s)
			elapsed := time.Since(start)
			for _, line := range Changes(prev[k], s, prefix(k)) {
				fmt.Fprintln(opts.Out, Stamp(elapsed, line))
			}
			prev[k] = &s
			v := Decide(s)
			if old, seen := done[k]; v.Phase != Waiting && (!seen || old.Phase != v.Phase) {
				switch v.Phase {
				case Ready:
					fmt.Fprintln(opts.Out, Stamp(elapsed, "Gateway "+k.String()+" is Programmed"))
				case Failed:
					fmt.Fprintln(opts.Out, Stamp(elapsed, "Gateway "+k.String()+" failed: "+v.String()))
				}
			}
			done[k] = v
			out.Gateways = append(out.Gateways, GatewayOutcome{Key: k, Verdict: v})
			switch {
			case v.Phase == Failed:
				out.Phase = Failed
			case v.Phase == Waiting && out.Phase == Ready:
				out.Phase = Waiting
			}
		}
		out.Elapsed = time.Since(start)
		if out.Phase != Waiting {
			return out, nil
		}
		if timedOut || opts.Timeout == 0 {
			head := fmt.Sprintf("timed out after %s; not ready:", opts.Timeout)
			if opts.Timeout == 0 {
				head = "not ready:"
			}
			fmt.Fprintln(opts.Out, Stamp(out.Elapsed, head))
			for i, s := range snaps {
				if out.Gateways[i].Phase != Waiting {
					continue
				}
				for _, line := range NotReady(s) {
					out.NotReady = append(out.NotReady, line)
					fmt.Fprintln(opts.Out, "       "+prefix(s.Gateway.Key)+line)
				}
			}
			return out, nil
		}
		select {
		case <-w.wake:
		case <-deadline:
			// One last look, so the report shows the state at the deadline.
			timedOut = true
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// watcher holds one informer per watched kind, all in one scope (a
// namespace, or every namespace) and selecting berth's managed label.
type watcher struct {
	ctx      context.Context
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	ns       string
	labelSel string
	wake     chan struct{}
	gateways cache.SharedIndexInformer

	mu       sync.Mutex
	kinds    map[schema.GroupKind]*kindWatch
	warnings []string
	warned   map[string]bool
}

type kindWatch struct {
	inf cache.SharedIndexInformer // nil when the kind cannot be watched
	// namespaced is false for cluster-scoped kinds (keys are bare names).
	namespaced bool
	// denied is set when listing the kind was refused (RBAC): its cache
	// will never sync, and nobody should wait for it.
	denied atomic.Bool
}

func (w *watcher) notify() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is pending; the loop re-reads everything anyway
	}
}

func (w *watcher) warn(msg string) {
	w.mu.Lock()
	if w.warned == nil {
		w.warned = map[string]bool{}
	}
	if !w.warned[msg] {
		w.warned[msg] = true
		w.warnings = append(w.warnings, msg)
	}
	w.mu.Unlock()
	w.notify()
}

func (w *watcher) takeWarnings() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.warnings
	w.warnings = nil
	return out
}

// start runs an informer over gvr in ns whose every event wakes the loop.
// Objects of a list may lack apiVersion and kind; kstatus needs them, so
// they are set to gvk.
func (w *watcher) start(gvk schema.GroupVersionKind, gvr schema.GroupVersionResource, ns, fieldSel, labelSel, what string, denied *atomic.Bool) cache.SharedIndexInformer {
	ri := w.dyn.Resource(gvr).Namespace(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector, o.LabelSelector = fieldSel, labelSel
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector, o.LabelSelector = fieldSel, labelSel
			return ri.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	// Nobody here reads managedFields; dropping them keeps the caches small.
	_ = inf.SetTransform(func(o any) (any, error) {
		if u, ok := o.(*unstructured.Unstructured); ok {
			u.SetManagedFields(nil)
			if u.GetKind() == "" {
				u.SetGroupVersionKind(gvk)
			}
		}
		return o, nil
	})
	_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) {
			denied.Store(true)
			w.warn(fmt.Sprintf("cannot watch %s: %v", what, err))
			return
		}
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	wake := func(any) { w.notify() }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    wake,
		UpdateFunc: func(_, o any) { w.notify() },
		DeleteFunc: wake,
	})
	go inf.RunWithContext(w.ctx)
	// The last initial Add can be handled before HasSynced turns true; wake
	// once more when it does so that the loop sees a synced cache.
	go func() {
		select {
		case <-inf.HasSyncedChecker().Done():
			w.notify()
		case <-w.ctx.Done():
		}
	}()
	return inf
}

// kind returns the watch of gk, starting it on first use.
func (w *watcher) kind(gk schema.GroupKind) *kindWatch {
	w.mu.Lock()
	kw := w.kinds[gk]
	w.mu.Unlock()
	if kw != nil {
		return kw
	}
	kw = &kindWatch{}
	m, err := w.mapper.RESTMapping(gk)
	if err != nil {
		w.warn(fmt.Sprintf("cannot watch %s: %v", gk, err))
	} else {
		kw.namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
		ns := w.ns
		if !kw.namespaced {
			ns = ""
		}
		kw.inf = w.start(m.GroupVersionKind, m.Resource, ns, "", w.labelSel, m.Resource.Resource, &kw.denied)
	}
	w.mu.Lock()
	w.kinds[gk] = kw
	w.mu.Unlock()
	return kw
}

func (w *watcher) syncFuncs() []cache.InformerSynced {
	w.mu.Lock()
	defer w.mu.Unlock()
	fns := []cache.InformerSynced{w.gateways.HasSynced}
	for _, kw := range w.kinds {
		if kw.inf != nil {
			fns = append(fns, func() bool { return kw.inf.HasSynced() || kw.denied.Load() })
		}
	}
	return fns
}

// snapshot reads Gateway k and its bundle from the watch caches.
func (w *watcher) snapshot(k Key) Snapshot {
	s := Snapshot{Gateway: Gateway{Key: k}}
	if o, ok, _ := w.gateways.GetStore().GetByKey(k.Namespace + "/" + k.Name); ok {
		if u, ok := o.(*unstructured.Unstructured); ok {
			s.Gateway = GatewayFromUnstructured(u)
		}
	}
	s.Bundle.Inventory = Key{Namespace: k.Namespace, Name: render.InventoryName(k.Namespace, k.Name)}
	cms := w.kind(schema.GroupKind{Kind: "ConfigMap"})
	if cms.inf == nil {
		return s
	}
	if o, ok, _ := cms.inf.GetStore().GetByKey(s.Bundle.Inventory.Namespace + "/" + s.Bundle.Inventory.Name); ok {
		if u, ok := o.(*unstructured.Unstructured); ok {
			s.Bundle.InventoryFound = true
			s.Bundle.Objects = w.inventoryObjects(u)
			return s
		}
	}
	s.Bundle.Objects = w.labeledObjects(k)
	return s
}

// inventoryObjects reads the objects a cli-utils ConfigMap inventory lists
// (its data keys, "<ns>_<name>_<group>_<kind>") and looks each up.
func (w *watcher) inventoryObjects(inv *unstructured.Unstructured) []Object {
	data, _, _ := unstructured.NestedStringMap(inv.Object, "data")
	var out []Object
	for entry := range data {
		id, err := object.ParseObjMetadata(entry)
		if err != nil {
			w.warn(fmt.Sprintf("inventory %s/%s: ignoring entry %q: %v", inv.GetNamespace(), inv.GetName(), entry, err))
			continue
		}
		o := Object{Group: id.GroupKind.Group, Kind: id.GroupKind.Kind, Namespace: id.Namespace, Name: id.Name}
		kw := w.kind(id.GroupKind)
		switch {
		case kw.inf == nil:
			o.Status, o.Message = kstatus.UnknownStatus, "kind not watchable"
		case kw.denied.Load() && !kw.inf.HasSynced():
			o.Status, o.Message = kstatus.UnknownStatus, "not allowed to watch"
		case !kw.inf.HasSynced():
			o.Status, o.Message = kstatus.UnknownStatus, "watch starting"
		default:
			key := id.Name
			if kw.namespaced {
				key = id.Namespace + "/" + id.Name
			}
			if obj, ok, _ := kw.inf.GetStore().GetByKey(key); ok {
				if u, ok := obj.(*unstructured.Unstructured); ok {
					o = ObjectFromUnstructured(u)
					o.Group, o.Kind = id.GroupKind.Group, id.GroupKind.Kind
					break
				}
			}
			o.Status = kstatus.NotFoundStatus
		}
		out = append(out, o)
	}
	return sortedObjects(out)
}

// labeledObjects are the objects of the bundle kinds that carry Gateway k's
// bundle labels: what an apply has placed before it wrote the inventory.
func (w *watcher) labeledObjects(k Key) []Object {
	want := labels.SelectorFromSet(render.Labels(k.Namespace, k.Name))
	var out []Object
	for _, gk := range bundleKinds {
		kw := w.kind(gk)
		if kw.inf == nil {
			continue
		}
		for _, obj := range kw.inf.GetStore().List() {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok || u.GetNamespace() != k.Namespace || !want.Matches(labels.Set(u.GetLabels())) {
				continue
			}
			if _, isInventory := u.GetLabels()[render.InventoryLabel]; isInventory {
				continue
			}
			o := ObjectFromUnstructured(u)
			o.Group, o.Kind = gk.Group, gk.Kind
			out = append(out, o)
		}
	}
	return sortedObjects(out)
}
