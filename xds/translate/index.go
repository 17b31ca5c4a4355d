package translate

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// ErrGatewayNotFound is returned by TranslateGateway for a Gateway that is
// not in the input or whose class is not managed.
var ErrGatewayNotFound = errors.New("gateway not found or not managed")

// Index holds the input keyed for lookups. Build it once per input (the
// controller: once per cache change) and translate any Gateway from it;
// translating one Gateway costs time proportional to what that Gateway
// uses, not to the whole input. An Index is read-only after NewIndex and
// safe for concurrent TranslateGateway calls.
type Index struct {
	opts      Options
	gateways  map[k8stypes.NamespacedName]*gwv1.Gateway
	managed   []k8stypes.NamespacedName
	routes    map[k8stypes.NamespacedName][]*route // routes of every kind by parent Gateway, in precedence order
	routeRank map[*route]int                       // precedence across routes: oldest, then namespace/name
	grants    map[string][]*gwv1.ReferenceGrant    // by namespace (the referent's)
	lookup    Lookup                               // Input.Lookup, or a mapLookup of Input's lists
	// BackendTLSPolicies by target Service, in precedence order, and the
	// ConfigMaps their CA references name (backendtls.go).
	tlsPolicies map[k8stypes.NamespacedName][]*gwv1.BackendTLSPolicy
	configMaps  map[k8stypes.NamespacedName]*corev1.ConfigMap
	classes     map[string]*gwv1.GatewayClass // the ones opts.ControllerName selects
	proxies     map[k8stypes.NamespacedName]*v1alpha1.EnvoyProxy
	ctps        map[k8stypes.NamespacedName][]*v1alpha1.ClientTrafficPolicy // by target Gateway, oldest first
	// ListenerSets by the Gateway their parentRef names, in precedence
	// order, and each ListenerSet's Gateway (listenerset.go).
	listenerSets map[k8stypes.NamespacedName][]*gwv1.ListenerSet
	setParent    map[k8stypes.NamespacedName]k8stypes.NamespacedName
}

// mapLookup is the Lookup of Input's lists.
type mapLookup struct {
	services   map[k8stypes.NamespacedName]*corev1.Service
	slices     map[k8stypes.NamespacedName][]*discoveryv1.EndpointSlice // by Service
	secrets    map[k8stypes.NamespacedName]*corev1.Secret
	namespaces map[string]*corev1.Namespace
}

func (m *mapLookup) Service(k k8stypes.NamespacedName) *corev1.Service { return m.services[k] }
func (m *mapLookup) EndpointSlices(k k8stypes.NamespacedName) []*discoveryv1.EndpointSlice {
	return m.slices[k]
}
func (m *mapLookup) Secret(k k8stypes.NamespacedName) *corev1.Secret { return m.secrets[k] }
func (m *mapLookup) Namespace(name string) *corev1.Namespace         { return m.namespaces[name] }

func newMapLookup(in Input) *mapLookup {
	m := &mapLookup{
		services:   map[k8stypes.NamespacedName]*corev1.Service{},
		slices:     map[k8stypes.NamespacedName][]*discoveryv1.EndpointSlice{},
		secrets:    map[k8stypes.NamespacedName]*corev1.Secret{},
		namespaces: map[string]*corev1.Namespace{},
	}
	for _, s := range in.Services {
		if s != nil {
			m.services[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
		}
	}
	for _, s := range in.EndpointSlices {
		if s == nil || s.Labels[discoveryv1.LabelServiceName] == "" {
			continue
		}
		key := k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
		m.slices[key] = append(m.slices[key], s)
	}
	for _, s := range in.Secrets {
		if s != nil {
			m.secrets[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
		}
	}
	for _, n := range in.Namespaces {
		if n != nil {
			m.namespaces[n.Name] = n
		}
	}
	return m
}

// NewIndex indexes in for translation with opts.
func NewIndex(in Input, opts Options) *Index {
	ix := &Index{
		opts:      opts,
		gateways:  map[k8stypes.NamespacedName]*gwv1.Gateway{},
		routes:    map[k8stypes.NamespacedName][]*route{},
		routeRank: map[*route]int{},
		grants:    map[string][]*gwv1.ReferenceGrant{},
		lookup:    in.Lookup,
		classes:   map[string]*gwv1.GatewayClass{},
		proxies:   map[k8stypes.NamespacedName]*v1alpha1.EnvoyProxy{},
	}
	if ix.lookup == nil {
		ix.lookup = newMapLookup(in)
	}
	classes := ix.classes
	for _, c := range in.GatewayClasses {
		if c != nil && (opts.ControllerName == "" || c.Spec.ControllerName == opts.ControllerName) {
			classes[c.Name] = c
		}
	}
	ix.indexClientTrafficPolicies(in.ClientTrafficPolicies)
	ix.indexListenerSets(in.ListenerSets)
	for _, p := range in.EnvoyProxies {
		if p != nil {
			ix.proxies[k8stypes.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
		}
	}
	// An object given twice counts once: the later copy wins, as in a cache.
	for _, g := range in.Gateways {
		if g != nil {
			ix.gateways[k8stypes.NamespacedName{Namespace: g.Namespace, Name: g.Name}] = g
		}
	}
	for key, g := range ix.gateways {
		if classes[string(g.Spec.GatewayClassName)] != nil {
			ix.managed = append(ix.managed, key)
		}
	}
	sort.Slice(ix.managed, func(i, j int) bool { return lessKey(ix.managed[i], ix.managed[j]) })

	byKey := make(map[routeKey]*route, len(in.HTTPRoutes)+len(in.GRPCRoutes))
	for _, r := range in.HTTPRoutes {
		if r != nil {
			byKey[routeKey{KindHTTPRoute, k8stypes.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = httpRoute(r)
		}
	}
	for _, r := range in.GRPCRoutes {
		if r != nil {
			byKey[routeKey{KindGRPCRoute, k8stypes.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = grpcRoute(r)
		}
	}
	for _, r := range in.TCPRoutes {
		if r != nil {
			byKey[routeKey{KindTCPRoute, k8stypes.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = tcpRoute(r)
		}
	}
	for _, r := range in.TLSRoutes {
		if r != nil {
			byKey[routeKey{KindTLSRoute, k8stypes.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = tlsRoute(r)
		}
	}
	for _, r := range in.UDPRoutes {
		if r != nil {
			byKey[routeKey{KindUDPRoute, k8stypes.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = udpRoute(r)
		}
	}
	routes := make([]*route, 0, len(byKey))
	for _, r := range byKey {
		routes = append(routes, r)
	}
	// The spec's tie-breaker across routes: oldest first, then
	// "{namespace}/{name}" alphabetically (then the kind, so that the order
	// is total when routes of two kinds share a name).
	sort.Slice(routes, func(i, j int) bool {
		a, b := routes[i].meta, routes[j].meta
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return routes[i].kind < routes[j].kind
	})
	for i, r := range routes {
		ix.routeRank[r] = i
		seen := map[k8stypes.NamespacedName]bool{}
		for _, p := range r.parentRefs {
			key, ok := ix.parentGateway(r.meta.Namespace, p)
			if !ok {
				continue
			}
			if !seen[key] {
				seen[key] = true
				ix.routes[key] = append(ix.routes[key], r)
			}
		}
	}
	for _, g := range in.ReferenceGrants {
		if g != nil {
			ix.grants[g.Namespace] = append(ix.grants[g.Namespace], g)
		}
	}
	ix.indexBackendTLS(in)
	return ix
}

// Gateways lists the managed Gateways (class known and, when
// Options.ControllerName is set, controlled by it), sorted.
func (ix *Index) Gateways() []k8stypes.NamespacedName {
	return append([]k8stypes.NamespacedName(nil), ix.managed...)
}

// Translate translates every managed Gateway of in, sorted by key. The
// Gateways are translated on every CPU (the Index is read-only and each
// Gateway's translation is independent of the others'), so the results do
// not depend on the number of CPUs.
func Translate(in Input, opts Options) []*Result {
	ix := NewIndex(in, opts)
	out := make([]*Result, len(ix.managed))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ix.managed)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(out); i = int(next.Add(1) - 1) {
				out[i] = newGatewayTranslator(ix, ix.gateways[ix.managed[i]]).translate()
			}
		}()
	}
	wg.Wait()
	return out
}

// TranslateGateway translates one managed Gateway.
func (ix *Index) TranslateGateway(key k8stypes.NamespacedName) (*Result, error) {
	gw, ok := ix.gateways[key]
	if !ok || !ix.isManaged(key) {
		return nil, fmt.Errorf("translate gateway %s: %w", key, ErrGatewayNotFound)
	}
	t := newGatewayTranslator(ix, gw)
	return t.translate(), nil
}

func (ix *Index) isManaged(key k8stypes.NamespacedName) bool {
	i := sort.Search(len(ix.managed), func(i int) bool { return !lessKey(ix.managed[i], key) })
	return i < len(ix.managed) && ix.managed[i] == key
}

// referenceAllowed reports whether an object of fromKind in fromNS may
// refer to toKind/toName in toNS (same namespace always may).
func (ix *Index) referenceAllowed(fromGroup gwv1.Group, fromKind gwv1.Kind, fromNS string, toGroup gwv1.Group, toKind gwv1.Kind, toNS, toName string) bool {
	if fromNS == toNS {
		return true
	}
	for _, g := range ix.grants[toNS] {
		fromOK := false
		for _, f := range g.Spec.From {
			if f.Group == fromGroup && f.Kind == fromKind && string(f.Namespace) == fromNS {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, to := range g.Spec.To {
			if to.Group == toGroup && to.Kind == toKind && (to.Name == nil || *to.Name == "" || string(*to.Name) == toName) {
				return true
			}
		}
	}
	return false
}

func isGatewayRef(p gwv1.ParentReference) bool {
	return (p.Group == nil || *p.Group == gwv1.GroupName) && (p.Kind == nil || *p.Kind == "Gateway")
}

func nsOr(ns *gwv1.Namespace, def string) string {
	if ns == nil || *ns == "" {
		return def
	}
	return string(*ns)
}

func lessKey(a, b k8stypes.NamespacedName) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}
