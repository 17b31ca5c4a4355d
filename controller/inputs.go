package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

// This file wires readiness.InputKinds, the kinds whose objects are inputs
// of a Gateway's xDS configuration, into the controller: which are
// installed, how a change of one wakes the Gateway's status reconciler
// (which says Pending first), how the status reconciler reads a Gateway's
// inputs from the cache, and how the xDS reconciler digests the inputs its
// translation read. berth wait reads the same kinds from the API server.

// inputWiring is how the controller reads one input kind.
type inputWiring struct {
	// translated returns the kind's objects in a translation input.
	translated func(*translate.Input) []client.Object
	// gateways are the Gateways a change of an object of the kind may
	// concern (those it names now, and those whose translation used it).
	gateways handler.MapFunc
	// byParent kinds (routes, ListenerSets) are listed through their
	// parent indexes (routesOf, l4RoutesOf); byService kinds
	// (BackendTLSPolicy) by the Services those routes use (policiesOf);
	// the others (ClientTrafficPolicies, of the Gateway's namespace) whole.
	byParent, byService bool
}

// inputWirings has one entry per readiness.InputKinds kind (a unit test
// holds them equal).
func (c *Controller) inputWirings() map[schema.GroupKind]inputWiring {
	return map[schema.GroupKind]inputWiring{
		readiness.KindListenerSet.GroupKind(): {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.ListenerSets) },
			gateways: c.gatewaysOfListenerSet, byParent: true},
		readiness.KindHTTPRoute.GroupKind(): {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.HTTPRoutes) }, gateways: c.gatewaysOfRoute, byParent: true},
		readiness.KindGRPCRoute.GroupKind(): {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.GRPCRoutes) }, gateways: c.gatewaysOfRoute, byParent: true},
		readiness.KindTCPRoute.GroupKind():  {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.TCPRoutes) }, gateways: c.gatewaysOfRoute, byParent: true},
		readiness.KindTLSRoute.GroupKind():  {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.TLSRoutes) }, gateways: c.gatewaysOfRoute, byParent: true},
		readiness.KindUDPRoute.GroupKind():  {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.UDPRoutes) }, gateways: c.gatewaysOfRoute, byParent: true},
		readiness.KindBackendTLSPolicy.GroupKind(): {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.BackendTLSPolicies) },
			gateways: c.gatewaysOfPolicy, byService: true},
		readiness.KindClientTrafficPolicy.GroupKind(): {translated: func(in *translate.Input) []client.Object { return readiness.AsObjects(in.ClientTrafficPolicies) },
			gateways: c.gatewaysOfClientTraffic},
	}
}

// checkWirings fails when a readiness.InputKinds kind is not wired into the
// controller or not in its scheme.
func (c *Controller) checkWirings() error {
	for _, k := range readiness.InputKinds {
		if _, ok := c.wirings[k.Kind.GroupKind()]; !ok {
			return fmt.Errorf("input kind %s is not wired into the controller", k.Kind.GroupKind())
		}
		if _, err := c.mgr.GetScheme().New(k.Kind); err != nil {
			return fmt.Errorf("input kind %s is not in the scheme: %w", k.Kind, err)
		}
	}
	return nil
}

// installedInputKinds are the input kinds the controller reads now: every
// required kind, and the optional kinds whose CRD is installed and watched
// (kinds.go; the translation reads the same ones).
func (c *Controller) installedInputKinds() []readiness.InputKind {
	var out []readiness.InputKind
	for _, k := range readiness.InputKinds {
		if !k.Optional || c.kinds.isServed(k.Kind.GroupKind()) {
			out = append(out, k)
		}
	}
	return out
}

// watchInputs adds to the Gateway status reconciler a watch of every
// required input kind; an optional one gains its watch when its CRD is
// installed (watchInputKind, from kinds.go). A spec change of a route,
// ListenerSet or policy is an input change, and the Gateway says Pending at
// once, without waiting for the translation to wake it.
func (c *Controller) watchInputs(b *builder.Builder) *builder.Builder {
	for _, k := range readiness.InputKinds {
		if k.Optional {
			continue
		}
		obj, _ := c.mgr.GetScheme().New(k.Kind) // checkWirings
		b = b.Watches(obj.(client.Object), handler.EnqueueRequestsFromMapFunc(c.wirings[k.Kind.GroupKind()].gateways),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	return b
}

// watchInputKind adds the Gateway status reconciler's watch of an optional
// kind whose CRD is now installed, if it is an input kind.
func (c *Controller) watchInputKind(gk schema.GroupKind) error {
	k := readiness.InputKindOf(gk)
	if k == nil {
		return nil
	}
	obj, err := c.mgr.GetScheme().New(k.Kind)
	if err != nil {
		return err
	}
	return c.watchKind(c.gwCtrl, obj.(client.Object), c.wirings[gk].gateways, predicate.GenerationChangedPredicate{})
}

// xdsInputs are Gateway key's routes, ListenerSets and policies, as cached
// now.
func (c *Controller) xdsInputs(ctx context.Context, key k8stypes.NamespacedName) (readiness.Inputs, error) {
	var whole, byService []readiness.InputKind
	for _, k := range c.installedInputKinds() {
		switch w := c.wirings[k.Kind.GroupKind()]; {
		case w.byService:
			byService = append(byService, k)
		case !w.byParent:
			whole = append(whole, k)
		}
	}
	objs, err := readiness.ListInputs(ctx, c.client, whole, key.Namespace, func(readiness.InputKind) []client.ListOption {
		return []client.ListOption{client.UnsafeDisableDeepCopy}
	})
	if err != nil {
		return nil, err
	}
	http, grpc, sets, err := c.routesOf(ctx, key)
	if err != nil {
		return nil, err
	}
	objs[readiness.KindHTTPRoute.GroupKind()] = readiness.AsObjects(http)
	objs[readiness.KindGRPCRoute.GroupKind()] = readiness.AsObjects(grpc)
	objs[readiness.KindListenerSet.GroupKind()] = readiness.AsObjects(sets)
	keys := routeParentKeys(key, sets)
	for _, k := range c.kinds.routeKinds() {
		l, err := c.l4RoutesOf(ctx, k, keys)
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", k.kind, err)
		}
		if err := objs.Add(schema.GroupKind{Group: gwv1.GroupName, Kind: string(k.kind)}, l); err != nil {
			return nil, err
		}
	}
	for _, k := range byService {
		policies, err := c.policiesOf(ctx, readiness.RouteServices(key, objs))
		if err != nil {
			return nil, fmt.Errorf("list %ss: %w", k.Kind.Kind, err)
		}
		objs[k.Kind.GroupKind()] = readiness.AsObjects(policies)
	}
	return readiness.SelectInputs(key, objs), nil
}

// translatedInputs are Gateway key's routes and policies in a translation
// input: what that translation read.
func (c *Controller) translatedInputs(key k8stypes.NamespacedName, in *translate.Input) readiness.Inputs {
	objs := readiness.Objects{}
	for _, k := range c.installedInputKinds() {
		objs[k.Kind.GroupKind()] = c.wirings[k.Kind.GroupKind()].translated(in)
	}
	return readiness.SelectInputs(key, objs)
}

// routeObjects are the routes and ListenerSets of a translation input (the
// kinds listed by parent), for readiness.RouteServices.
func (c *Controller) routeObjects(in *translate.Input) readiness.Objects {
	objs := readiness.Objects{}
	for gk, w := range c.wirings {
		if w.byParent {
			objs[gk] = w.translated(in)
		}
	}
	return objs
}

// translatedGatewayInputs are gw's class and EnvoyProxies in a translation
// input (readiness.GatewayInputs): those the translation read. Pure.
func translatedGatewayInputs(gw *gwv1.Gateway, in *translate.Input) readiness.Inputs {
	var class *gwv1.GatewayClass
	for _, gc := range in.GatewayClasses {
		if gc.Name == string(gw.Spec.GatewayClassName) {
			class = gc
		}
	}
	var params [2]*v1alpha1.EnvoyProxy
	if class != nil {
		if refs, err := render.ResolveParametersRefs(class, gw); err == nil {
			for i, ref := range []*k8stypes.NamespacedName{refs.Class, refs.Gateway} {
				for _, ep := range in.EnvoyProxies {
					if ref != nil && ep.Namespace == ref.Namespace && ep.Name == ref.Name {
						params[i] = ep
					}
				}
			}
		}
	}
	return readiness.GatewayInputs(gw, class, params[0], params[1])
}
