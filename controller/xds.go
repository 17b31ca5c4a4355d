package controller

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	in, routeGens, setGens, lookupErr, err := c.translateInput(ctx, &gw)
	if err != nil {
		return ctrl.Result{}, err
	}
	// ClientTrafficPolicies first: backendTLSInput reads the CA ConfigMaps
	// they reference too.
	ctpGens, err := c.clientTrafficInput(ctx, &gw, &in)
	if err != nil {
		return ctrl.Result{}, err
	}
	policyGens, err := c.backendTLSInput(ctx, &in)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := translate.NewIndex(in, c.opts.Translate).TranslateGateway(key)
	if lerr := lookupErr(); lerr != nil {
		// A cache read failed: the translation may miss an object.
		return ctrl.Result{}, fmt.Errorf("read for translation: %w", lerr)
	}
	t := publishTranslation(c.xds, &gw, res, err, routeGens, policyGens, ctpGens)
	t.SetGens = setGens
	// The inputs this translation read, as the status reconciler records
	// them: Programmed waits until they are the current ones.
	t.Inputs = translatedGatewayInputs(&gw, &in).Digest()
	t.XDSInputs = c.translatedInputs(key, &in).Digest()
	if t.Err != nil {
		c.log.Error(t.Err, "translating or publishing xDS snapshot", "gateway", key.String())
	}
	old := c.store.get(key)
	routes, changed := c.store.put(key, t)
	if changed {
		c.gwQueue.add(key)
	}
	c.enqueueRoutes(routes)
	c.enqueuePolicies(old, t)
	c.enqueueListenerSets(old, t)
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
func publishTranslation(pub publisher, gw *gwv1.Gateway, res *translate.Result, err error, routeGens map[routeKey]int64, policyGens, ctpGens map[k8stypes.NamespacedName]int64) *gatewayTranslation {
	t := &gatewayTranslation{translated: translated{Generation: gw.Generation}}
	if err != nil {
		t.Err = fmt.Errorf("translate: %w", err)
		return t
	}
	t.Listeners = res.Listeners
	t.Conditions = res.Conditions
	t.ListenerSets, t.AttachedListenerSets = res.ListenerSets, res.AttachedListenerSets
	t.Policies = policyFacts(res.Policies, policyGens)
	t.ClientTraffic = clientTrafficFacts(res.ClientTrafficPolicies, ctpGens)
	t.deps = depsOf(res.Dependencies, res.ClientTrafficPolicies)
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
	c.enqueuePolicies(old, nil)
	c.enqueueListenerSets(old, nil)
}

// enqueuePolicies wakes the status reconcilers of the policies whose facts
// differ between two translations of one Gateway (either may be nil).
func (c *Controller) enqueuePolicies(old, cur *gatewayTranslation) {
	var o, n gatewayTranslation
	if old != nil {
		o = *old
	}
	if cur != nil {
		n = *cur
	}
	c.policyQueue.add(changedPolicies(o.Policies, n.Policies)...)
	c.ctpQueue.add(changedPolicies(o.ClientTraffic, n.ClientTraffic)...)
}

// translateInput reads the input of Gateway gw's translation from the cache
// (shared, not copied: translate never modifies its input): the classes, gw
// alone, the ListenerSets naming it and the routes naming either
// (routeParentIndex), the ReferenceGrants, and
// a Lookup for the Services, EndpointSlices, Secrets and Namespaces it
// refers to; with each route's and ListenerSet's generation. Its cost is what gw uses, not
// the number of Gateways. errs returns the first cache error of the Lookup,
// to check after translating.
func (c *Controller) translateInput(ctx context.Context, gw *gwv1.Gateway) (in translate.Input, gens map[routeKey]int64, setGens map[k8stypes.NamespacedName]int64, errs func() error, err error) {
	var classes gwv1.GatewayClassList
	if err := c.client.List(ctx, &classes, client.UnsafeDisableDeepCopy); err != nil {
		return in, nil, nil, nil, fmt.Errorf("list for translation: %w", err)
	}
	proxies, err := c.proxiesOf(ctx, classes.Items, gw)
	if err != nil {
		return in, nil, nil, nil, fmt.Errorf("read for translation: %w", err)
	}
	key := client.ObjectKeyFromObject(gw)
	http, grpc, sets, err := c.routesOf(ctx, key)
	if err != nil {
		return in, nil, nil, nil, fmt.Errorf("list for translation: %w", err)
	}
	lk := &cacheLookup{ctx: ctx, c: c.client, scope: c.opts.WatchNamespaces, namespaces: len(c.opts.WatchNamespaces) == 0 || c.nsSel != nil}
	in = translate.Input{
		GatewayClasses: ptrs(classes.Items),
		Gateways:       []*gwv1.Gateway{gw},
		HTTPRoutes:     http,
		GRPCRoutes:     grpc,
		ListenerSets:   sets,
		EnvoyProxies:   proxies,
		Lookup:         lk,
	}
	gens = make(map[routeKey]int64, len(http)+len(grpc))
	for _, r := range http {
		gens[routeKey{translate.KindHTTPRoute, client.ObjectKeyFromObject(r)}] = r.Generation
	}
	for _, r := range grpc {
		gens[routeKey{translate.KindGRPCRoute, client.ObjectKeyFromObject(r)}] = r.Generation
	}
	setGens = make(map[k8stypes.NamespacedName]int64, len(sets))
	for _, s := range sets {
		setGens[client.ObjectKeyFromObject(s)] = s.Generation
	}
	if err := c.listL4Routes(ctx, routeParentKeys(key, sets), &in, gens); err != nil {
		return in, nil, nil, nil, err
	}
	if in.ReferenceGrants, err = c.grantsFrom(ctx, referringNamespaces(gw, c.routeObjects(&in))); err != nil {
		return in, nil, nil, nil, fmt.Errorf("list for translation: %w", err)
	}
	return in, gens, setGens, lk.error, nil
}

// grantFromIndex indexes ReferenceGrants by the namespaces they permit
// references from (spec.from[].namespace).
const grantFromIndex = "berth.grantFrom"

// grantFromNamespaces are the namespaces ReferenceGrant o permits
// references from, each once.
func grantFromNamespaces(o client.Object) []string {
	g, ok := o.(*gwv1.ReferenceGrant)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range g.Spec.From {
		if !slices.Contains(out, string(f.Namespace)) {
			out = append(out, string(f.Namespace))
		}
	}
	return out
}

// referringNamespaces are the namespaces of the objects of gw's
// translation that can refer to another namespace: gw's own (its
// listeners' certificates and CA references, its ClientTrafficPolicies)
// and those of its routes and ListenerSets (objs). Only ReferenceGrants
// from these namespaces can permit any of its references. Sorted.
func referringNamespaces(gw *gwv1.Gateway, objs readiness.Objects) []string {
	out := []string{gw.Namespace}
	for _, l := range objs {
		for _, o := range l {
			if !slices.Contains(out, o.GetNamespace()) {
				out = append(out, o.GetNamespace())
			}
		}
	}
	slices.Sort(out)
	return out
}

// grantsFrom lists the cached ReferenceGrants permitting references from
// any of namespaces (through grantFromIndex), each once, by
// namespace/name: a translation reads those its objects can use instead of
// every ReferenceGrant of the cluster.
func (c *Controller) grantsFrom(ctx context.Context, namespaces []string) ([]*gwv1.ReferenceGrant, error) {
	return listByIndex(ctx, c.client, grantFromIndex, namespaces,
		func() *gwv1.ReferenceGrantList { return &gwv1.ReferenceGrantList{} },
		func(l *gwv1.ReferenceGrantList) []gwv1.ReferenceGrant { return l.Items })
}

// listByIndex lists through r the cached objects whose field index has any
// of keys, each once, sorted by namespace/name (the cached objects
// themselves: read only).
func listByIndex[T any, P interface {
	*T
	client.Object
}, L client.ObjectList](ctx context.Context, r client.Reader, index string, keys []string, newList func() L, items func(L) []T) ([]P, error) {
	seen := map[k8stypes.NamespacedName]bool{}
	var out []P
	for _, key := range keys {
		l := newList()
		if err := r.List(ctx, l, client.MatchingFields{index: key}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for _, o := range ptrs(items(l)) {
			p := P(o)
			if k := client.ObjectKeyFromObject(p); !seen[k] {
				seen[k] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return client.ObjectKeyFromObject(out[i]).String() < client.ObjectKeyFromObject(out[j]).String()
	})
	return out, nil
}

// proxiesOf reads the EnvoyProxies that gw's class and gw refer to — the
// ones translation reads (render.ResolveParametersRefs, as translate's
// telemetry resolves them) — instead of every EnvoyProxy in the cluster,
// so a translation's cost does not grow with the fleet. A reference that
// does not resolve, or an EnvoyProxy that does not exist, is left out: the
// translation then sees what it would see without it.
func (c *Controller) proxiesOf(ctx context.Context, classes []gwv1.GatewayClass, gw *gwv1.Gateway) ([]*v1alpha1.EnvoyProxy, error) {
	var class *gwv1.GatewayClass
	for i := range classes {
		if classes[i].Name == string(gw.Spec.GatewayClassName) {
			class = &classes[i]
		}
	}
	if class == nil {
		return nil, nil
	}
	refs, err := render.ResolveParametersRefs(class, gw)
	if err != nil {
		return nil, nil
	}
	var out []*v1alpha1.EnvoyProxy
	for _, ref := range []*k8stypes.NamespacedName{refs.Class, refs.Gateway} {
		if ref == nil || !c.cachedNamespace(ref.Namespace) {
			continue
		}
		ep := &v1alpha1.EnvoyProxy{}
		switch err := c.client.Get(ctx, *ref, ep); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			out = append(out, ep)
		}
	}
	return out, nil
}

// routeParentIndex indexes routes (HTTP, GRPC, and the optional TCP, TLS
// and UDP kinds once installed) by the Gateways their parentRefs name
// ("namespace/name") and the ListenerSets they name (listenerSetRouteKey).
const routeParentIndex = "berth.parentGateway"

func parentGatewayKeys(o client.Object) []string {
	var refs []gwv1.ParentReference
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		refs = r.Spec.ParentRefs
	case *gwv1.GRPCRoute:
		refs = r.Spec.ParentRefs
	case *gwv1.TCPRoute:
		refs = r.Spec.ParentRefs
	case *gwv1.TLSRoute:
		refs = r.Spec.ParentRefs
	case *gwv1.UDPRoute:
		refs = r.Spec.ParentRefs
	}
	var out []string
	for _, p := range refs {
		if gw, ok := parentGateway(o.GetNamespace(), p); ok && !slices.Contains(out, gw.String()) {
			out = append(out, gw.String())
		}
		if s, ok := parentListenerSet(o.GetNamespace(), p); ok && !slices.Contains(out, listenerSetRouteKey(s)) {
			out = append(out, listenerSetRouteKey(s))
		}
	}
	return out
}

// routesOf lists the cached ListenerSets naming Gateway key, and the
// routes naming the Gateway or one of those ListenerSets (each once).
func (c *Controller) routesOf(ctx context.Context, key k8stypes.NamespacedName) ([]*gwv1.HTTPRoute, []*gwv1.GRPCRoute, []*gwv1.ListenerSet, error) {
	sets, err := c.listenerSetsOf(ctx, key)
	if err != nil {
		return nil, nil, nil, err
	}
	keys := routeParentKeys(key, sets)
	var (
		http []*gwv1.HTTPRoute
		grpc []*gwv1.GRPCRoute
	)
	seen := map[routeKey]bool{}
	for _, k := range keys {
		var (
			hl gwv1.HTTPRouteList
			gl gwv1.GRPCRouteList
		)
		for _, l := range []client.ObjectList{&hl, &gl} {
			if err := c.client.List(ctx, l, client.MatchingFields{routeParentIndex: k}, client.UnsafeDisableDeepCopy); err != nil {
				return nil, nil, nil, fmt.Errorf("list routes: %w", err)
			}
		}
		for _, r := range ptrs(hl.Items) {
			if rk := (routeKey{translate.KindHTTPRoute, client.ObjectKeyFromObject(r)}); !seen[rk] {
				seen[rk] = true
				http = append(http, r)
			}
		}
		for _, r := range ptrs(gl.Items) {
			if rk := (routeKey{translate.KindGRPCRoute, client.ObjectKeyFromObject(r)}); !seen[rk] {
				seen[rk] = true
				grpc = append(grpc, r)
			}
		}
	}
	return http, grpc, sets, nil
}

// routeParentKeys are the routeParentIndex keys of the routes of Gateway
// key: the Gateway's and those of the ListenerSets naming it.
func routeParentKeys(key k8stypes.NamespacedName, sets []*gwv1.ListenerSet) []string {
	keys := []string{key.String()}
	for _, s := range sets {
		keys = append(keys, listenerSetRouteKey(client.ObjectKeyFromObject(s)))
	}
	return keys
}

// cachedNamespace reports whether the cache holds namespace ns's objects
// (--watch-namespaces; none: every namespace). A read outside them is an
// error of the cache, not a missing object.
func (c *Controller) cachedNamespace(ns string) bool {
	return len(c.opts.WatchNamespaces) == 0 || slices.Contains(c.opts.WatchNamespaces, ns)
}

// ReaderLookup is translation's Lookup over r (an API client, or a cache)
// in every namespace: the controller's own over its cache is the same one,
// scoped to its watched namespaces. berth diff translates through it. err
// returns the first read that failed other than with NotFound.
func ReaderLookup(ctx context.Context, r client.Reader) (lk translate.Lookup, err func() error) {
	l := &cacheLookup{ctx: ctx, c: r, namespaces: true}
	return l, l.error
}

// cacheLookup is translation's Lookup over the controller's cache.
type cacheLookup struct {
	ctx   context.Context
	c     client.Reader
	scope []string // the watched namespaces (empty: all)
	// namespaces is false when Namespaces are not watched (no
	// allowedRoutes selector can then match a label).
	namespaces bool

	mu  sync.Mutex
	err error
}

// get reads key into o; false when absent, outside the watched namespaces,
// or unreadable (the first such error is kept for error()).
func (l *cacheLookup) get(key k8stypes.NamespacedName, o client.Object) bool {
	if key.Namespace != "" && len(l.scope) > 0 && !slices.Contains(l.scope, key.Namespace) {
		return false
	}
	err := l.c.Get(l.ctx, key, o)
	if err != nil && !apierrors.IsNotFound(err) {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
	}
	return err == nil
}

func (l *cacheLookup) error() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *cacheLookup) Service(key k8stypes.NamespacedName) *corev1.Service {
	var s corev1.Service
	if !l.get(key, &s) {
		return nil
	}
	return &s
}

func (l *cacheLookup) EndpointSlices(svc k8stypes.NamespacedName) []*discoveryv1.EndpointSlice {
	if len(l.scope) > 0 && !slices.Contains(l.scope, svc.Namespace) {
		return nil
	}
	var list discoveryv1.EndpointSliceList
	if err := l.c.List(l.ctx, &list, client.InNamespace(svc.Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}, client.UnsafeDisableDeepCopy); err != nil {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
		return nil
	}
	return ptrs(list.Items)
}

func (l *cacheLookup) Secret(key k8stypes.NamespacedName) *corev1.Secret {
	var s corev1.Secret
	if !l.get(key, &s) {
		return nil
	}
	return &s
}

func (l *cacheLookup) Namespace(name string) *corev1.Namespace {
	if !l.namespaces {
		return nil
	}
	var n corev1.Namespace
	if !l.get(k8stypes.NamespacedName{Name: name}, &n) {
		return nil
	}
	return &n
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// stripService keeps of a cached Service what berth reads: translation
// its ports (backendRefs), the gateway controller its type, cluster IPs
// and load-balancer status (status addresses, loadBalancerChanged) and its
// labels (bundleGateway). Every Service of the cluster is cached.
func stripService(o any) (any, error) {
	s, ok := o.(*corev1.Service)
	if !ok {
		return o, nil
	}
	return &corev1.Service{TypeMeta: s.TypeMeta, ObjectMeta: strippedMeta(&s.ObjectMeta),
		Spec:   corev1.ServiceSpec{Type: s.Spec.Type, ClusterIP: s.Spec.ClusterIP, ClusterIPs: s.Spec.ClusterIPs, Ports: s.Spec.Ports},
		Status: s.Status}, nil
}

// stripEndpointSlice keeps of a cached EndpointSlice what translation reads
// (translate's endpoints: address type, ports, each endpoint's addresses
// and readiness) and the Service name label it is found by. Every
// EndpointSlice of the cluster is cached.
func stripEndpointSlice(o any) (any, error) {
	s, ok := o.(*discoveryv1.EndpointSlice)
	if !ok {
		return o, nil
	}
	meta := strippedMeta(&s.ObjectMeta)
	meta.Labels = nil
	if v, ok := s.Labels[discoveryv1.LabelServiceName]; ok {
		meta.Labels = map[string]string{discoveryv1.LabelServiceName: v}
	}
	out := &discoveryv1.EndpointSlice{TypeMeta: s.TypeMeta, ObjectMeta: meta, AddressType: s.AddressType, Ports: s.Ports,
		Endpoints: make([]discoveryv1.Endpoint, len(s.Endpoints))}
	for i, ep := range s.Endpoints {
		out.Endpoints[i] = discoveryv1.Endpoint{Addresses: ep.Addresses, Conditions: discoveryv1.EndpointConditions{Ready: ep.Conditions.Ready}}
	}
	return out, nil
}

// strippedMeta is the metadata a stripped cached object keeps: its
// identity, labels and lifecycle; annotations and owner references go.
func strippedMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp, Labels: m.Labels}
}
