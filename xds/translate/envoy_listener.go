package translate

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// buildListener builds the Envoy listener of a bound port: a filter chain
// per model chain, and the TLS inspector on HTTPS and TLS ports (it reads
// the SNI that selects a chain); a UDP port is a UDP listener.
func buildListener(l *model.Listener) *listenerv3.Listener {
	if l.UDP != nil {
		return buildUDPListener(l)
	}
	out := &listenerv3.Listener{
		Name: l.Name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       l.Address,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: l.BindPort},
		}}},
		FilterChains: make([]*listenerv3.FilterChain, 0, len(l.FilterChains)),
		AccessLog:    buildAccessLogs(l.AccessLogs),
	}
	if l.BufferLimitBytes > 0 {
		out.PerConnectionBufferLimitBytes = wrapperspb.UInt32(l.BufferLimitBytes)
	}
	for _, c := range l.FilterChains {
		out.FilterChains = append(out.FilterChains, buildFilterChain(c))
	}
	if l.Protocol == model.ProtocolHTTPS || l.Protocol == model.ProtocolTLS {
		out.ListenerFilters = []*listenerv3.ListenerFilter{{Name: tlsInspectorName, ConfigType: &listenerv3.ListenerFilter_TypedConfig{
			TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{}),
		}}}
	}
	return out
}

func buildFilterChain(c *model.FilterChain) *listenerv3.FilterChain {
	fc := &listenerv3.FilterChain{Name: c.Name}
	if len(c.ServerNames) > 0 {
		fc.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: c.ServerNames}
	}
	if c.TLS != nil {
		ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{AlpnProtocols: c.TLS.ALPN}}
		for _, s := range c.TLS.Secrets {
			ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs = append(ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs,
				&tlsv3.SdsSecretConfig{Name: s, SdsConfig: adsConfigSource()})
		}
		clientValidation(ctx, c.TLS.ClientValidation)
		fc.TransportSocket = &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{
			TypedConfig: mustAny(ctx),
		}}
	}
	if c.HTTP != nil {
		fc.Filters = []*listenerv3.Filter{{Name: hcmFilterName, ConfigType: &listenerv3.Filter_TypedConfig{
			TypedConfig: mustAny(buildConnectionManager(c.HTTP)),
		}}}
	}
	if c.TCP != nil {
		fc.Filters = []*listenerv3.Filter{buildTCPProxyFilter(c.TCP)}
	}
	return fc
}

// buildConnectionManager is the HTTP connection manager of a filter chain.
// With use_remote_address Envoy is the edge: it appends the peer to
// X-Forwarded-For, sets X-Envoy-External-Address and X-Forwarded-Proto from
// the connection, and generates X-Request-Id. The edge settings
// (model.HTTPSettings) are spelled as Envoy fields; a zero setting leaves
// Envoy's default.
func buildConnectionManager(h *model.HTTP) *hcmv3.HttpConnectionManager {
	s := &h.Settings
	out := &hcmv3.HttpConnectionManager{
		StatPrefix: h.StatPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsConfigSource(), RouteConfigName: h.Routes.Name,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: routerFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{
			TypedConfig: mustAny(&routerv3.Router{}),
		}}},
		UseRemoteAddress:  wrapperspb.Bool(s.UseRemoteAddress),
		XffNumTrustedHops: s.XffNumTrustedHops,
		GenerateRequestId: wrapperspb.Bool(true),
		NormalizePath:     wrapperspb.Bool(true),
		MergeSlashes:      s.MergeSlashes,
		// Hosts match without the port the client used (which is the
		// Service port, not the port Envoy listens on).
		StripPortMode: &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
		// No peer is internal: every client is treated as external, so it
		// gets X-Envoy-External-Address and cannot pass x-envoy-* headers
		// in (Envoy's older default trusted private ranges, i.e. every pod).
		InternalAddressConfig: &hcmv3.HttpConnectionManager_InternalAddressConfig{},
		AccessLog:             buildAccessLogs(h.AccessLogs),
	}
	if a, ok := escapedSlashActions[s.EscapedSlashes]; ok {
		out.PathWithEscapedSlashesAction = a
	}
	if a, ok := underscoreActions[s.HeadersWithUnderscores]; ok {
		out.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{HeadersWithUnderscoresAction: a}
	}
	if s.RequestHeadersTimeout > 0 {
		out.RequestHeadersTimeout = durationpb.New(s.RequestHeadersTimeout)
	}
	if s.RequestTimeout > 0 {
		out.RequestTimeout = durationpb.New(s.RequestTimeout)
	}
	if s.StreamIdleTimeout > 0 {
		out.StreamIdleTimeout = durationpb.New(s.StreamIdleTimeout)
	}
	if h2 := s.HTTP2; h2 != (model.HTTP2Settings{}) {
		out.Http2ProtocolOptions = &corev3.Http2ProtocolOptions{
			MaxConcurrentStreams:        uint32Value(h2.MaxConcurrentStreams),
			InitialStreamWindowSize:     uint32Value(h2.InitialStreamWindowSize),
			InitialConnectionWindowSize: uint32Value(h2.InitialConnectionWindowSize),
		}
	}
	for _, u := range s.Upgrades {
		out.UpgradeConfigs = append(out.UpgradeConfigs, &hcmv3.HttpConnectionManager_UpgradeConfig{UpgradeType: u})
	}
	return out
}

// uint32Value is nil (Envoy's default) for 0.
func uint32Value(v uint32) *wrapperspb.UInt32Value {
	if v == 0 {
		return nil
	}
	return wrapperspb.UInt32(v)
}

var escapedSlashActions = map[model.EscapedSlashAction]hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction{
	model.EscapedSlashKeep:                hcmv3.HttpConnectionManager_KEEP_UNCHANGED,
	model.EscapedSlashReject:              hcmv3.HttpConnectionManager_REJECT_REQUEST,
	model.EscapedSlashUnescapeAndRedirect: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT,
	model.EscapedSlashUnescapeAndForward:  hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD,
}

var underscoreActions = map[model.UnderscoreAction]corev3.HttpProtocolOptions_HeadersWithUnderscoresAction{
	model.UnderscoreAllow:  corev3.HttpProtocolOptions_ALLOW,
	model.UnderscoreReject: corev3.HttpProtocolOptions_REJECT_REQUEST,
	model.UnderscoreDrop:   corev3.HttpProtocolOptions_DROP_HEADER,
}
