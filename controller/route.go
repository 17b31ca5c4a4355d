package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// reconcileHTTPRoute writes berth's entries of an HTTPRoute's
// status.parents (leader).
func (c *Controller) reconcileHTTPRoute(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("httproute")
	defer func() { done(err) }()
	var route gwv1.HTTPRoute
	if err := c.client.Get(ctx, req.NamespacedName, &route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return c.reconcileRouteStatus(ctx, &route, translate.KindHTTPRoute, route.Spec.ParentRefs, &route.Status.RouteStatus)
}

// reconcileGRPCRoute writes berth's entries of a GRPCRoute's
// status.parents (leader).
func (c *Controller) reconcileGRPCRoute(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("grpcroute")
	defer func() { done(err) }()
	var route gwv1.GRPCRoute
	if err := c.client.Get(ctx, req.NamespacedName, &route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return c.reconcileRouteStatus(ctx, &route, translate.KindGRPCRoute, route.Spec.ParentRefs, &route.Status.RouteStatus)
}

// reconcileRouteStatus writes berth's entries of a route's status.parents
// from the facts the translation of each parent Gateway produced. route is
// the object read (status points into it), of the given kind.
func (c *Controller) reconcileRouteStatus(ctx context.Context, route client.Object, kind gwv1.Kind, parentRefs []gwv1.ParentReference, status *gwv1.RouteStatus) (ctrl.Result, error) {
	key := routeKey{kind, client.ObjectKeyFromObject(route)}
	var entries []parentEntry
	for _, p := range parentRefs {
		gwKey, ok := c.routeParentGateway(ctx, route.GetNamespace(), p)
		if !ok {
			continue
		}
		var gw gwv1.Gateway
		if err := c.client.Get(ctx, gwKey, &gw); err != nil || gw.DeletionTimestamp != nil || c.classOf(ctx, &gw) == nil {
			continue // not a berth Gateway (or gone): no entry of berth's
		}
		e := parentEntry{Ref: p}
		if t := c.store.get(gwKey); t != nil {
			for j := range t.Routes[key] {
				f := t.Routes[key][j]
				// A fact for an older route generation is stale: the xDS
				// side enqueues the route again once it has translated.
				if sameParent(f.ParentRef, p) && f.RouteGeneration == route.GetGeneration() {
					e.Fact = &f
				}
			}
		}
		entries = append(entries, e)
	}
	parents := routeParents(status.Parents, gwController(c.opts.ControllerName), entries, metav1.Now())
	if equality.Semantic.DeepEqual(parents, status.Parents) || (len(parents) == 0 && len(status.Parents) == 0) {
		return ctrl.Result{}, nil
	}
	status.Parents = parents
	return statusWritten(c.client.Status().Update(ctx, route))
}
