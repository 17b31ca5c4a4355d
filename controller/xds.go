package controller

import (
	"context"
	"fmt"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/translate"
)

// reconcileXDS translates one Gateway and publishes its snapshot (only a
// valid one: see publishTranslation). It runs on
// every replica (proxies may connect to any), writes nothing to the API, and
// tells the leader-only status reconcilers what changed.
func (c *Controller) reconcileXDS(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.NamespacedName
	c.hold(ctx, "gateway-xds", key)
	var gw gwv1.Gateway
	if err := c.client.Get(ctx, key, &gw); err != nil {
		if apierrors.IsNotFound(err) {
			c.dropXDS(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if gw.DeletionTimestamp != nil || c.classOf(ctx, &gw) == nil || !c.inScope(ctx, gw.Namespace) {
		c.dropXDS(key)
		return ctrl.Result{}, nil
	}
	in, routeGens, err := c.translateInput(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	policyGens, err := c.backendTLSInput(ctx, &in)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := translate.NewIndex(in, c.opts.Translate).TranslateGateway(key)
	t := publishTranslation(c.xds, &gw, res, err, routeGens, policyGens)
	t.RouteInputs = readiness.RouteInputs(key, in.HTTPRoutes, in.GRPCRoutes).Digest()
	if t.Err != nil {
		c.log.Error(t.Err, "translating or publishing xDS snapshot", "gateway", key.String())
	}
	old := c.store.get(key)
	routes, changed := c.store.put(key, t)
	if changed {
		c.gwQueue.add(key)
	}
	c.enqueueRoutes(routes)
	c.policyQueue.add(changedPolicies(old, t)...)
	return ctrl.Result{}, nil
}

// publisher publishes a Gateway's snapshot (*xds.Server).
type publisher interface {
	Publish(gw k8stypes.NamespacedName, id xds.Identity, resources map[string][]cachetypes.Resource) (string, error)
}

var _ publisher = (*xds.Server)(nil)

// publishTranslation publishes the snapshot of gw's translation res (or
// records the translation error err) and returns what the status
// reconcilers learn: the listener and route facts, and the published
// version or why nothing was published. The publisher validates the
// snapshot (translate.Validate, as `berth translate` does) and keeps the
// previous one served when it is invalid: Err then names the resource and
// the validation error, and the Gateway is not Programmed (Invalid).
func publishTranslation(pub publisher, gw *gwv1.Gateway, res *translate.Result, err error, routeGens map[routeKey]int64, policyGens map[k8stypes.NamespacedName]int64) *gatewayTranslation {
	t := &gatewayTranslation{translated: translated{Generation: gw.Generation}}
	if err != nil {
		t.Err = fmt.Errorf("translate: %w", err)
		return t
	}
	t.Listeners = res.Listeners
	t.Conditions = res.Conditions
	t.Policies = policyFacts(res.Policies, policyGens)
	t.deps = depsOf(res.Dependencies)
	t.Routes = map[routeKey][]routeFact{}
	for _, r := range res.Routes {
		k := routeKey{r.Kind, r.Route}
		t.Routes[k] = append(t.Routes[k], routeFact{ParentRef: r.ParentRef, RouteGeneration: routeGens[k], Conditions: r.Conditions})
	}
	key := k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	id := xds.Identity{Namespace: gw.Namespace, ServiceAccount: render.ServiceAccountName(gw.Namespace, gw.Name)}
	if t.Version, err = pub.Publish(key, id, res.Resources); err != nil {
		t.Err = fmt.Errorf("publish: %w", err)
	}
	return t
}

// enqueueRoutes wakes the status reconciler of each route's kind.
func (c *Controller) enqueueRoutes(routes []routeKey) {
	for _, r := range routes {
		switch r.Kind {
		case translate.KindGRPCRoute:
			c.grpcRouteQueue.add(r.NamespacedName)
		case translate.KindTCPRoute, translate.KindTLSRoute, translate.KindUDPRoute:
			if k := c.l4Kind(r.Kind); k != nil {
				k.queue.add(r.NamespacedName)
			}
		default:
			c.routeQueue.add(r.NamespacedName)
		}
	}
}

// dropXDS forgets a Gateway berth no longer serves.
func (c *Controller) dropXDS(key k8stypes.NamespacedName) {
	c.xds.Remove(key)
	old := c.store.get(key)
	routes, changed := c.store.put(key, nil)
	if changed {
		c.gwQueue.add(key)
	}
	c.enqueueRoutes(routes)
	c.policyQueue.add(changedPolicies(old, nil)...)
}

// translateInput reads translation's input from the cache (shared, not
// copied: translate never modifies its input), with each route's generation.
func (c *Controller) translateInput(ctx context.Context) (translate.Input, map[routeKey]int64, error) {
	var (
		in      translate.Input
		classes gwv1.GatewayClassList
		gws     gwv1.GatewayList
		routes  gwv1.HTTPRouteList
		grpcs   gwv1.GRPCRouteList
		grants  gwv1.ReferenceGrantList
		svcs    corev1.ServiceList
		slices  discoveryv1.EndpointSliceList
		secrets corev1.SecretList
		nss     corev1.NamespaceList
		proxies v1alpha1.EnvoyProxyList
	)
	lists := []client.ObjectList{&classes, &gws, &routes, &grpcs, &grants, &svcs, &slices, &secrets, &proxies}
	if len(c.opts.WatchNamespaces) == 0 || c.nsSel != nil {
		lists = append(lists, &nss)
	}
	for _, l := range lists {
		if err := c.client.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return in, nil, fmt.Errorf("list for translation: %w", err)
		}
	}
	in.GatewayClasses = ptrs(classes.Items)
	in.Gateways = ptrs(gws.Items)
	in.HTTPRoutes = ptrs(routes.Items)
	in.GRPCRoutes = ptrs(grpcs.Items)
	in.ReferenceGrants = ptrs(grants.Items)
	in.Services = ptrs(svcs.Items)
	in.EndpointSlices = ptrs(slices.Items)
	in.Secrets = ptrs(secrets.Items)
	in.Namespaces = ptrs(nss.Items)
	in.EnvoyProxies = ptrs(proxies.Items)
	gens := make(map[routeKey]int64, len(routes.Items)+len(grpcs.Items))
	for i := range routes.Items {
		gens[routeKey{translate.KindHTTPRoute, client.ObjectKeyFromObject(&routes.Items[i])}] = routes.Items[i].Generation
	}
	for i := range grpcs.Items {
		gens[routeKey{translate.KindGRPCRoute, client.ObjectKeyFromObject(&grpcs.Items[i])}] = grpcs.Items[i].Generation
	}
	if err := c.listL4Routes(ctx, &in, gens); err != nil {
		return in, nil, err
	}
	return in, gens, nil
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
