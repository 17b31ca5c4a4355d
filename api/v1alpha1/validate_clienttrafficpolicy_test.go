package v1alpha1

import (
	"errors"
	"reflect"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestValidateClientTrafficPolicy(t *testing.T) {
	gw := []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: "gw"}}}
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		spec ClientTrafficPolicySpec
		want []string
	}{
		{"valid", ClientTrafficPolicySpec{TargetRefs: gw,
			Timeout: &ClientTimeout{HTTP: &HTTPClientTimeout{RequestReceivedTimeout: ptr.To(gwv1.Duration("30s")), StreamIdleTimeout: ptr.To(gwv1.Duration("1h"))}},
			HTTP2:   &HTTP2Settings{InitialStreamWindowSize: ptr.To(q("64Ki")), InitialConnectionWindowSize: ptr.To(q("1Mi")), MaxConcurrentStreams: ptr.To[uint32](100)},
			Headers: &HeaderSettings{WithUnderscoresAction: ptr.To(WithUnderscoresAction("DropHeader"))},
			Path:    &PathSettings{EscapedSlashesAction: ptr.To(PathEscapedSlashAction("KeepUnchanged"))},
		}, nil},
		{"valid edge fields", ClientTrafficPolicySpec{TargetRefs: gw,
			Timeout: &ClientTimeout{
				HTTP: &HTTPClientTimeout{IdleTimeout: ptr.To(gwv1.Duration("10m")), RequestHeadersReceivedTimeout: ptr.To(gwv1.Duration("0s"))},
				TCP:  &TCPClientTimeout{IdleTimeout: ptr.To(gwv1.Duration("2h")), TLSHandshakeTimeout: ptr.To(gwv1.Duration("5s")), ConnectionInspectionTimeout: ptr.To(gwv1.Duration("3s"))},
			},
			TCPKeepalive: &TCPKeepalive{Probes: ptr.To[uint32](3), IdleTime: ptr.To(gwv1.Duration("10m")), Interval: ptr.To(gwv1.Duration("30s"))},
			Connection: &ClientConnection{BufferLimit: ptr.To(q("64Ki")), MaxAcceptPerSocketEvent: ptr.To[uint32](0),
				ConnectionLimit: &ConnectionLimit{Value: ptr.To[int64](1000), CloseDelay: ptr.To(gwv1.Duration("1s")), MaxConnectionDuration: ptr.To(gwv1.Duration("1h")), MaxRequestsPerConnection: ptr.To[uint32](1000), MaxStreamDuration: ptr.To(gwv1.Duration("5m"))}},
			TLS: &ClientTLSSettings{MinVersion: ptr.To(TLSVersion("1.2")), MaxVersion: ptr.To(TLSVersion("Auto")), Ciphers: []string{"ECDHE-RSA-AES128-GCM-SHA256"}, ALPNProtocols: []string{"http/1.1"},
				ClientValidation: &ClientValidationContext{CACertificateRefs: []gwv1.SecretObjectReference{{Name: "ca"}}}},
			HTTP1:             &HTTP1Settings{EnableTrailers: ptr.To(true), PreserveHeaderCase: ptr.To(true), HTTP10: &HTTP10Settings{}},
			Headers:           &HeaderSettings{RequestID: ptr.To("Preserve"), EnableEnvoyHeaders: ptr.To(true), MaxRequestHeaderLimit: ptr.To(q("96Ki")), XForwardedClientCert: &XForwardedClientCert{Mode: ptr.To("SanitizeSet"), CertDetailsToAdd: []string{"Subject", "URI"}}},
			ClientIPDetection: &ClientIPDetectionSettings{XForwardedFor: &XForwardedForSettings{TrustedCIDRs: []string{"10.0.0.0/8", "fd00::/8"}}},
		}, nil},
		{"bad edge fields", ClientTrafficPolicySpec{TargetRefs: gw,
			Timeout:      &ClientTimeout{HTTP: &HTTPClientTimeout{IdleTimeout: ptr.To(gwv1.Duration("-1s"))}, TCP: &TCPClientTimeout{IdleTimeout: ptr.To(gwv1.Duration("forever"))}},
			HTTP2:        &HTTP2Settings{OnInvalidMessage: ptr.To("Ignore")},
			TCPKeepalive: &TCPKeepalive{Probes: ptr.To[uint32](0), IdleTime: ptr.To(gwv1.Duration("1500ms")), Interval: ptr.To(gwv1.Duration("10h"))},
			Connection:   &ClientConnection{BufferLimit: ptr.To(q("8Gi")), ConnectionLimit: &ConnectionLimit{Value: ptr.To[int64](0), MaxRequestsPerConnection: ptr.To[uint32](0)}},
			TLS:          &ClientTLSSettings{MinVersion: ptr.To(TLSVersion("1.3")), MaxVersion: ptr.To(TLSVersion("1.2")), Ciphers: []string{"A:B"}, ClientValidation: &ClientValidationContext{}},
			Headers:      &HeaderSettings{RequestID: ptr.To("Keep"), PreserveXRequestID: ptr.To(true), MaxRequestHeaderLimit: ptr.To(q("9Mi")), XForwardedClientCert: &XForwardedClientCert{CertDetailsToAdd: []string{"Subject"}}},
			ClientIPDetection: &ClientIPDetectionSettings{
				XForwardedFor: &XForwardedForSettings{NumTrustedHops: ptr.To[uint32](1), TrustedCIDRs: []string{"10.0.0.0"}},
				CustomHeader:  &CustomHeaderExtensionSettings{Name: "x client"},
			},
		}, []string{"spec.timeout.http.idleTimeout", "spec.timeout.tcp.idleTimeout", "spec.http2.onInvalidMessage",
			"spec.headers.requestID", "spec.headers.preserveXRequestID", "spec.headers.xForwardedClientCert.certDetailsToAdd", "spec.headers.maxRequestHeaderLimit",
			"spec.clientIPDetection", "spec.clientIPDetection.xForwardedFor", "spec.clientIPDetection.xForwardedFor.trustedCIDRs[0]", "spec.clientIPDetection.customHeader.name",
			"spec.tcpKeepalive.idleTime", "spec.tcpKeepalive.interval", "spec.tcpKeepalive.probes",
			"spec.connection.bufferLimit", "spec.connection.connectionLimit.value", "spec.connection.connectionLimit.maxRequestsPerConnection",
			"spec.tls", "spec.tls.ciphers", "spec.tls.ciphers[0]", "spec.tls.clientValidation.caCertificateRefs"}},
		{"no targets", ClientTrafficPolicySpec{}, []string{"spec.targetRefs"}},
		{"not a Gateway", ClientTrafficPolicySpec{TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: "s"}}}},
			[]string{"spec.targetRefs[0]"}},
		{"values", ClientTrafficPolicySpec{TargetRefs: gw,
			Timeout:           &ClientTimeout{HTTP: &HTTPClientTimeout{StreamIdleTimeout: ptr.To(gwv1.Duration("soon"))}},
			HTTP2:             &HTTP2Settings{InitialStreamWindowSize: ptr.To(q("1Ki")), InitialConnectionWindowSize: ptr.To(q("4Gi")), MaxConcurrentStreams: ptr.To[uint32](0)},
			Headers:           &HeaderSettings{WithUnderscoresAction: ptr.To(WithUnderscoresAction("Ignore"))},
			ClientIPDetection: &ClientIPDetectionSettings{XForwardedFor: &XForwardedForSettings{NumTrustedHops: ptr.To[uint32](33)}},
			Path:              &PathSettings{EscapedSlashesAction: ptr.To(PathEscapedSlashAction("Decode"))},
		}, []string{"spec.timeout.http.streamIdleTimeout", "spec.http2.initialStreamWindowSize", "spec.http2.initialConnectionWindowSize",
			"spec.http2.maxConcurrentStreams", "spec.headers.withUnderscoresAction", "spec.clientIPDetection.xForwardedFor.numTrustedHops", "spec.path.escapedSlashesAction"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			var got []string
			var fe FieldErrors
			if errors.As(err, &fe) {
				for _, e := range fe {
					got = append(got, e.Field)
				}
			} else if err != nil {
				t.Fatalf("error is not FieldErrors: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields in error = %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
	raw := &apiextensionsv1.JSON{Raw: []byte("{}")}
	s := ClientTrafficPolicySpec{HTTP3: raw, Headers: &HeaderSettings{EarlyRequestHeaders: raw},
		TLS: &ClientTLSSettings{Session: raw, ClientValidation: &ClientValidationContext{Crl: raw}}, Connection: &ClientConnection{SocketBufferLimit: raw}}
	if got, want := s.Unsupported(), []string{"spec.connection.socketBufferLimit", "spec.headers.earlyRequestHeaders", "spec.http3", "spec.tls.clientValidation.crl", "spec.tls.session"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Unsupported() = %v, want %v", got, want)
	}
}
