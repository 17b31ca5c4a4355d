package translate

import (
	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	matcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	udpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/udp_proxy/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// The builders of the layer-4 parts of the model: TCP proxies in filter
// chains, the UDP proxy of a UDP listener, and the weighted localities of
// a UDPRoute's cluster.

// buildTCPProxyFilter is the tcp_proxy network filter of a chain. One
// backend is a plain cluster; several, or unresolved references, are
// weighted clusters; the share of unresolved references goes to
// InvalidBackendCluster, which does not exist, so Envoy closes those
// connections (as it does all of them when nothing resolved).
func buildTCPProxyFilter(p *model.TCPProxy) *listenerv3.Filter {
	out := &tcpproxyv3.TcpProxy{StatPrefix: p.StatPrefix}
	if p.IdleTimeout > 0 {
		out.IdleTimeout = durationpb.New(p.IdleTimeout)
	}
	switch {
	case len(p.Backends) == 0:
		out.ClusterSpecifier = &tcpproxyv3.TcpProxy_Cluster{Cluster: InvalidBackendCluster}
	case len(p.Backends) == 1 && p.InvalidWeight == 0:
		out.ClusterSpecifier = &tcpproxyv3.TcpProxy_Cluster{Cluster: p.Backends[0].Cluster}
	default:
		w := &tcpproxyv3.TcpProxy_WeightedCluster{}
		for _, b := range p.Backends {
			w.Clusters = append(w.Clusters, &tcpproxyv3.TcpProxy_WeightedCluster_ClusterWeight{Name: b.Cluster, Weight: b.Weight})
		}
		if p.InvalidWeight > 0 {
			w.Clusters = append(w.Clusters, &tcpproxyv3.TcpProxy_WeightedCluster_ClusterWeight{Name: InvalidBackendCluster, Weight: p.InvalidWeight})
		}
		out.ClusterSpecifier = &tcpproxyv3.TcpProxy_WeightedClusters{WeightedClusters: w}
	}
	return &listenerv3.Filter{Name: tcpProxyFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(out)}}
}

// buildUDPListener is the Envoy listener of a UDP port: a UDP socket whose
// datagrams the udp_proxy listener filter forwards (UDP listeners have no
// filter chains). The proxy's matcher has only a default action: every
// datagram goes to the route's cluster.
func buildUDPListener(l *model.Listener) *listenerv3.Listener {
	route := &udpproxyv3.Route{Cluster: l.UDP.Cluster}
	cfg := &udpproxyv3.UdpProxyConfig{
		StatPrefix: l.UDP.StatPrefix,
		RouteSpecifier: &udpproxyv3.UdpProxyConfig_Matcher{Matcher: &matcherv3.Matcher{
			OnNoMatch: &matcherv3.Matcher_OnMatch{OnMatch: &matcherv3.Matcher_OnMatch_Action{Action: &xdscorev3.TypedExtensionConfig{
				Name: "route", TypedConfig: mustAny(route),
			}}},
		}},
	}
	return &listenerv3.Listener{
		Name: l.Name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Protocol:      corev3.SocketAddress_UDP,
			Address:       l.Address,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: l.BindPort},
		}}},
		UdpListenerConfig: &listenerv3.UdpListenerConfig{},
		ListenerFilters: []*listenerv3.ListenerFilter{{Name: udpProxyFilterName, ConfigType: &listenerv3.ListenerFilter_TypedConfig{
			TypedConfig: mustAny(cfg),
		}}},
	}
}

// localityWeighted makes a cluster with localities balance by their
// weights.
func localityWeighted(out *clusterv3.Cluster) {
	out.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
	}}
}

// buildLocalities are the weighted endpoint groups of a cluster with
// localities, each named by its backend (Envoy refuses two localities
// with one name in a priority).
func buildLocalities(c *model.Cluster) []*endpointv3.LocalityLbEndpoints {
	out := make([]*endpointv3.LocalityLbEndpoints, 0, len(c.Localities))
	for _, l := range c.Localities {
		out = append(out, &endpointv3.LocalityLbEndpoints{
			Locality:            &corev3.Locality{Region: l.Name},
			LoadBalancingWeight: wrapperspb.UInt32(l.Weight),
			LbEndpoints:         buildLbEndpoints(l.Endpoints),
		})
	}
	return out
}
