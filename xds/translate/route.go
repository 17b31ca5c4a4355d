package translate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Route kinds berth translates.
const (
	KindHTTPRoute gwv1.Kind = "HTTPRoute"
	KindGRPCRoute gwv1.Kind = "GRPCRoute"
	KindTCPRoute  gwv1.Kind = "TCPRoute"
	KindTLSRoute  gwv1.Kind = "TLSRoute"
	KindUDPRoute  gwv1.Kind = "UDPRoute"
)

var (
	httpRouteKind = gwv1.RouteGroupKind{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: KindHTTPRoute}
	grpcRouteKind = gwv1.RouteGroupKind{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: KindGRPCRoute}
	tcpRouteKind  = gwv1.RouteGroupKind{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: KindTCPRoute}
	tlsRouteKind  = gwv1.RouteGroupKind{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: KindTLSRoute}
	udpRouteKind  = gwv1.RouteGroupKind{Group: ptr(gwv1.Group(gwv1.GroupName)), Kind: KindUDPRoute}
)

// route is any route kind: what attachment, precedence and status need is
// common to all; only compiling the rules differs (see compile and
// grpcRule for HTTPRoutes and GRPCRoutes, compileL4 for TCPRoutes,
// TLSRoutes and UDPRoutes).
type route struct {
	kind       gwv1.Kind
	meta       *metav1.ObjectMeta
	parentRefs []gwv1.ParentReference
	hostnames  []gwv1.Hostname
	http       *gwv1.HTTPRoute // set when kind is HTTPRoute
	grpc       *gwv1.GRPCRoute // set when kind is GRPCRoute
	// l4 holds the backendRefs of each rule of a TCPRoute, TLSRoute or
	// UDPRoute (set for those kinds only).
	l4 [][]gwv1.BackendRef
}

func httpRoute(r *gwv1.HTTPRoute) *route {
	return &route{kind: KindHTTPRoute, meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames, http: r}
}

func grpcRoute(r *gwv1.GRPCRoute) *route {
	return &route{kind: KindGRPCRoute, meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames, grpc: r}
}

func (r *route) key() k8stypes.NamespacedName {
	return k8stypes.NamespacedName{Namespace: r.meta.Namespace, Name: r.meta.Name}
}

// routeKey identifies a route across kinds.
type routeKey struct {
	kind gwv1.Kind
	k8stypes.NamespacedName
}
