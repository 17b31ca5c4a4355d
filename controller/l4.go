package controller

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// The layer-4 route kinds (TCPRoute, TLSRoute, UDPRoute) are optional: a
// cluster may have the Gateway API CRDs without them (older bundles, or a
// platform that does not want them). berth watches, lists and writes
// status only for the kinds whose CRD is installed, and starts on a CRD
// installed later (kinds.go).

// l4Kind is one optional route kind: how to read it and what berth keeps
// for it.
type l4Kind struct {
	kind   gwv1.Kind
	object func() client.Object
	// list is an empty list of the kind; put moves its items into the
	// translation input and their generations into gens.
	list func() client.ObjectList
	put  func(l client.ObjectList, in *translate.Input, gens map[routeKey]int64)
	// status reads a route of the kind: its parentRefs and status.
	status func(o client.Object) ([]gwv1.ParentReference, *gwv1.RouteStatus)
	// queue wakes the kind's status reconciler.
	queue queueRef
}

// newL4Kinds lists every optional route kind berth serves.
func newL4Kinds() []*l4Kind {
	return []*l4Kind{
		{
			kind:   translate.KindTCPRoute,
			object: func() client.Object { return &gwv1.TCPRoute{} },
			list:   func() client.ObjectList { return &gwv1.TCPRouteList{} },
			put: func(l client.ObjectList, in *translate.Input, gens map[routeKey]int64) {
				items := l.(*gwv1.TCPRouteList).Items
				in.TCPRoutes = ptrs(items)
				for i := range items {
					gens[routeKey{translate.KindTCPRoute, client.ObjectKeyFromObject(&items[i])}] = items[i].Generation
				}
			},
			status: func(o client.Object) ([]gwv1.ParentReference, *gwv1.RouteStatus) {
				r := o.(*gwv1.TCPRoute)
				return r.Spec.ParentRefs, &r.Status.RouteStatus
			},
		},
		{
			kind:   translate.KindTLSRoute,
			object: func() client.Object { return &gwv1.TLSRoute{} },
			list:   func() client.ObjectList { return &gwv1.TLSRouteList{} },
			put: func(l client.ObjectList, in *translate.Input, gens map[routeKey]int64) {
				items := l.(*gwv1.TLSRouteList).Items
				in.TLSRoutes = ptrs(items)
				for i := range items {
					gens[routeKey{translate.KindTLSRoute, client.ObjectKeyFromObject(&items[i])}] = items[i].Generation
				}
			},
			status: func(o client.Object) ([]gwv1.ParentReference, *gwv1.RouteStatus) {
				r := o.(*gwv1.TLSRoute)
				return r.Spec.ParentRefs, &r.Status.RouteStatus
			},
		},
		{
			kind:   translate.KindUDPRoute,
			object: func() client.Object { return &gwv1.UDPRoute{} },
			list:   func() client.ObjectList { return &gwv1.UDPRouteList{} },
			put: func(l client.ObjectList, in *translate.Input, gens map[routeKey]int64) {
				items := l.(*gwv1.UDPRouteList).Items
				in.UDPRoutes = ptrs(items)
				for i := range items {
					gens[routeKey{translate.KindUDPRoute, client.ObjectKeyFromObject(&items[i])}] = items[i].Generation
				}
			},
			status: func(o client.Object) ([]gwv1.ParentReference, *gwv1.RouteStatus) {
				r := o.(*gwv1.UDPRoute)
				return r.Spec.ParentRefs, &r.Status.RouteStatus
			},
		},
	}
}

// l4Kind returns the installed optional kind, or nil.
func (c *Controller) l4Kind(kind gwv1.Kind) *l4Kind {
	for _, k := range c.kinds.routeKinds() {
		if k.kind == kind {
			return k
		}
	}
	return nil
}

// installL4Kind starts watching an optional route kind (kinds.go): a route
// change wakes the Gateways it names (or named) in the xDS and Gateway
// controllers, its status reconciler starts (leader), and translations
// list it.
func (c *Controller) installL4Kind(k *l4Kind) error {
	if err := c.mgr.GetFieldIndexer().IndexField(context.Background(), k.object(), routeParentIndex, parentGatewayKeys); err != nil {
		return fmt.Errorf("index %ss by parent: %w", k.kind, err)
	}
	if err := c.watchKind(c.xdsCtrl, k.object(), c.gatewaysOfRoute); err != nil {
		return err
	}
	if err := c.statusController(strings.ToLower(string(k.kind)), k.object(), &k.queue, c.reconcileL4Route(k)); err != nil {
		return err
	}
	c.kinds.addRouteKind(k)
	return nil
}

// reconcileL4Route writes berth's entries of a route's status.parents, for
// an optional route kind (leader).
func (c *Controller) reconcileL4Route(k *l4Kind) reconcile.Func {
	name := strings.ToLower(string(k.kind))
	return func(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
		done := c.metrics.observe(name)
		defer func() { done(err) }()
		route := k.object()
		if err := c.client.Get(ctx, req.NamespacedName, route); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		parents, status := k.status(route)
		return c.reconcileRouteStatus(ctx, route, k.kind, parents, status)
	}
}

// listL4Routes puts into in the installed L4 routes that name one of the
// routeParentIndex keys (a Gateway's and its ListenerSets'), each once,
// with their generations.
func (c *Controller) listL4Routes(ctx context.Context, keys []string, in *translate.Input, gens map[routeKey]int64) error {
	for _, k := range c.kinds.routeKinds() {
		routes, err := c.l4RoutesOf(ctx, k, keys)
		if err != nil {
			return fmt.Errorf("list %ss for translation: %w", k.kind, err)
		}
		k.put(routes, in, gens)
	}
	return nil
}

// l4RoutesOf lists the cached routes of kind k naming one of keys
// (routeParentIndex), each once.
func (c *Controller) l4RoutesOf(ctx context.Context, k *l4Kind, keys []string) (client.ObjectList, error) {
	out := k.list()
	var items []runtime.Object
	seen := map[k8stypes.NamespacedName]bool{}
	for _, key := range keys {
		l := k.list()
		if err := c.client.List(ctx, l, client.MatchingFields{routeParentIndex: key}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		objs, err := meta.ExtractList(l)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if n := client.ObjectKeyFromObject(o.(client.Object)); !seen[n] {
				seen[n] = true
				items = append(items, o)
			}
		}
	}
	return out, meta.SetList(out, items)
}
