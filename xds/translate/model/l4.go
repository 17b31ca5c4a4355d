package model

import "time"

// The layer-4 parts of the model: TCP and UDP proxies for TCPRoutes,
// TLSRoutes (passthrough and terminated) and UDPRoutes.

const (
	// ProtocolTCP forwards connections with a TCP proxy (TCPRoute).
	ProtocolTCP Protocol = "TCP"
	// ProtocolTLS selects a filter chain by SNI, then forwards the
	// connection with a TCP proxy: passed through untouched, or after
	// terminating TLS (TLSRoute).
	ProtocolTLS Protocol = "TLS"
	// ProtocolUDP forwards datagrams with a UDP proxy (UDPRoute); the
	// listener has no filter chains.
	ProtocolUDP Protocol = "UDP"
)

// TCPProxy forwards a connection to weighted backends.
type TCPProxy struct {
	// StatPrefix names the proxy's statistics.
	StatPrefix string
	// Route names the Gateway API route the proxy serves
	// ("tcproute/<ns>/<name>" or "tlsroute/<ns>/<name>").
	Route string
	// Backends with weight > 0, in spec order.
	Backends []Backend
	// InvalidWeight is the weight of backend references that did not
	// resolve: that share of connections is closed.
	InvalidWeight uint32
	// IdleTimeout closes a connection without bytes in either direction
	// (0: Envoy's default 1h).
	IdleTimeout time.Duration
}

// UDPProxy forwards datagrams to one cluster (whose localities carry the
// backends' weights, see Cluster.Localities).
type UDPProxy struct {
	// StatPrefix names the proxy's statistics.
	StatPrefix string
	// Route names the UDPRoute the proxy serves ("udproute/<ns>/<name>").
	Route string
	// Cluster is the Cluster.Name datagrams go to.
	Cluster string
}

// Locality is one weighted group of a cluster's endpoints: a backend of a
// UDPRoute, whose proxy has no weighted clusters of its own.
type Locality struct {
	// Name is the backend the group stands for.
	Name string
	// Weight is the group's share (> 0).
	Weight uint32
	// Endpoints are the backend's ready addresses, sorted.
	Endpoints []Endpoint
}
