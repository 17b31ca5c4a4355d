package controller

import (
	"context"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/render"
)

// These map functions turn a change of some object into the Gateways (or
// GatewayClasses) it may affect. Translation dependencies come from the
// store, which records what each Gateway's translation looked up.

func requests(keys []k8stypes.NamespacedName) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(keys))
	for _, k := range keys {
		out = append(out, reconcile.Request{NamespacedName: k})
	}
	return out
}

func (c *Controller) dependents(kind depKind) handler.MapFunc {
	return func(_ context.Context, o client.Object) []reconcile.Request {
		return requests(c.store.dependents(depKey{kind, client.ObjectKeyFromObject(o)}))
	}
}

func (c *Controller) gatewaysOfSlice(_ context.Context, o client.Object) []reconcile.Request {
	svc := o.GetLabels()[discoveryv1.LabelServiceName]
	if svc == "" {
		return nil
	}
	return requests(c.store.dependents(depKey{depService, k8stypes.NamespacedName{Namespace: o.GetNamespace(), Name: svc}}))
}

func (c *Controller) gatewaysOfGrant(_ context.Context, o client.Object) []reconcile.Request {
	return requests(c.store.dependents(depKey{depGrantNamespace, k8stypes.NamespacedName{Name: o.GetNamespace()}}))
}

func (c *Controller) gatewaysOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	keys := c.store.dependents(depKey{depNamespace, k8stypes.NamespacedName{Name: o.GetName()}})
	if c.nsSel != nil {
		return append(requests(keys), c.gatewaysInNamespace(ctx, o)...)
	}
	return requests(keys)
}

// gatewaysInNamespace: a namespace's labels decide whether berth serves its
// Gateways (--watch-namespace-selector).
func (c *Controller) gatewaysInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return c.gatewaysIn(ctx, o.GetName(), "")
}

// gatewaysBeside: the other Gateways in the namespace of Gateway o.
func (c *Controller) gatewaysBeside(ctx context.Context, o client.Object) []reconcile.Request {
	return c.gatewaysIn(ctx, o.GetNamespace(), o.GetName())
}

// gatewaysIn: the Gateways in namespace ns but the one named except.
func (c *Controller) gatewaysIn(ctx context.Context, ns, except string) []reconcile.Request {
	var list gwv1.GatewayList
	if err := c.client.List(ctx, &list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		if list.Items[i].Name != except {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// gatewaysOfRoute: the Gateways a route (of any kind) names now, directly
// or through a ListenerSet, plus those whose last translation saw it (it
// may have left them).
func (c *Controller) gatewaysOfRoute(ctx context.Context, o client.Object) []reconcile.Request {
	var parents []gwv1.ParentReference
	var kind depKind
	switch route := o.(type) {
	case *gwv1.HTTPRoute:
		parents, kind = route.Spec.ParentRefs, depRoute
	case *gwv1.GRPCRoute:
		parents, kind = route.Spec.ParentRefs, depGRPCRoute
	case *gwv1.TCPRoute:
		parents, kind = route.Spec.ParentRefs, depTCPRoute
	case *gwv1.TLSRoute:
		parents, kind = route.Spec.ParentRefs, depTLSRoute
	case *gwv1.UDPRoute:
		parents, kind = route.Spec.ParentRefs, depUDPRoute
	default:
		return nil
	}
	seen := map[k8stypes.NamespacedName]bool{}
	for _, k := range c.store.dependents(depKey{kind, client.ObjectKeyFromObject(o)}) {
		seen[k] = true
	}
	for _, p := range parents {
		if gw, ok := c.routeParentGateway(ctx, o.GetNamespace(), p); ok {
			seen[gw] = true
		}
	}
	keys := make([]k8stypes.NamespacedName, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	return requests(keys)
}

// parentGateway resolves a parentRef that names a Gateway.
func parentGateway(routeNamespace string, p gwv1.ParentReference) (k8stypes.NamespacedName, bool) {
	if p.Group != nil && *p.Group != gwv1.GroupName {
		return k8stypes.NamespacedName{}, false
	}
	if p.Kind != nil && *p.Kind != "Gateway" {
		return k8stypes.NamespacedName{}, false
	}
	ns := routeNamespace
	if p.Namespace != nil {
		ns = string(*p.Namespace)
	}
	return k8stypes.NamespacedName{Namespace: ns, Name: string(p.Name)}, true
}

func (c *Controller) gatewaysOfClass(ctx context.Context, o client.Object) []reconcile.Request {
	var list gwv1.GatewayList
	if err := c.client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if string(list.Items[i].Spec.GatewayClassName) == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// gatewaysOfProxy: Gateways referencing the EnvoyProxy directly, and every
// Gateway of a class referencing it.
func (c *Controller) gatewaysOfProxy(ctx context.Context, o client.Object) []reconcile.Request {
	key := client.ObjectKeyFromObject(o)
	classes := map[string]bool{}
	for _, r := range c.classesOfProxy(ctx, o) {
		classes[r.Name] = true
	}
	var list gwv1.GatewayList
	if err := c.client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		gw := &list.Items[i]
		direct := false
		if inf := gw.Spec.Infrastructure; inf != nil && inf.ParametersRef != nil &&
			string(inf.ParametersRef.Kind) == "EnvoyProxy" && gw.Namespace == key.Namespace && inf.ParametersRef.Name == key.Name {
			direct = true
		}
		if direct || classes[string(gw.Spec.GatewayClassName)] {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(gw)})
		}
	}
	return out
}

func (c *Controller) classesOfProxy(ctx context.Context, o client.Object) []reconcile.Request {
	if _, ok := o.(*v1alpha1.EnvoyProxy); !ok {
		return nil
	}
	key := client.ObjectKeyFromObject(o)
	var list gwv1.GatewayClassList
	if err := c.client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		ref, err := render.ClassParametersRef(&list.Items[i])
		if err == nil && ref != nil && *ref == key {
			out = append(out, reconcile.Request{NamespacedName: k8stypes.NamespacedName{Name: list.Items[i].Name}})
		}
	}
	return out
}

// bundleGateway maps an object of a bundle to its Gateway (by the labels
// render puts on every bundle object).
func bundleGateway(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[render.LabelManagedBy] != render.LabelManagedByValue || l[render.LabelOwningGatewayName] == "" || l[render.LabelOwningGatewayNamespace] != o.GetNamespace() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: k8stypes.NamespacedName{Namespace: o.GetNamespace(), Name: l[render.LabelOwningGatewayName]}}}
}

// loadBalancerChanged passes Service updates whose load-balancer status changed.
func loadBalancerChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Service)
			n, ok2 := e.ObjectNew.(*corev1.Service)
			return ok1 && ok2 && !equality.Semantic.DeepEqual(o.Status.LoadBalancer, n.Status.LoadBalancer)
		},
	}
}

// notOwnStatus passes every Gateway event except an update that changed
// nothing but the status (and the resourceVersion) or that only added
// berth's finalizer: berth writes both itself, and the reconcile that adds
// the finalizer goes on to apply and write status in the same pass (a
// failure later in it retries on its own), so each such write would
// otherwise reconcile the Gateway once more. A spec change moves the
// generation (so does a deletion, for a custom resource); the finalizers
// and the metadata are compared for the rest (another change of the
// finalizers, a removal of berth's included, reconciles).
func notOwnStatus() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		if o == nil || n == nil {
			return true
		}
		return o.GetGeneration() != n.GetGeneration() ||
			(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) && !finalizerAdded(o.GetFinalizers(), n.GetFinalizers()) ||
			!maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations())
	}}
}

// finalizerAdded reports whether after is before with berth's finalizer
// added at the end (controllerutil.AddFinalizer's way).
func finalizerAdded(before, after []string) bool {
	return !slices.Contains(before, render.Finalizer) && slices.Equal(append(slices.Clip(before), render.Finalizer), after)
}
