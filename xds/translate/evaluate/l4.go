package evaluate

import (
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	udpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/udp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// L4Connection is a TCP connection (plain, or TLS with a ClientHello) or
// a UDP datagram reaching Envoy.
type L4Connection struct {
	// Port is the port Envoy listens on (after any privileged-port offset).
	Port uint32
	// UDP: a datagram, not a TCP connection.
	UDP bool
	// SNI is the server name of the TLS ClientHello ("" for none, or for
	// plain TCP).
	SNI string
}

// L4Decision is what Envoy does with a TCP connection or a UDP datagram.
type L4Decision struct {
	// Refused: nothing listens on the port for the transport (the
	// connection is refused, the datagram dropped); Reason says why.
	Refused bool
	// Closed: Envoy accepts the connection and closes it (no filter chain
	// takes it, or its only cluster does not exist); for UDP, drops the
	// datagram. Reason says why.
	Closed bool
	Reason string
	// Listener and FilterChain name what took the connection.
	Listener, FilterChain string
	// Terminated: the chain terminates TLS (its certificate is served)
	// before proxying; false for TLS passthrough and plain TCP.
	Terminated bool
	// Cluster is the one upstream cluster, or WeightedClusters the
	// weighted ones.
	Cluster          string
	WeightedClusters []WeightedCluster
	// ClosedWeight is the weight of WeightedClusters that do not exist:
	// that share of connections is closed.
	ClosedWeight uint32
}

// L4 decides a TCP connection or UDP datagram the way the Envoy holding
// resources (one Gateway's snapshot) would: the listener bound to the port
// for the transport; for TCP its filter chain for the server name (read
// only when the listener has the TLS inspector: exact name, then the
// longest wildcard, then the chain without server names) and that chain's
// TCP proxy; for UDP the UDP proxy's cluster. A chain with an HTTP
// connection manager is an error: use Snapshot for requests.
func L4(resources map[string][]types.Resource, conn L4Connection) (L4Decision, error) {
	transport := corev3.SocketAddress_TCP
	if conn.UDP {
		transport = corev3.SocketAddress_UDP
	}
	var l *listenerv3.Listener
	for _, r := range resources[resourcev3.ListenerType] {
		c, ok := r.(*listenerv3.Listener)
		if ok && c.GetAddress().GetSocketAddress().GetPortValue() == conn.Port && c.GetAddress().GetSocketAddress().GetProtocol() == transport {
			l = c
		}
	}
	if l == nil {
		return L4Decision{Refused: true, Reason: fmt.Sprintf("nothing listens on %s port %d", transport, conn.Port)}, nil
	}
	d := L4Decision{Listener: l.GetName()}
	if conn.UDP {
		return udpDecision(resources, l, d)
	}
	sni := ""
	if hasTLSInspector(l) {
		sni = strings.ToLower(conn.SNI)
	}
	fc := selectFilterChain(l.GetFilterChains(), sni)
	if fc == nil {
		d.Closed, d.Reason = true, fmt.Sprintf("no filter chain for server name %q", sni)
		return d, nil
	}
	d.FilterChain, d.Terminated = fc.GetName(), fc.GetTransportSocket() != nil
	for _, f := range fc.GetFilters() {
		if f.GetTypedConfig().MessageIs(&hcmv3.HttpConnectionManager{}) {
			return d, fmt.Errorf("listener %q: filter chain %q is HTTP (use Snapshot)", l.GetName(), fc.GetName())
		}
		tp := &tcpproxyv3.TcpProxy{}
		if !f.GetTypedConfig().MessageIs(tp) {
			return d, fmt.Errorf("listener %q: filter %q is not modelled", l.GetName(), f.GetName())
		}
		if err := f.GetTypedConfig().UnmarshalTo(tp); err != nil {
			return d, fmt.Errorf("listener %q: %w", l.GetName(), err)
		}
		if c := tp.GetCluster(); c != "" {
			d.Cluster = c
			if !hasCluster(resources, c) {
				d.Closed, d.Reason = true, fmt.Sprintf("cluster %q does not exist", c)
			}
			return d, nil
		}
		for _, w := range tp.GetWeightedClusters().GetClusters() {
			d.WeightedClusters = append(d.WeightedClusters, WeightedCluster{Name: w.GetName(), Weight: w.GetWeight()})
			if !hasCluster(resources, w.GetName()) {
				d.ClosedWeight += w.GetWeight()
			}
		}
		return d, nil
	}
	return d, fmt.Errorf("listener %q: filter chain %q has no TCP proxy", l.GetName(), fc.GetName())
}

// udpDecision is the UDP proxy's cluster for every datagram.
func udpDecision(resources map[string][]types.Resource, l *listenerv3.Listener, d L4Decision) (L4Decision, error) {
	for _, lf := range l.GetListenerFilters() {
		up := &udpproxyv3.UdpProxyConfig{}
		if !lf.GetTypedConfig().MessageIs(up) {
			continue
		}
		if err := lf.GetTypedConfig().UnmarshalTo(up); err != nil {
			return d, fmt.Errorf("listener %q: %w", l.GetName(), err)
		}
		m := up.GetMatcher()
		route := &udpproxyv3.Route{}
		if m == nil || m.GetMatcherType() != nil || m.GetOnNoMatch().GetAction().GetTypedConfig().UnmarshalTo(route) != nil {
			return d, fmt.Errorf("listener %q: only a UDP proxy whose matcher has a default route is modelled", l.GetName())
		}
		d.Cluster = route.GetCluster()
		if !hasCluster(resources, d.Cluster) {
			d.Closed, d.Reason = true, fmt.Sprintf("cluster %q does not exist", d.Cluster)
		}
		return d, nil
	}
	return d, fmt.Errorf("listener %q: UDP listener without a UDP proxy", l.GetName())
}

func hasTLSInspector(l *listenerv3.Listener) bool {
	for _, lf := range l.GetListenerFilters() {
		if lf.GetTypedConfig().MessageIs(&tlsinspectorv3.TlsInspector{}) {
			return true
		}
	}
	return false
}
