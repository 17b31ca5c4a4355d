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
	// EnvoyProxies referenced by GatewayClasses and Gateways: their
	// spec.telemetry.accessLog decides the access logs (telemetry.go).
	EnvoyProxies []*v1alpha1.EnvoyProxy
	// ClientTrafficPolicies that may target the Gateways (clienttraffic.go).
	ClientTrafficPolicies []*v1alpha1.ClientTrafficPolicy
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
	// Routes holds one status per (route, parentRef naming this Gateway),
	// HTTPRoutes and GRPCRoutes, in route precedence order then parentRef
	// order.
	Routes []RouteParentStatus
	// ClientTrafficPolicies holds one status per (ClientTrafficPolicy,
	// targetRef naming this Gateway), oldest policy first.
	ClientTrafficPolicies []PolicyStatus
	// Dependencies are the objects this translation looked up.
	Dependencies Dependencies
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

// RouteParentStatus is the status of one route (HTTPRoute or GRPCRoute)
// towards one parentRef that names the translated Gateway.
type RouteParentStatus struct {
	// Kind is the route's kind: KindHTTPRoute or KindGRPCRoute.
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
