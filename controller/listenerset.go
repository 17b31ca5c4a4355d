package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/xds/translate"
)

// ListenerSets are optional like the layer-4 route kinds (l4.go): berth
// looks the CRD up once at start-up and watches, lists and writes the
// status of ListenerSets only where it is installed. A ListenerSet's
// listeners are translated with its parent Gateway (xds/translate), so a
// ListenerSet event wakes that Gateway; its status is written from the
// Gateway's translation by its own status reconciler (leader).

// listenerSetParentIndex indexes ListenerSets by the Gateway their
// parentRef names ("namespace/name").
const listenerSetParentIndex = "berth.listenerSetParent"

// listenerSetRouteKey is the routeParentIndex key of routes naming a
// ListenerSet (Gateways are keyed "namespace/name").
func listenerSetRouteKey(key k8stypes.NamespacedName) string { return "listenerset:" + key.String() }

// installListenerSets starts watching ListenerSets (kinds.go): an index by
// parent Gateway, a watch waking that Gateway in the xDS and Gateway
// controllers (a ListenerSet change is an input change, like a route's),
// and the status reconciler (leader).
func (c *Controller) installListenerSets() error {
	if err := c.mgr.GetFieldIndexer().IndexField(context.Background(), &gwv1.ListenerSet{}, listenerSetParentIndex, func(o client.Object) []string {
		if gw, ok := translate.ListenerSetParent(o.(*gwv1.ListenerSet)); ok {
			return []string{gw.String()}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("index ListenerSets by parent: %w", err)
	}
	// Translation reads a ListenerSet's spec, not the status berth writes.
	if err := c.watchKind(c.xdsCtrl, &gwv1.ListenerSet{}, c.gatewaysOfListenerSet, predicate.GenerationChangedPredicate{}); err != nil {
		return err
	}
	gateways := source.Kind[client.Object](c.mgr.GetCache(), &gwv1.Gateway{}, handler.EnqueueRequestsFromMapFunc(c.listenerSetsOfGateway))
	if err := c.statusController("listenerset", &gwv1.ListenerSet{}, &c.lsQueue, c.reconcileListenerSet, gateways); err != nil {
		return err
	}
	c.kinds.listenerSets.Store(true)
	return nil
}

func (c *Controller) gatewaysOfListenerSet(_ context.Context, o client.Object) []reconcile.Request {
	s, ok := o.(*gwv1.ListenerSet)
	if !ok {
		return nil
	}
	seen := map[k8stypes.NamespacedName]bool{}
	for _, k := range c.store.dependents(depKey{depListenerSet, client.ObjectKeyFromObject(s)}) {
		seen[k] = true
	}
	if gw, ok := translate.ListenerSetParent(s); ok {
		seen[gw] = true
	}
	keys := make([]k8stypes.NamespacedName, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	return requests(keys)
}

// routeParentGateway resolves a route's parentRef to the Gateway it leads
// to: the Gateway it names, or the parent of the ListenerSet it names (read
// from the cache).
func (c *Controller) routeParentGateway(ctx context.Context, routeNamespace string, p gwv1.ParentReference) (k8stypes.NamespacedName, bool) {
	if gw, ok := parentGateway(routeNamespace, p); ok {
		return gw, true
	}
	key, ok := parentListenerSet(routeNamespace, p)
	if !ok || !c.kinds.listenerSets.Load() {
		return k8stypes.NamespacedName{}, false
	}
	var s gwv1.ListenerSet
	if err := c.client.Get(ctx, key, &s); err != nil {
		return k8stypes.NamespacedName{}, false
	}
	return translate.ListenerSetParent(&s)
}

// parentListenerSet resolves a parentRef that names a ListenerSet.
func parentListenerSet(routeNamespace string, p gwv1.ParentReference) (k8stypes.NamespacedName, bool) {
	if (p.Group != nil && *p.Group != gwv1.GroupName) || p.Kind == nil || *p.Kind != translate.KindListenerSet {
		return k8stypes.NamespacedName{}, false
	}
	ns := routeNamespace
	if p.Namespace != nil {
		ns = string(*p.Namespace)
	}
	return k8stypes.NamespacedName{Namespace: ns, Name: string(p.Name)}, true
}

// listenerSetsOf lists the cached ListenerSets naming Gateway key (none
// when the kind is not installed).
func (c *Controller) listenerSetsOf(ctx context.Context, key k8stypes.NamespacedName) ([]*gwv1.ListenerSet, error) {
	if !c.kinds.listenerSets.Load() {
		return nil, nil
	}
	var list gwv1.ListenerSetList
	if err := c.client.List(ctx, &list, client.MatchingFields{listenerSetParentIndex: key.String()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list ListenerSets: %w", err)
	}
	return ptrs(list.Items), nil
}

// enqueueListenerSets wakes the status reconciler of the ListenerSets of
// either translation of one Gateway (either may be nil).
func (c *Controller) enqueueListenerSets(old, cur *gatewayTranslation) {
	for _, t := range []*gatewayTranslation{old, cur} {
		if t == nil {
			continue
		}
		for _, s := range t.ListenerSets {
			c.lsQueue.add(s.ListenerSet)
		}
	}
}

// reconcileListenerSet writes a ListenerSet's status (leader): the latest
// translation of its parent Gateway folded with the parent's own verdicts
// (translate.ListenerSetStatusOf): ParentNotAccepted when the Gateway is not
// Accepted, absent or being deleted; Programmed only when the Gateway is
// Programmed on the translation that holds the ListenerSet's listeners. A
// ListenerSet whose parent is another controller's Gateway is left alone.
func (c *Controller) reconcileListenerSet(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("listenerset")
	defer func() { done(err) }()
	c.hold(ctx, HoldListenerSet, req.NamespacedName)
	var s gwv1.ListenerSet
	if err := c.client.Get(ctx, req.NamespacedName, &s); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	gwKey, ok := translate.ListenerSetParent(&s)
	if !ok {
		return ctrl.Result{}, nil
	}
	p := translate.ListenerSetParentState{Gateway: gwKey}
	var fact *translate.ListenerSetStatus
	var gw gwv1.Gateway
	// parentInputs are the digests the parent's status records when it is
	// the status of the translation fact comes from; recorded on the
	// ListenerSet too, so berth wait can tell which parent status its
	// Programmed follows (readiness.CurrentListenerSet).
	var parentInputs readiness.RecordedInputs
	switch err := c.client.Get(ctx, gwKey, &gw); {
	case apierrors.IsNotFound(err):
		// No controller owns a ListenerSet whose parent is absent: berth
		// says so unless a controller already did for this generation (so
		// two never take turns), other than berth's own "being deleted".
		if a := meta.FindStatusCondition(s.Status.Conditions, string(gwv1.ListenerSetConditionAccepted)); a != nil && a.Status == metav1.ConditionFalse &&
			a.Reason == string(gwv1.ListenerSetReasonParentNotAccepted) && a.ObservedGeneration == s.Generation &&
			a.Message != translate.ListenerSetStatusOf(&s, nil, translate.ListenerSetParentState{Gateway: gwKey, Deleting: true}).Condition(gwv1.ListenerSetConditionAccepted).Message {
			return ctrl.Result{}, nil
		}
		p.Absent = true
	case err != nil:
		return ctrl.Result{}, err
	case c.classOf(ctx, &gw) == nil:
		return ctrl.Result{}, nil // another controller's Gateway
	case gw.DeletionTimestamp != nil:
		p.Deleting = true
	default:
		p.Accepted, p.Programmed = parentCondition(&gw, gwv1.GatewayConditionAccepted), parentCondition(&gw, gwv1.GatewayConditionProgrammed)
		t := c.store.get(gwKey)
		if t != nil && t.SetGens[req.NamespacedName] == s.Generation {
			fact = t.listenerSet(req.NamespacedName)
		}
		if fact != nil {
			p.Current = translatedFor(&gw, t)
			if p.Current {
				parentInputs = readiness.Gateway{Generation: gw.Generation, Conditions: gw.Status.Conditions}.Recorded()
			}
		} else if p.Accepted == nil || p.Accepted.Status == metav1.ConditionTrue {
			// Not translated (for this generation) yet: the translation
			// enqueues it. A parent not Accepted needs none.
			return ctrl.Result{}, nil
		}
	}
	f := translate.ListenerSetStatusOf(&s, fact, p)
	if parentInputs.Found {
		f.Conditions = append(f.Conditions, readiness.ListenerSetInputs(parentInputs, readiness.Key(gwKey)))
	}
	st := listenerSetStatus(s.Status, f, s.Generation, metav1.Now())
	if equality.Semantic.DeepEqual(st, s.Status) {
		return ctrl.Result{}, nil
	}
	s.Status = st
	return statusWritten(c.client.Status().Update(ctx, &s))
}

// parentCondition is the Gateway's condition typ for its current
// generation (nil when its status has none for it).
func parentCondition(gw *gwv1.Gateway, typ gwv1.GatewayConditionType) *metav1.Condition {
	if c := meta.FindStatusCondition(gw.Status.Conditions, string(typ)); c != nil && c.ObservedGeneration == gw.Generation {
		return c
	}
	return nil
}

// translatedFor reports whether the Gateway's status was computed from the
// inputs of translation t: the xds-inputs digest its
// readiness.InputsCondition records is t's (the routes and ListenerSets t
// read, at their generations), for the Gateway generation t translated.
func translatedFor(gw *gwv1.Gateway, t *gatewayTranslation) bool {
	rec := readiness.Gateway{Generation: gw.Generation, Conditions: gw.Status.Conditions}.Recorded()
	return rec.Found && t.Generation == gw.Generation && rec.XDS == t.XDSInputs
}

// listenerSetsOfGateway wakes the status reconciler of the ListenerSets
// naming a Gateway whenever it changes (its status above all: the
// ListenerSets' Accepted and Programmed follow the Gateway's), or goes.
func (c *Controller) listenerSetsOfGateway(ctx context.Context, o client.Object) []reconcile.Request {
	var list gwv1.ListenerSetList
	if err := c.client.List(ctx, &list, client.MatchingFields{listenerSetParentIndex: client.ObjectKeyFromObject(o).String()}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	keys := make([]k8stypes.NamespacedName, 0, len(list.Items))
	for i := range list.Items {
		keys = append(keys, client.ObjectKeyFromObject(&list.Items[i]))
	}
	return requests(keys)
}

// listenerSet is the translation's status of ListenerSet key, or nil.
func (t *gatewayTranslation) listenerSet(key k8stypes.NamespacedName) *translate.ListenerSetStatus {
	for i := range t.ListenerSets {
		if t.ListenerSets[i].ListenerSet == key {
			return &t.ListenerSets[i]
		}
	}
	return nil
}

// acceptedListenerSets are the ListenerSets among sets that the
// translation t accepted: their listeners get Service and container ports.
func acceptedListenerSets(t *gatewayTranslation, sets []*gwv1.ListenerSet) []*gwv1.ListenerSet {
	if t == nil {
		return nil
	}
	return translate.AcceptedListenerSets(t.ListenerSets, sets)
}
