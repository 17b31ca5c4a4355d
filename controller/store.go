package controller

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// depKind is a kind of object a Gateway's translation depends on.
type depKind uint8

const (
	depRoute depKind = iota // an HTTPRoute
	depGRPCRoute
	depService
	depSecret
	depGrantNamespace
	depNamespace
	depConfigMap        // a ConfigMap referenced as CA certificates
	depBackendTLSPolicy // a BackendTLSPolicy whose status the translation decided
	depTCPRoute
	depTLSRoute
	depUDPRoute
	depClientTrafficPolicy // a ClientTrafficPolicy whose status the translation decided
	depListenerSet         // a ListenerSet naming the Gateway
)

type depKey struct {
	kind depKind
	key  k8stypes.NamespacedName
}

// routeKey names a route of any kind (translate.KindHTTPRoute,
// KindGRPCRoute, KindTCPRoute, KindTLSRoute, KindUDPRoute).
type routeKey struct {
	Kind gwv1.Kind
	k8stypes.NamespacedName
}

// gatewayTranslation is the xDS side's latest knowledge of one Gateway.
type gatewayTranslation struct {
	translated
	// Routes are the route status facts, per route.
	Routes map[routeKey][]routeFact
	// Policies are the BackendTLSPolicy status facts, per policy.
	Policies map[k8stypes.NamespacedName]policyFact
	// ClientTraffic are the ClientTrafficPolicy status facts, per policy.
	ClientTraffic map[k8stypes.NamespacedName]policyFact
	// SetGens are the generations of the ListenerSets translated (their
	// facts are translated.ListenerSets).
	SetGens map[k8stypes.NamespacedName]int64
	deps    []depKey
}

// store holds what the xDS reconciler (every replica) learned, for the
// status reconcilers (leader) and for mapping object changes to Gateways.
type store struct {
	mu      sync.RWMutex
	gws     map[k8stypes.NamespacedName]*gatewayTranslation
	reverse map[depKey]map[k8stypes.NamespacedName]struct{}
}

func newStore() *store {
	return &store{gws: map[k8stypes.NamespacedName]*gatewayTranslation{}, reverse: map[depKey]map[k8stypes.NamespacedName]struct{}{}}
}

// put records gw's translation and returns the routes whose facts changed
// (in the old or the new translation) and whether the Gateway's own facts
// (version, listeners, error) changed.
func (s *store) put(gw k8stypes.NamespacedName, t *gatewayTranslation) (routes []routeKey, gwChanged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.gws[gw]
	s.unindex(gw, old)
	if t == nil {
		delete(s.gws, gw)
	} else {
		s.gws[gw] = t
		for _, d := range t.deps {
			m := s.reverse[d]
			if m == nil {
				m = map[k8stypes.NamespacedName]struct{}{}
				s.reverse[d] = m
			}
			m[gw] = struct{}{}
		}
	}
	var oldRoutes, newRoutes map[routeKey][]routeFact
	if old != nil {
		oldRoutes = old.Routes
	}
	if t != nil {
		newRoutes = t.Routes
	}
	for r, f := range oldRoutes {
		if nf, ok := newRoutes[r]; !ok || !equality.Semantic.DeepEqual(f, nf) {
			routes = append(routes, r)
		}
	}
	for r := range newRoutes {
		if _, ok := oldRoutes[r]; !ok {
			routes = append(routes, r)
		}
	}
	switch {
	case old == nil || t == nil:
		gwChanged = old != t
	default:
		gwChanged = old.Generation != t.Generation || old.Version != t.Version || old.Inputs != t.Inputs || old.XDSInputs != t.XDSInputs ||
			(old.Err == nil) != (t.Err == nil) || (old.Err != nil && old.Err.Error() != t.Err.Error()) ||
			!equality.Semantic.DeepEqual(old.Listeners, t.Listeners) || !equality.Semantic.DeepEqual(old.Conditions, t.Conditions) ||
			old.AttachedListenerSets != t.AttachedListenerSets || !equality.Semantic.DeepEqual(old.ListenerSets, t.ListenerSets)
	}
	return routes, gwChanged
}

func (s *store) unindex(gw k8stypes.NamespacedName, old *gatewayTranslation) {
	if old == nil {
		return
	}
	for _, d := range old.deps {
		delete(s.reverse[d], gw)
		if len(s.reverse[d]) == 0 {
			delete(s.reverse, d)
		}
	}
}

// get returns gw's translation (nil when unknown). Read-only.
func (s *store) get(gw k8stypes.NamespacedName) *gatewayTranslation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gws[gw]
}

// dependents lists the Gateways whose translation looked up d.
func (s *store) dependents(d depKey) []k8stypes.NamespacedName {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]k8stypes.NamespacedName, 0, len(s.reverse[d]))
	for gw := range s.reverse[d] {
		out = append(out, gw)
	}
	return out
}

// depsOf turns translate's dependencies, and the ClientTrafficPolicies
// whose status the translation decided, into store keys.
func depsOf(d translate.Dependencies, clientTraffic []translate.PolicyStatus) []depKey {
	var out []depKey
	for _, p := range clientTraffic {
		out = append(out, depKey{depClientTrafficPolicy, p.Policy})
	}
	for _, r := range d.HTTPRoutes {
		out = append(out, depKey{depRoute, r})
	}
	for _, r := range d.GRPCRoutes {
		out = append(out, depKey{depGRPCRoute, r})
	}
	for _, r := range d.TCPRoutes {
		out = append(out, depKey{depTCPRoute, r})
	}
	for _, r := range d.TLSRoutes {
		out = append(out, depKey{depTLSRoute, r})
	}
	for _, r := range d.UDPRoutes {
		out = append(out, depKey{depUDPRoute, r})
	}
	for _, r := range d.ListenerSets {
		out = append(out, depKey{depListenerSet, r})
	}
	for _, r := range d.Services {
		out = append(out, depKey{depService, r})
	}
	for _, r := range d.Secrets {
		out = append(out, depKey{depSecret, r})
	}
	for _, ns := range d.ReferenceGrantNamespaces {
		out = append(out, depKey{depGrantNamespace, k8stypes.NamespacedName{Name: ns}})
	}
	for _, ns := range d.Namespaces {
		out = append(out, depKey{depNamespace, k8stypes.NamespacedName{Name: ns}})
	}
	for _, r := range d.ConfigMaps {
		out = append(out, depKey{depConfigMap, r})
	}
	for _, r := range d.BackendTLSPolicies {
		out = append(out, depKey{depBackendTLSPolicy, r})
	}
	return out
}
