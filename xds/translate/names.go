package translate

import (
	"strconv"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Every Envoy resource name berth generates is derived here. Each name
// starts with a prefix naming what it stands for, so names of one type can
// never collide (a Service cluster can never be mistaken for the invalid
// backend cluster, a listener's route table for another's). Names only have
// to be unique within one Gateway's snapshot: each proxy sees only its own.

const (
	// InvalidBackendCluster stands for backendRefs that could not be
	// resolved, in weighted routes. It deliberately names no cluster: Envoy
	// answers requests routed to a missing cluster with the route's
	// cluster_not_found_response_code, which berth sets to 500 as the
	// Gateway API requires. (An empty cluster would answer 503, and the
	// router adds route headers only after choosing a host, too late for a
	// local reply mapper to tell the two apart.)
	InvalidBackendCluster = "berth/invalid-backend"

	// Name of the router HTTP filter.
	routerFilterName = "envoy.filters.http.router"
	// Name of the HTTP connection manager network filter.
	hcmFilterName = "envoy.filters.network.http_connection_manager"
	// Name of the TLS inspector listener filter.
	tlsInspectorName = "envoy.filters.listener.tls_inspector"
	// Name of the TLS transport socket.
	tlsTransportSocketName = "envoy.transport_sockets.tls"
	// Name of the TCP proxy network filter.
	tcpProxyFilterName = "envoy.filters.network.tcp_proxy"
	// Name of the connection limit network filter.
	connectionLimitFilterName = "envoy.filters.network.connection_limit"
	// Names of the original IP detection extensions.
	xffDetectionName          = "envoy.extensions.http.original_ip_detection.xff"
	customHeaderDetectionName = "envoy.extensions.http.original_ip_detection.custom_header"
	// Name of the UDP proxy listener filter.
	udpProxyFilterName = "envoy.filters.udp_listener.udp_proxy"
)

// ListenerName is the Envoy listener for a Gateway port.
func ListenerName(port int32) string { return "listener/" + strconv.Itoa(int(port)) }

// HTTPRouteConfigName is the route table shared by the HTTP listeners of one
// Gateway port.
func HTTPRouteConfigName(port int32) string { return "route/" + strconv.Itoa(int(port)) }

// HTTPSRouteConfigName is the route table of one HTTPS Gateway listener (its
// own filter chain, selected by SNI).
func HTTPSRouteConfigName(port int32, listener string) string {
	return "route/" + strconv.Itoa(int(port)) + "/" + listener
}

// ServiceClusterName is the cluster (and ClusterLoadAssignment) of one
// Service port.
func ServiceClusterName(namespace, name string, port int32) string {
	return "service/" + namespace + "/" + name + "/" + strconv.Itoa(int(port))
}

// SecretName is the SDS secret holding a Kubernetes TLS Secret.
func SecretName(namespace, name string) string { return "secret/" + namespace + "/" + name }

// ListenerSetListenerName is how Envoy resources name a ListenerSet's
// listener (in filter chain and route table names and stat prefixes): its
// name need only be unique within its ListenerSet, so it is scoped by the
// ListenerSet, and the prefix keeps it apart from the Gateway's own
// listener names.
func ListenerSetListenerName(namespace, listenerSet, listener string) string {
	return "listenerset/" + namespace + "/" + listenerSet + "/" + listener
}

// filterChainName names an HTTPS filter chain by its Gateway listener.
func filterChainName(listener string) string { return "listener/" + listener }

// virtualHostName names a virtual host by its domain, dots as "_" (a
// hostname has no "_"): the name is a part of the per-route stat names
// (vhost.<vhost>.route.<prefix>.*), whose parts dots separate.
func virtualHostName(hostname string) string {
	return "vhost/" + strings.ReplaceAll(hostname, ".", "_")
}

// routeName names one Envoy route by the route (HTTPRoute or GRPCRoute)
// rule and match it came from: "httproute/..." or "grpcroute/...".
func routeName(kind gwv1.Kind, namespace, name string, rule, match int) string {
	return routeObjectName(kind, namespace, name) + "/rule/" + strconv.Itoa(rule) + "/match/" + strconv.Itoa(match)
}

// RouteStatPrefix is the stat_prefix of an Envoy route, so that Envoy
// keeps per-route statistics (vhost.<vhost>.route.<prefix>.*): the route
// name, whose dots (a route's name may have some) become "_" because dots
// separate the parts of a stat name. render's stats tags read the route's
// kind, namespace and name back from it.
func RouteStatPrefix(routeName string) string {
	return strings.ReplaceAll(routeName, ".", "_")
}

// routeObjectName names a Gateway API route: "<kind>/<ns>/<name>" with the
// kind lower-case. It names what serves an L4 route: its TCP or UDP proxy,
// a TLS port's filter chain ("listener/<listener>/tlsroute/<ns>/<name>")
// and a UDPRoute's cluster.
func routeObjectName(kind gwv1.Kind, namespace, name string) string {
	return strings.ToLower(string(kind)) + "/" + namespace + "/" + name
}

// UDPServiceClusterName is the endpoints group of one UDP Service port
// (the locality of a UDPRoute cluster); a Service may serve TCP and UDP on
// one port number, so the name says which.
func UDPServiceClusterName(namespace, name string, port int32) string {
	return ServiceClusterName(namespace, name, port) + "/udp"
}
