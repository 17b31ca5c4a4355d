package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// reconcileRoute writes berth's entries of an HTTPRoute's status.parents from
// the facts the translation of each parent Gateway produced (leader).
func (c *Controller) reconcileRoute(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("httproute")
	defer func() { done(err) }()
	var route gwv1.HTTPRoute
	if err := c.client.Get(ctx, req.NamespacedName, &route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key := req.NamespacedName
	var entries []parentEntry
	for _, p := range route.Spec.ParentRefs {
		gwKey, ok := parentGateway(route.Namespace, p)
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
				if sameParent(f.ParentRef, p) && f.RouteGeneration == route.Generation {
					e.Fact = &f
				}
			}
		}
		entries = append(entries, e)
	}
	parents := routeParents(route.Status.Parents, gwController(c.opts.ControllerName), entries, metav1.Now())
	if equality.Semantic.DeepEqual(parents, route.Status.Parents) || (len(parents) == 0 && len(route.Status.Parents) == 0) {
		return ctrl.Result{}, nil
	}
	route.Status.Parents = parents
	return statusWritten(c.client.Status().Update(ctx, &route))
}
