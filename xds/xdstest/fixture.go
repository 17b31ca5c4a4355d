package xdstest

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Fixture describes a small Gateway snapshot: one HTTP listener routing
// Domain to one EDS cluster with one endpoint, and optionally an HTTPS
// listener whose certificate comes over SDS.
type Fixture struct {
	// Domain is the virtual host domain (e.g. www.team-a.com).
	Domain string
	// Cluster is the backend cluster name.
	Cluster string
	// EndpointIP is the backend address.
	EndpointIP string
	// SecretName, when set, adds an HTTPS listener and that TLS secret.
	SecretName string
	// SecretKey is the secret's private key bytes (a marker for isolation
	// tests; not a real key).
	SecretKey string
}

// Resources builds the snapshot. Resource names deliberately do not depend
// on the Gateway (like translate's), so two Gateways' snapshots share names
// and differ in content: isolation must come from the server.
func (f Fixture) Resources() map[string][]cachetypes.Resource {
	ads := &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion: corev3.ApiVersion_V3}
	router, _ := anypb.New(&routerv3.Router{})
	hcm := func(route string) *anypb.Any {
		a, _ := anypb.New(&hcmv3.HttpConnectionManager{
			StatPrefix: route,
			RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
				ConfigSource: ads, RouteConfigName: route,
			}},
			HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
		})
		return a
	}
	listener := func(name string, port uint32, route string, ts *corev3.TransportSocket) *listenerv3.Listener {
		return &listenerv3.Listener{
			Name: name,
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}},
			FilterChains: []*listenerv3.FilterChain{{
				Filters:         []*listenerv3.Filter{{Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm(route)}}},
				TransportSocket: ts,
			}},
		}
	}
	routeConfig := func(name string) *routev3.RouteConfiguration {
		return &routev3.RouteConfiguration{Name: name, VirtualHosts: []*routev3.VirtualHost{{
			Name: f.Domain, Domains: []string{f.Domain},
			Routes: []*routev3.Route{{
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: f.Cluster}}},
			}},
		}}}
	}
	out := map[string][]cachetypes.Resource{
		resourcev3.ListenerType: {listener("listener/8080", 18080, "route/8080", nil)},
		resourcev3.RouteType:    {routeConfig("route/8080")},
		resourcev3.ClusterType: {&clusterv3.Cluster{
			Name:                 f.Cluster,
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: ads},
		}},
		resourcev3.EndpointType: {&endpointv3.ClusterLoadAssignment{
			ClusterName: f.Cluster,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: f.EndpointIP, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}},
				}},
			}}}},
		}},
	}
	if f.SecretName != "" {
		tlsCtx, _ := anypb.New(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: f.SecretName, SdsConfig: ads}},
		}})
		ts := &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: tlsCtx}}
		out[resourcev3.ListenerType] = append(out[resourcev3.ListenerType], listener("listener/8443", 18443, "route/8443", ts))
		out[resourcev3.RouteType] = append(out[resourcev3.RouteType], routeConfig("route/8443"))
		out[resourcev3.SecretType] = []cachetypes.Resource{&tlsv3.Secret{
			Name: f.SecretName,
			Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
				CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "chain of " + f.Domain}},
				PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: f.SecretKey}},
			}},
		}}
	}
	return out
}

// Domains returns the virtual host domains a client holds, across route
// configurations.
func Domains(s State) map[string]bool {
	out := map[string]bool{}
	for _, m := range s.Resources[resourcev3.RouteType] {
		for _, vh := range m.(*routev3.RouteConfiguration).GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				out[d] = true
			}
		}
	}
	return out
}

// EndpointIPs returns the endpoint addresses a client holds.
func EndpointIPs(s State) map[string]bool {
	out := map[string]bool{}
	for _, m := range s.Resources[resourcev3.EndpointType] {
		for _, lle := range m.(*endpointv3.ClusterLoadAssignment).GetEndpoints() {
			for _, e := range lle.GetLbEndpoints() {
				out[e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()] = true
			}
		}
	}
	return out
}

// SecretKeys returns the private key contents of the TLS secrets a client
// holds.
func SecretKeys(s State) map[string]bool {
	out := map[string]bool{}
	for _, m := range s.Resources[resourcev3.SecretType] {
		out[m.(*tlsv3.Secret).GetTlsCertificate().GetPrivateKey().GetInlineString()] = true
	}
	return out
}
