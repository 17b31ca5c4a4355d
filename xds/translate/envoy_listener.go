package translate

import (
	"net/netip"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	connlimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/connection_limit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	preservecasev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/header_formatters/preserve_case/v3"
	customheaderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/custom_header/v3"
	xffv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/xff/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
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
	out.SocketOptions = keepaliveOptions(l.Keepalive)
	out.MaxConnectionsToAcceptPerSocketEvent = uint32Value(l.MaxAcceptPerSocketEvent)
	if l.InspectionTimeout > 0 {
		out.ListenerFiltersTimeout = durationpb.New(l.InspectionTimeout)
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
		ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{AlpnProtocols: c.TLS.ALPN, TlsParams: tlsParams(c.TLS)}}
		for _, s := range c.TLS.Secrets {
			ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs = append(ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs,
				&tlsv3.SdsSecretConfig{Name: s, SdsConfig: adsConfigSource()})
		}
		clientValidation(ctx, c.TLS.ClientValidation)
		fc.TransportSocket = &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{
			TypedConfig: mustAny(ctx),
		}}
	}
	if c.HandshakeTimeout > 0 {
		fc.TransportSocketConnectTimeout = durationpb.New(c.HandshakeTimeout)
	}
	if cl := c.ConnectionLimit; cl != nil {
		f := &connlimitv3.ConnectionLimit{StatPrefix: cl.StatPrefix, MaxConnections: wrapperspb.UInt64(cl.Max)}
		if cl.Delay > 0 {
			f.Delay = durationpb.New(cl.Delay)
		}
		fc.Filters = append(fc.Filters, &listenerv3.Filter{Name: connectionLimitFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(f)}})
	}
	if c.HTTP != nil {
		fc.Filters = append(fc.Filters, &listenerv3.Filter{Name: hcmFilterName, ConfigType: &listenerv3.Filter_TypedConfig{
			TypedConfig: mustAny(buildConnectionManager(c.HTTP)),
		}})
	}
	if c.TCP != nil {
		fc.Filters = append(fc.Filters, buildTCPProxyFilter(c.TCP))
	}
	return fc
}

// Linux socket option numbers of TCP keepalive (Envoy runs on Linux; Go's
// syscall constants differ by the build's OS).
const (
	solSocket    = 1 // SOL_SOCKET
	soKeepalive  = 9 // SO_KEEPALIVE
	ipprotoTCP   = 6 // IPPROTO_TCP
	tcpKeepIdle  = 4 // TCP_KEEPIDLE
	tcpKeepIntvl = 5 // TCP_KEEPINTVL
	tcpKeepCnt   = 6 // TCP_KEEPCNT
)

// keepaliveOptions are the listening socket's options that turn TCP
// keepalive on; accepted connections inherit them.
func keepaliveOptions(k *model.TCPKeepalive) []*corev3.SocketOption {
	if k == nil {
		return nil
	}
	opt := func(desc string, level, name, value int64) *corev3.SocketOption {
		return &corev3.SocketOption{Description: desc, Level: level, Name: name,
			Value: &corev3.SocketOption_IntValue{IntValue: value}, State: corev3.SocketOption_STATE_PREBIND}
	}
	out := []*corev3.SocketOption{opt("tcp keepalive", solSocket, soKeepalive, 1)}
	if k.Probes > 0 {
		out = append(out, opt("tcp keepalive probes", ipprotoTCP, tcpKeepCnt, int64(k.Probes)))
	}
	if k.Idle > 0 {
		out = append(out, opt("tcp keepalive idle time", ipprotoTCP, tcpKeepIdle, int64(k.Idle/time.Second)))
	}
	if k.Interval > 0 {
		out = append(out, opt("tcp keepalive interval", ipprotoTCP, tcpKeepIntvl, int64(k.Interval/time.Second)))
	}
	return out
}

var tlsVersions = map[string]tlsv3.TlsParameters_TlsProtocol{
	"1.0": tlsv3.TlsParameters_TLSv1_0, "1.1": tlsv3.TlsParameters_TLSv1_1,
	"1.2": tlsv3.TlsParameters_TLSv1_2, "1.3": tlsv3.TlsParameters_TLSv1_3,
}

// tlsParams are a chain's TLS versions and algorithms (nil: Envoy's
// defaults).
func tlsParams(t *model.DownstreamTLS) *tlsv3.TlsParameters {
	p := &tlsv3.TlsParameters{
		TlsMinimumProtocolVersion: tlsVersions[t.MinVersion], TlsMaximumProtocolVersion: tlsVersions[t.MaxVersion],
		CipherSuites: t.Ciphers, EcdhCurves: t.ECDHCurves, SignatureAlgorithms: t.SignatureAlgorithms,
	}
	if proto.Equal(p, &tlsv3.TlsParameters{}) {
		return nil
	}
	return p
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
			TypedConfig: mustAny(&routerv3.Router{SuppressEnvoyHeaders: !s.EnvoyHeaders}),
		}}},
		UseRemoteAddress:          wrapperspb.Bool(s.UseRemoteAddress),
		XffNumTrustedHops:         s.XffNumTrustedHops,
		GenerateRequestId:         wrapperspb.Bool(s.RequestID != model.RequestIDPreserve && s.RequestID != model.RequestIDDisable),
		PreserveExternalRequestId: s.RequestID == model.RequestIDPreserve || s.RequestID == model.RequestIDPreserveOrGenerate,
		NormalizePath:             wrapperspb.Bool(true),
		MergeSlashes:              s.MergeSlashes,
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
	common := &corev3.HttpProtocolOptions{
		IdleTimeout:              durationValue(s.IdleTimeout),
		MaxConnectionDuration:    durationValue(s.MaxConnectionDuration),
		MaxStreamDuration:        durationValue(s.MaxStreamDuration),
		MaxRequestsPerConnection: uint32Value(s.MaxRequestsPerConnection),
	}
	if a, ok := underscoreActions[s.HeadersWithUnderscores]; ok {
		common.HeadersWithUnderscoresAction = a
	}
	if !proto.Equal(common, &corev3.HttpProtocolOptions{}) {
		out.CommonHttpProtocolOptions = common
	}
	out.Http1SafeMaxConnectionDuration = s.HTTP1SafeMaxConnectionDuration && s.MaxConnectionDuration > 0
	out.MaxRequestHeadersKb = uint32Value(s.MaxRequestHeadersKB)
	if h1 := s.HTTP1; h1 != (model.HTTP1Settings{}) {
		o := &corev3.Http1ProtocolOptions{EnableTrailers: h1.EnableTrailers, AcceptHttp_10: h1.AcceptHTTP10, DefaultHostForHttp_10: h1.DefaultHost}
		if h1.PreserveHeaderCase {
			o.HeaderKeyFormat = &corev3.Http1ProtocolOptions_HeaderKeyFormat{HeaderFormat: &corev3.Http1ProtocolOptions_HeaderKeyFormat_StatefulFormatter{
				StatefulFormatter: &corev3.TypedExtensionConfig{Name: "preserve_case", TypedConfig: mustAny(&preservecasev3.PreserveCaseFormatterConfig{})},
			}}
		}
		out.HttpProtocolOptions = o
	}
	clientAddress(out, s)
	forwardClientCert(out, s.ForwardClientCert)
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
		if h2.TerminateStreamOnInvalidMessage {
			out.Http2ProtocolOptions.OverrideStreamErrorOnInvalidHttpMessage = wrapperspb.Bool(true)
		}
	}
	for _, u := range s.Upgrades {
		out.UpgradeConfigs = append(out.UpgradeConfigs, &hcmv3.HttpConnectionManager_UpgradeConfig{UpgradeType: u})
	}
	return out
}

// clientAddress configures how the client address is found: by default
// from the connection (use_remote_address) and xff_num_trusted_hops; with
// trusted CIDRs or a client address header, by an original IP detection
// extension (Envoy then requires use_remote_address off).
func clientAddress(out *hcmv3.HttpConnectionManager, s *model.HTTPSettings) {
	var ext *corev3.TypedExtensionConfig
	switch {
	case s.ClientIPHeader != nil:
		c := &customheaderv3.CustomHeaderConfig{HeaderName: s.ClientIPHeader.Name, AllowExtensionToSetAddressAsTrusted: true}
		if s.ClientIPHeader.FailClosed {
			c.RejectWithStatus = &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}
		}
		ext = &corev3.TypedExtensionConfig{Name: customHeaderDetectionName, TypedConfig: mustAny(c)}
	case len(s.XffTrustedCIDRs) > 0:
		c := &xffv3.XffConfig{XffTrustedCidrs: &xffv3.XffTrustedCidrs{}, SkipXffAppend: wrapperspb.Bool(s.SkipXffAppend)}
		for _, p := range s.XffTrustedCIDRs {
			prefix := netip.MustParsePrefix(p) // validated by the policy
			c.XffTrustedCidrs.Cidrs = append(c.XffTrustedCidrs.Cidrs, &corev3.CidrRange{
				AddressPrefix: prefix.Addr().String(), PrefixLen: wrapperspb.UInt32(uint32(prefix.Bits())),
			})
		}
		ext = &corev3.TypedExtensionConfig{Name: xffDetectionName, TypedConfig: mustAny(c)}
	default:
		out.SkipXffAppend = s.SkipXffAppend
		return
	}
	out.UseRemoteAddress = wrapperspb.Bool(false)
	out.XffNumTrustedHops = 0
	out.OriginalIpDetectionExtensions = []*corev3.TypedExtensionConfig{ext}
}

var forwardClientCertModes = map[string]hcmv3.HttpConnectionManager_ForwardClientCertDetails{
	"Sanitize":          hcmv3.HttpConnectionManager_SANITIZE,
	"ForwardOnly":       hcmv3.HttpConnectionManager_FORWARD_ONLY,
	"AppendForward":     hcmv3.HttpConnectionManager_APPEND_FORWARD,
	"SanitizeSet":       hcmv3.HttpConnectionManager_SANITIZE_SET,
	"AlwaysForwardOnly": hcmv3.HttpConnectionManager_ALWAYS_FORWARD_ONLY,
}

// forwardClientCert sets how x-forwarded-client-cert is handled ("":
// Envoy's default, sanitized).
func forwardClientCert(out *hcmv3.HttpConnectionManager, f model.ForwardClientCert) {
	out.ForwardClientCertDetails = forwardClientCertModes[f.Mode]
	if out.ForwardClientCertDetails != hcmv3.HttpConnectionManager_APPEND_FORWARD && out.ForwardClientCertDetails != hcmv3.HttpConnectionManager_SANITIZE_SET {
		return
	}
	d := &hcmv3.HttpConnectionManager_SetCurrentClientCertDetails{}
	for _, x := range f.Details {
		switch x {
		case "Subject":
			d.Subject = wrapperspb.Bool(true)
		case "Cert":
			d.Cert = true
		case "Chain":
			d.Chain = true
		case "DNS":
			d.Dns = true
		case "URI":
			d.Uri = true
		}
	}
	out.SetCurrentClientCertDetails = d
}

// durationValue is nil (Envoy's default) for 0.
func durationValue(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
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
