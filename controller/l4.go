package controller

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// The layer-4 route kinds (TCPRoute, TLSRoute, UDPRoute) are optional: a
// cluster may have the Gateway API CRDs without them (older bundles, or a
// platform that does not want them). berth looks them up once at start-up
// and watches, lists and writes status only for the kinds whose CRD is
// installed; the others are logged as skipped. A CRD installed later is
// picked up when berth restarts.

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

// discoverL4Kinds keeps the optional route kinds whose CRD the API server
// serves (in version v1) and logs the others as skipped.
func (c *Controller) discoverL4Kinds(mapper meta.RESTMapper) error {
	var skipped []string
	for _, k := range newL4Kinds() {
		_, err := mapper.RESTMapping(schema.GroupKind{Group: gwv1.GroupName, Kind: string(k.kind)}, gwv1.GroupVersion.Version)
		switch {
		case meta.IsNoMatchError(err):
			skipped = append(skipped, string(k.kind))
		case err != nil:
			return fmt.Errorf("look up %s: %w", k.kind, err)
		default:
			c.l4 = append(c.l4, k)
		}
	}
	if len(skipped) > 0 {
		c.log.Info("route kinds not installed in the cluster (no CRD in "+gwv1.GroupVersion.String()+"): not watched, Gateways still served",
			"skipped", strings.Join(skipped, ","))
	}
	return nil
}

// l4Kind returns the installed optional kind, or nil.
func (c *Controller) l4Kind(kind gwv1.Kind) *l4Kind {
	for _, k := range c.l4 {
		if k.kind == kind {
			return k
		}
	}
	return nil
}

// watchL4Routes adds a watch of every installed optional route kind that
// wakes the Gateways a route names (or named); with preds.
func (c *Controller) watchL4Routes(b *builder.Builder, preds ...predicate.Predicate) *builder.Builder {
	for _, k := range c.l4 {
		b = b.Watches(k.object(), handler.EnqueueRequestsFromMapFunc(c.gatewaysOfRoute), builder.WithPredicates(preds...))
	}
	return b
}

// setupL4RouteStatus adds the status reconciler of each installed optional
// route kind (leader).
func (c *Controller) setupL4RouteStatus() error {
	for _, k := range c.l4 {
		name := strings.ToLower(string(k.kind))
		if err := c.statusController(name, k.object(), &k.queue, c.reconcileL4Route(k)); err != nil {
			return err
		}
	}
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

// listL4Routes adds the installed optional route kinds to a translation
// input.
func (c *Controller) listL4Routes(ctx context.Context, in *translate.Input, gens map[routeKey]int64) error {
	for _, k := range c.l4 {
		l := k.list()
		if err := c.client.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list %ss for translation: %w", k.kind, err)
		}
		k.put(l, in, gens)
	}
	return nil
}
