package translate

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// upstreamTransportSocket is the TLS transport socket of a cluster with
// upstream TLS (BackendTLSPolicy): SNI, the trusted CAs (inline PEM, or the
// proxy's file of well-known CAs), the subject alternative names the
// endpoint's certificate must carry, and the client certificate (over SDS)
// the Gateway presents. An HTTP/2 cluster offers ALPN h2 (TLS servers
// choose HTTP/2 by ALPN).
func upstreamTransportSocket(t *model.UpstreamTLS, protocol model.AppProtocol) *corev3.TransportSocket {
	vc := &tlsv3.CertificateValidationContext{}
	if len(t.TrustedCA) > 0 {
		vc.TrustedCa = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(t.TrustedCA)}}
	} else {
		vc.TrustedCa = &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: t.SystemCAFile}}
	}
	for _, san := range t.SubjectAltNames {
		typ := tlsv3.SubjectAltNameMatcher_DNS
		if san.Type == model.SANURI {
			typ = tlsv3.SubjectAltNameMatcher_URI
		}
		vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tlsv3.SubjectAltNameMatcher{
			SanType: typ,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: san.Value}},
		})
	}
	ctx := &tlsv3.UpstreamTlsContext{
		Sni: t.SNI,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc},
		},
	}
	if protocol == model.HTTP2 {
		ctx.CommonTlsContext.AlpnProtocols = []string{"h2"}
	}
	if t.ClientCertificate != "" {
		ctx.CommonTlsContext.TlsCertificateSdsSecretConfigs = []*tlsv3.SdsSecretConfig{{Name: t.ClientCertificate, SdsConfig: adsConfigSource()}}
	}
	return &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
}

// clientValidation adds client-certificate validation (Gateway
// spec.tls.frontend, or a ClientTrafficPolicy) to a filter chain's TLS
// context: the trusted CAs; a certificate required unless Optional; one
// that does not verify accepted only with AcceptUntrusted
// (AllowInsecureFallback).
func clientValidation(ctx *tlsv3.DownstreamTlsContext, v *model.ClientValidation) {
	if v == nil {
		return
	}
	vc := &tlsv3.CertificateValidationContext{
		TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(v.TrustedCA)}},
	}
	if v.AcceptUntrusted {
		vc.TrustChainVerification = tlsv3.CertificateValidationContext_ACCEPT_UNTRUSTED
	}
	if !v.Optional {
		ctx.RequireClientCertificate = wrapperspb.Bool(true)
	}
	ctx.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
}

// checkDownstreamTLS checks a listener's TLS context as Envoy does: a
// required client certificate needs CAs to verify it against, and inline
// CAs must hold certificates.
func checkDownstreamTLS(where string, c *tlsv3.DownstreamTlsContext) []error {
	vc := c.GetCommonTlsContext().GetValidationContext()
	var errs []error
	if c.GetRequireClientCertificate().GetValue() && vc.GetTrustedCa() == nil && c.GetCommonTlsContext().GetValidationContextSdsSecretConfig() == nil {
		errs = append(errs, fmt.Errorf("%s: require_client_certificate without a validation context", where))
	}
	p := c.GetCommonTlsContext().GetTlsParams()
	if lo, hi := p.GetTlsMinimumProtocolVersion(), p.GetTlsMaximumProtocolVersion(); lo != tlsv3.TlsParameters_TLS_AUTO && hi != tlsv3.TlsParameters_TLS_AUTO && lo > hi {
		errs = append(errs, fmt.Errorf("%s: TLS minimum version %s above maximum %s", where, lo, hi))
	}
	return append(errs, checkTrustedCA(where, vc)...)
}

// checkUpstreamTLS checks a cluster's TLS context as Envoy does: subject
// alternative name matching without trusted CAs is refused as insecure, and
// inline CAs must hold certificates.
func checkUpstreamTLS(where string, c *tlsv3.UpstreamTlsContext) []error {
	vc := c.GetCommonTlsContext().GetValidationContext()
	var errs []error
	if len(vc.GetMatchTypedSubjectAltNames()) > 0 && vc.GetTrustedCa() == nil {
		errs = append(errs, fmt.Errorf("%s: subject alternative name matching without a trusted CA", where))
	}
	return append(errs, checkTrustedCA(where, vc)...)
}

func checkTrustedCA(where string, vc *tlsv3.CertificateValidationContext) []error {
	inline := vc.GetTrustedCa().GetInlineString()
	if vc.GetTrustedCa() == nil || vc.GetTrustedCa().GetFilename() != "" {
		return nil
	}
	if _, err := pemCertificates([]byte(inline)); err != nil {
		return []error{fmt.Errorf("%s: trusted_ca: %w", where, err)}
	}
	return nil
}
