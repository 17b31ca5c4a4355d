package translate

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/xds/translate/model"
)

// Input is everything translation reads. The controller fills it from its
// informer cache; `berth translate` fills it from YAML. Objects are read,
// never modified. Order does not matter: the output is sorted.
type Input struct {
	// GatewayClasses decide which Gateways are translated (see
	// Options.ControllerName).
	GatewayClasses []*gwv1.GatewayClass
	// Gateways to translate.
	Gateways []*gwv1.Gateway
	// HTTPRoutes that may attach to the Gateways.
	HTTPRoutes []*gwv1.HTTPRoute
	// GRPCRoutes that may attach to the Gateways (to HTTP and HTTPS
	// listeners, beside HTTPRoutes).
	GRPCRoutes []*gwv1.GRPCRoute
	// TCPRoutes, TLSRoutes and UDPRoutes that may attach to the Gateways'
	// TCP, TLS and UDP listeners.
	TCPRoutes []*gwv1.TCPRoute
	TLSRoutes []*gwv1.TLSRoute
	UDPRoutes []*gwv1.UDPRoute
	// ListenerSets whose parentRef names a Gateway: their listeners join
	// the Gateway's data plane when its spec.allowedListeners admit them
	// (listenerset.go).
	ListenerSets []*gwv1.ListenerSet
	// ReferenceGrants that permit cross-namespace certificateRefs and
	// backendRefs.
	// (A v1beta1.ReferenceGrant converts with (*gwv1.ReferenceGrant)(g).)
	ReferenceGrants []*gwv1.ReferenceGrant
	// Services referenced by backendRefs.
	Services []*corev1.Service
	// EndpointSlices of those Services (label kubernetes.io/service-name).
	EndpointSlices []*discoveryv1.EndpointSlice
	// Secrets referenced by HTTPS listeners' certificateRefs.
	Secrets []*corev1.Secret
	// Namespaces, for allowedRoutes.namespaces.from=Selector.
	Namespaces []*corev1.Namespace
	// BackendTLSPolicies configure TLS to backend Services.
	BackendTLSPolicies []*gwv1.BackendTLSPolicy
	// ConfigMaps holding CA certificates (ca.crt) that BackendTLSPolicies
	// and Gateways' spec.tls.frontend reference.
	ConfigMaps []*corev1.ConfigMap
	// EnvoyProxies referenced by GatewayClasses and Gateways: their
	// spec.telemetry.accessLog decides the access logs (telemetry.go).
	EnvoyProxies []*v1alpha1.EnvoyProxy
	// ClientTrafficPolicies that may target the Gateways (clienttraffic.go).
	ClientTrafficPolicies []*v1alpha1.ClientTrafficPolicy
	// Lookup, when set, answers translation's reads of Services,
	// EndpointSlices, Secrets and Namespaces by key, and those four lists
	// above are ignored. A caller that keeps its own index (the
	// controller's cache) passes the one Gateway it translates, its routes
	// and a Lookup, so that translating a Gateway costs what the Gateway
	// uses, not the size of the cluster.
	Lookup Lookup
}

// Lookup reads objects by key (nil when absent). Translation never modifies
// what it returns.
type Lookup interface {
	Service(key k8stypes.NamespacedName) *corev1.Service
	// EndpointSlices of the Service key (label kubernetes.io/service-name).
	EndpointSlices(service k8stypes.NamespacedName) []*discoveryv1.EndpointSlice
	Secret(key k8stypes.NamespacedName) *corev1.Secret
	Namespace(name string) *corev1.Namespace
}

// Options tune translation. Start from DefaultOptions.
type Options struct {
	// ControllerName selects the GatewayClasses (by spec.controllerName)
	// whose Gateways are translated. Empty translates every Gateway whose
	// class exists.
	ControllerName gwv1.GatewayController
	// PrivilegedPortOffset is added to every listener port below 1024 to
	// get the port Envoy binds, because Envoy runs unprivileged. The render
	// package maps the Service port to the same target port.
	PrivilegedPortOffset int32
	// ListenAddress is the address every Envoy listener binds.
	ListenAddress string
	// ConnectTimeout is the upstream connect timeout of every cluster.
	ConnectTimeout time.Duration
	// UseRemoteAddress makes Envoy treat the peer address as the client
	// address: it appends it to X-Forwarded-For, sets
	// X-Envoy-External-Address and X-Forwarded-Proto from the connection
	// itself. Right for a Gateway that is the edge of the cluster.
	UseRemoteAddress bool
	// XffNumTrustedHops is the number of X-Forwarded-For hops in front of
	// Envoy that are trusted (for example a cloud load balancer that
	// appends to X-Forwarded-For).
	XffNumTrustedHops uint32
}

// DefaultOptions are the options the controller and `berth translate` use.
func DefaultOptions() Options {
	return Options{
		ControllerName:       dataplane.DefaultControllerName,
		PrivilegedPortOffset: dataplane.DefaultPrivilegedPortOffset,
		ListenAddress:        "0.0.0.0",
		ConnectTimeout:       10 * time.Second,
		UseRemoteAddress:     true,
		XffNumTrustedHops:    0,
	}
}

// Validate reports options that cannot produce a valid configuration.
func (o Options) Validate() error {
	var errs []error
	if err := dataplane.CheckPrivilegedPortOffset(o.PrivilegedPortOffset); err != nil {
		errs = append(errs, err)
	}
	if _, err := netip.ParseAddr(o.ListenAddress); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", o.ListenAddress, err))
	}
	if o.ConnectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("connect timeout %s: must be positive", o.ConnectTimeout))
	}
	return errors.Join(errs...)
}

// Result is one Gateway's translation: the xDS resources its proxy
// receives, their version, and status facts for the reconciler.
type Result struct {
	// Gateway is the translated Gateway.
	Gateway k8stypes.NamespacedName
	// Resources by type URL (github.com/envoyproxy/go-control-plane/pkg/resource/v3),
	// each list sorted by name; usable as cachev3.NewSnapshot(Version, Resources).
	Resources map[string][]types.Resource
	// Version is a hash of Resources (Version): equal content, equal
	// version; the xDS server's Publish returns the same one.
	Version string
	// Model is the Envoy-free data plane Resources were built from.
	Model *model.Gateway
	// Listeners holds one status per Gateway listener, in spec order.
	Listeners []ListenerStatus
	// ListenerSets holds one status per ListenerSet whose parentRef names
	// the Gateway, in precedence order (oldest, then namespace/name).
	ListenerSets []ListenerSetStatus
	// AttachedListenerSets counts the ListenerSets that are Accepted.
	AttachedListenerSets int32
	// Routes holds one status per (route, parentRef naming this Gateway),
	// routes of every kind, in route precedence order then parentRef order.
	Routes []RouteParentStatus
	// ClientTrafficPolicies holds one status per (ClientTrafficPolicy,
	// targetRef naming this Gateway), oldest policy first.
	ClientTrafficPolicies []PolicyStatus
	// Dependencies are the objects this translation looked up.
	Dependencies Dependencies
	// Conditions are Gateway-level conditions the translation decides:
	// ResolvedRefs (spec.tls.backend.clientCertificateRef) always, and
	// InsecureFrontendValidationMode while a listener accepts clients
	// without a verified certificate; no timestamps or observedGeneration.
	Conditions []metav1.Condition
	// Policies holds the status of each BackendTLSPolicy towards this
	// Gateway (its ancestor), sorted by policy.
	Policies []PolicyAncestorStatus
}

// Dependencies lists, sorted, the objects a Gateway's translation looked up
// (found or not), so that a controller re-translates only the Gateways a
// change affects: a change to any of them (or its creation or deletion) may
// change the Result. The Gateway itself, GatewayClasses and Options are not
// listed.
type Dependencies struct {
	// HTTPRoutes with a parentRef naming the Gateway.
	HTTPRoutes []k8stypes.NamespacedName
	// GRPCRoutes with a parentRef naming the Gateway.
	GRPCRoutes []k8stypes.NamespacedName
	// TCPRoutes, TLSRoutes and UDPRoutes with a parentRef naming the
	// Gateway.
	TCPRoutes []k8stypes.NamespacedName
	TLSRoutes []k8stypes.NamespacedName
	UDPRoutes []k8stypes.NamespacedName
	// ListenerSets whose parentRef names the Gateway (routes naming them
	// are in the route lists above).
	ListenerSets []k8stypes.NamespacedName
	// Services referenced by backendRefs and mirrors (their EndpointSlices
	// are found by the kubernetes.io/service-name label).
	Services []k8stypes.NamespacedName
	// Secrets referenced by certificateRefs.
	Secrets []k8stypes.NamespacedName
	// ReferenceGrantNamespaces are the namespaces whose ReferenceGrants
	// were consulted for a cross-namespace reference.
	ReferenceGrantNamespaces []string
	// Namespaces whose labels an allowedRoutes selector was matched against.
	Namespaces []string
	// ConfigMaps referenced as CA certificates.
	ConfigMaps []k8stypes.NamespacedName
	// BackendTLSPolicies whose status this translation decided (a policy
	// is found through its target Service, listed in Services).
	BackendTLSPolicies []k8stypes.NamespacedName
	// EnvoyProxies the Gateway's class and the Gateway reference.
	EnvoyProxies []k8stypes.NamespacedName
}

// ListenerStatus is the status of one Gateway listener.
type ListenerStatus struct {
	// Name is the listener's name.
	Name gwv1.SectionName
	// SupportedKinds are the route kinds this listener accepts.
	SupportedKinds []gwv1.RouteGroupKind
	// AttachedRoutes counts routes that select this listener through a
	// parentRef and are allowed by its allowedRoutes.
	AttachedRoutes int32
	// Conditions: Accepted, Programmed, ResolvedRefs, Conflicted; no
	// timestamps or observedGeneration (the controller stamps those).
	Conditions []metav1.Condition
}

// ListenerSetStatus is the status of one ListenerSet towards the Gateway
// its parentRef names.
type ListenerSetStatus struct {
	// ListenerSet is the ListenerSet.
	ListenerSet k8stypes.NamespacedName
	// Conditions: Accepted and Programmed (Programmed: its listeners are in
	// the Gateway's translated configuration; the status written folds in
	// the parent Gateway's own verdicts, ListenerSetStatusOf); no
	// timestamps or observedGeneration.
	Conditions []metav1.Condition
	// Listeners holds one status per listener of the ListenerSet, in spec
	// order; empty when the Gateway does not admit the ListenerSet.
	Listeners []ListenerStatus
}

// Condition returns the condition of the given type, or nil.
func (s ListenerSetStatus) Condition(t gwv1.ListenerSetConditionType) *metav1.Condition {
	return findCondition(s.Conditions, string(t))
}

// AcceptedListenerSets are the ListenerSets among sets that a translation
// whose ListenerSet statuses are statuses (Result.ListenerSets) accepted,
// each with only the listeners that translation programs: their ports join
// the bundle's Service and container ports (the controller and berth render
// decide alike). A conflicted or refused listener gets no port (the API:
// "its network port should not be configured on any network elements").
// A ListenerSet that keeps a listener out is a copy; sets are not changed.
func AcceptedListenerSets(statuses []ListenerSetStatus, sets []*gwv1.ListenerSet) []*gwv1.ListenerSet {
	served := map[k8stypes.NamespacedName]map[gwv1.SectionName]bool{}
	for _, s := range statuses {
		if a := s.Condition(gwv1.ListenerSetConditionAccepted); a == nil || a.Status != metav1.ConditionTrue {
			continue
		}
		names := map[gwv1.SectionName]bool{}
		for _, l := range s.Listeners {
			if p := l.Condition(gwv1.ListenerConditionProgrammed); p != nil && p.Status == metav1.ConditionTrue {
				names[l.Name] = true
			}
		}
		served[s.ListenerSet] = names
	}
	var out []*gwv1.ListenerSet
	for _, s := range sets {
		names, ok := served[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}]
		if !ok {
			continue
		}
		var keep []gwv1.ListenerEntry
		for _, l := range s.Spec.Listeners {
			if names[l.Name] {
				keep = append(keep, l)
			}
		}
		switch {
		case len(keep) == len(s.Spec.Listeners):
			out = append(out, s)
		case len(keep) > 0:
			c := *s
			c.Spec.Listeners = keep
			out = append(out, &c)
		}
	}
	return out
}

// RouteParentStatus is the status of one route (of any kind) towards one parentRef that names the translated Gateway.
type RouteParentStatus struct {
	// Kind is the route's kind: KindHTTPRoute, KindGRPCRoute,
	// KindTCPRoute, KindTLSRoute or KindUDPRoute.
	Kind gwv1.Kind
	// Route is the route.
	Route k8stypes.NamespacedName
	// ParentRef is the parentRef as written in the route's spec.
	ParentRef gwv1.ParentReference
	// Conditions: Accepted, ResolvedRefs, and PartiallyInvalid when rules
	// were dropped; no timestamps or observedGeneration.
	Conditions []metav1.Condition
}

// Condition returns the condition of the given type, or nil.
func (s ListenerStatus) Condition(t gwv1.ListenerConditionType) *metav1.Condition {
	return findCondition(s.Conditions, string(t))
}

// Condition returns the condition of the given type, or nil.
func (s RouteParentStatus) Condition(t gwv1.RouteConditionType) *metav1.Condition {
	return findCondition(s.Conditions, string(t))
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}
