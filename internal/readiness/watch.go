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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/cli-utils/pkg/object"

	"github.com/berth-gateway/berth/internal/kindwatch"
	"github.com/berth-gateway/berth/render"
)

// GatewayResource is the Gateway API's Gateway resource.
var GatewayResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// ListenerSetResource is the Gateway API's ListenerSet resource.
var ListenerSetResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "listenersets"}

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
	// ListenerSet, instead of Name, waits for the ListenerSet of that name
	// in Namespace: for its Programmed, and for its parent Gateway (whose
	// bundle's progress is printed).
	ListenerSet string
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
	// Restart is set (with Phase Waiting) when the ListenerSet waited for
	// names another parent Gateway than the one watched: the caller runs
	// the wait again, on the new parent.
	Restart bool
}

// GatewayOutcome is one Gateway's (or the ListenerSet's) verdict when the
// wait ended.
type GatewayOutcome struct {
	Key
	Verdict
	// ListenerSet says Key is the ListenerSet waited for.
	ListenerSet bool
}

// Subject is "Gateway ns/name" or "ListenerSet ns/name".
func (g GatewayOutcome) Subject() string {
	if g.ListenerSet {
		return "ListenerSet " + g.Key.String()
	}
	return "Gateway " + g.Key.String()
}

// Summary is a one-line account: the failure, or what timed out.
func (o *Outcome) Summary() string {
	var parts []string
	for _, g := range o.Gateways {
		switch {
		case o.Phase == Failed && g.Phase == Failed:
			parts = append(parts, g.Subject()+" failed: "+g.Verdict.String())
		case o.Phase == Waiting && g.Phase == Waiting:
			parts = append(parts, g.Subject()+" not ready: "+g.Verdict.String())
		case o.Phase == Ready:
			parts = append(parts, g.Subject()+" is Programmed")
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
	if (opts.Name != "" || opts.ListenerSet != "") && opts.AllNamespaces {
		return nil, errors.New("a name and all namespaces exclude each other")
	}
	if opts.Name != "" && opts.ListenerSet != "" {
		return nil, errors.New("a Gateway name and a ListenerSet name exclude each other")
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
	w := &watcher{wake: make(chan struct{}, 1)}
	ns := ""
	if !opts.AllNamespaces {
		ns = opts.Namespace
	}
	// A ListenerSet is waited for with its parent Gateway: the Gateway's
	// namespace and name are those its parentRef names.
	var set *Key
	if opts.ListenerSet != "" {
		k := Key{Namespace: opts.Namespace, Name: opts.ListenerSet}
		set = &k
		u, err := dyn.Resource(ListenerSetResource).Namespace(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get ListenerSet %s: %w", k, err)
		}
		ls := ListenerSet{Gateway: Gateway{Key: k}}
		if err == nil {
			ls = ListenerSetFromUnstructured(u)
		}
		if v := DecideListenerSet(ls, Snapshot{Gateway: Gateway{Key: ls.Parent}}); !ls.Found || !ls.HasParent {
			fmt.Fprintln(opts.Out, Stamp(time.Since(start), "ListenerSet "+k.String()+" failed: "+v.String()))
			return &Outcome{Phase: Failed, Elapsed: time.Since(start), Gateways: []GatewayOutcome{{Key: k, Verdict: v, ListenerSet: true}}}, nil
		}
		ns, opts.Name = ls.Parent.Namespace, ls.Parent.Name
	}
	var gwFields string
	if opts.Name != "" {
		gwFields = fields.OneTermEqualSelector("metadata.name", opts.Name).String()
	}

	// One plain list first: it fixes the set of Gateways for --all and
	// turns "cannot read Gateways" into an error instead of a watch that
	// retries until the timeout.
	list, err := dyn.Resource(GatewayResource).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: gwFields})
	if err != nil {
		return nil, fmt.Errorf("list Gateways: %w", err)
	}
	var keys []Key
	if opts.Name != "" {
		keys = []Key{{Namespace: ns, Name: opts.Name}}
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

	var scope []string
	if ns != "" {
		scope = []string{ns}
	}
	// The Gateways (one, or all in scope) and the bundle kinds, each its own
	// Set: they select differently.
	gateways := meta.NewDefaultRESTMapper([]schema.GroupVersion{GatewayResource.GroupVersion()})
	// Named, not guessed: meta's guess pluralises Gateway as "gatewaies".
	gateways.AddSpecific(GatewayResource.GroupVersion().WithKind("Gateway"), GatewayResource,
		GatewayResource.GroupVersion().WithResource("gateway"), meta.RESTScopeNamespace)
	w.gateways = kindwatch.New(ctx, dyn, gateways, w.watchOptions(scope, "", gwFields)).Kind(gatewayKind)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	w.bundle = kindwatch.New(ctx, dyn, mapper, w.watchOptions(scope, labels.Set{render.LabelManagedBy: render.LabelManagedByValue}.String(), ""))
	for _, gk := range bundleKinds {
		w.bundle.Kind(gk)
	}
	if set != nil {
		sets := meta.NewDefaultRESTMapper([]schema.GroupVersion{ListenerSetResource.GroupVersion()})
		sets.AddSpecific(ListenerSetResource.GroupVersion().WithKind("ListenerSet"), ListenerSetResource,
			ListenerSetResource.GroupVersion().WithResource("listenerset"), meta.RESTScopeNamespace)
		w.set = *set
		w.sets = kindwatch.New(ctx, dyn, sets, w.watchOptions([]string{set.Namespace}, "", fields.OneTermEqualSelector("metadata.name", set.Name).String())).Kind(listenerSetKind)
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
		kinds := append(w.bundle.Kinds(), w.gateways)
		if w.sets != nil {
			kinds = append(kinds, w.sets)
		}
		for _, k := range kinds {
			select {
			case <-k.Ready():
			case <-ctx.Done():
			}
		}
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
			v := s.Verdict()
			if v.Reason == ReasonParentChanged {
				fmt.Fprintln(opts.Out, Stamp(elapsed, s.Subject()+": "+v.Message+"; watching the new parent"))
				return &Outcome{Phase: Waiting, Restart: true, Elapsed: elapsed}, nil
			}
			if old, seen := done[k]; v.Phase != Waiting && (!seen || old.Phase != v.Phase) {
				switch v.Phase {
				case Ready:
					fmt.Fprintln(opts.Out, Stamp(elapsed, s.Subject()+" is Programmed"))
				case Failed:
					fmt.Fprintln(opts.Out, Stamp(elapsed, s.Subject()+" failed: "+v.String()))
				}
			}
			done[k] = v
			o := GatewayOutcome{Key: k, Verdict: v}
			if s.Set != nil {
				o = GatewayOutcome{Key: s.Set.Key, Verdict: v, ListenerSet: true}
			}
			out.Gateways = append(out.Gateways, o)
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

// gatewayKind is the Gateway API's Gateway kind.
var gatewayKind = GatewayResource.GroupVersion().WithKind("Gateway").GroupKind()

// listenerSetKind is the Gateway API's ListenerSet kind.
var listenerSetKind = ListenerSetResource.GroupVersion().WithKind("ListenerSet").GroupKind()

// watcher reads the Gateways and their bundles from shared watches
// (kindwatch), all in one scope (a namespace, or every namespace); every
// change wakes the loop.
type watcher struct {
	wake     chan struct{}
	gateways *kindwatch.Kind
	bundle   *kindwatch.Set // the bundle kinds, selecting berth's managed label
	// sets watches the ListenerSet set when the wait is for one.
	sets *kindwatch.Kind
	set  Key

	mu       sync.Mutex
	warnings []string
	warned   map[string]bool
}

// watchOptions make every event, every kind becoming ready and every
// refusal wake the loop (refusals with a warning).
func (w *watcher) watchOptions(namespaces []string, labelSel, fieldSel string) kindwatch.Options {
	return kindwatch.Options{
		Namespaces:    namespaces,
		LabelSelector: labelSel,
		FieldSelector: fieldSel,
		OnEvent:       func(kindwatch.Event) { w.notify() },
		// The last initial Add can be handled before the kind reports
		// synced; wake once more when it does so that the loop sees a
		// synced cache.
		OnReady: func(*kindwatch.Kind) { w.notify() },
		OnError: func(e *kindwatch.Error) {
			what := e.Resource
			if what == "" {
				what = e.Kind.String()
			}
			w.warn(fmt.Sprintf("cannot watch %s: %v", what, e.Err))
		},
	}
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

// snapshot reads Gateway k and its bundle from the watch caches.
func (w *watcher) snapshot(k Key) Snapshot {
	s := Snapshot{Gateway: Gateway{Key: k}}
	if u, found, _ := w.gateways.Get(k.Namespace, k.Name); found {
		s.Gateway = GatewayFromUnstructured(u)
	}
	s.Bundle.Inventory = Key{Namespace: k.Namespace, Name: render.InventoryName(k.Namespace, k.Name)}
	if u, found, _ := w.bundle.Kind(schema.GroupKind{Kind: "ConfigMap"}).Get(s.Bundle.Inventory.Namespace, s.Bundle.Inventory.Name); found {
		s.Bundle.InventoryFound = true
		s.Bundle.Objects = w.inventoryObjects(u)
	} else {
		s.Bundle.Objects = w.labeledObjects(k)
	}
	if w.sets != nil {
		ls := ListenerSet{Gateway: Gateway{Key: w.set}, Parent: k, HasParent: true}
		if u, found, _ := w.sets.Get(w.set.Namespace, w.set.Name); found {
			ls = ListenerSetFromUnstructured(u)
		}
		s.Set = &ls
	}
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
		kind := w.bundle.Kind(id.GroupKind)
		u, found, ok := kind.Get(id.Namespace, id.Name)
		switch {
		case kind.Err() != nil:
			o.Status, o.Message = kstatus.UnknownStatus, "kind not watchable"
		case !ok && kind.Denied():
			o.Status, o.Message = kstatus.UnknownStatus, "not allowed to watch"
		case !ok:
			o.Status, o.Message = kstatus.UnknownStatus, "watch starting"
		case found:
			o = ObjectFromUnstructured(u)
			o.Group, o.Kind = id.GroupKind.Group, id.GroupKind.Kind
		default:
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
		for _, u := range w.bundle.Kind(gk).List() {
			if u.GetNamespace() != k.Namespace || !want.Matches(labels.Set(u.GetLabels())) {
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
