package translate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// buildCluster builds an EDS cluster (its endpoints come from
// buildClusterLoadAssignment of the same model cluster).
func buildCluster(c *model.Cluster) *clusterv3.Cluster {
	out := &clusterv3.Cluster{
		Name:                 c.Name,
		ConnectTimeout:       durationpb.New(c.ConnectTimeout),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource()},
	}
	if c.BufferLimitBytes > 0 {
		out.PerConnectionBufferLimitBytes = wrapperspb.UInt32(c.BufferLimitBytes)
	}
	if c.Protocol == model.HTTP2 {
		out.TypedExtensionProtocolOptions = http2ProtocolOptions()
	}
	if c.TLS != nil {
		out.TransportSocket = upstreamTransportSocket(c.TLS, c.Protocol)
	}
	if len(c.Localities) > 0 {
		localityWeighted(out)
	}
	return out
}

// http2ProtocolOptions make a cluster speak HTTP/2 to its endpoints.
func http2ProtocolOptions() map[string]*anypb.Any {
	return map[string]*anypb.Any{
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(&upstreamhttpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
			}},
		}),
	}
}

// buildClusterLoadAssignment builds the endpoints of a cluster: its
// weighted localities, or else one locality with every endpoint (none
// when the cluster has no endpoints).
func buildClusterLoadAssignment(c *model.Cluster) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: c.Name}
	if len(c.Localities) > 0 {
		cla.Endpoints = buildLocalities(c)
		return cla
	}
	if len(c.Endpoints) == 0 {
		return cla
	}
	cla.Endpoints = []*endpointv3.LocalityLbEndpoints{{LbEndpoints: buildLbEndpoints(c.Endpoints)}}
	return cla
}

func buildLbEndpoints(eps []model.Endpoint) []*endpointv3.LbEndpoint {
	out := make([]*endpointv3.LbEndpoint, 0, len(eps))
	for _, a := range eps {
		out = append(out, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: a.IP, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: a.Port},
			}}},
		}}})
	}
	return out
}

// buildSecret builds the SDS secret of a certificate.
func buildSecret(s *model.Secret) *tlsv3.Secret {
	return &tlsv3.Secret{Name: s.Name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(s.Certificate)}},
		PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(s.PrivateKey)}},
	}}}
}
