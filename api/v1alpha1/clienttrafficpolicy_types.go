package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// KindClientTrafficPolicy is the kind of ClientTrafficPolicy.
const KindClientTrafficPolicy = "ClientTrafficPolicy"

// ClientTrafficPolicy changes the edge settings of the Gateways (or single
// listeners) it targets: the reference implementation's API, the subset
// that configures what berth's edge defaults set (docs/dataplane.md).
// Fields berth does not implement are kept opaque and refuse the policy
// (Accepted=False), so a setting is never silently ignored.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=envoy-gateway,shortName=ctp
// +kubebuilder:subresource:status
type ClientTrafficPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired settings and their targets.
	Spec ClientTrafficPolicySpec `json:"spec"`
	// Status says, per Gateway, whether the policy applies.
	//
	// +optional
	Status gwv1.PolicyStatus `json:"status,omitempty"`
}

// ClientTrafficPolicyList is a list of ClientTrafficPolicy.
//
// +kubebuilder:object:root=true
type ClientTrafficPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClientTrafficPolicy `json:"items"`
}

// ClientTrafficPolicySpec is the settings and the Gateways (or listeners,
// by sectionName) in the policy's namespace they apply to. A policy on a
// listener beats one on its Gateway; of two policies on the same target
// the older applies (then the one first by namespace/name).
type ClientTrafficPolicySpec struct {
	// TargetRefs are Gateways in the policy's namespace, or one listener
	// of each (sectionName).
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	TargetRefs []gwv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs"`

	// Timeout configures client timeouts.
	//
	// +optional
	Timeout *ClientTimeout `json:"timeout,omitempty"`
	// HTTP2 limits HTTP/2 client connections.
	//
	// +optional
	HTTP2 *HTTP2Settings `json:"http2,omitempty"`
	// Headers configures how request headers are handled.
	//
	// +optional
	Headers *HeaderSettings `json:"headers,omitempty"`
	// ClientIPDetection configures how the client address is found.
	//
	// +optional
	ClientIPDetection *ClientIPDetectionSettings `json:"clientIPDetection,omitempty"`
	// Path configures path normalization.
	//
	// +optional
	Path *PathSettings `json:"path,omitempty"`

	// TCPKeepalive turns TCP keepalive on for client connections (off by
	// default) and tunes its probes.
	//
	// +optional
	TCPKeepalive *TCPKeepalive `json:"tcpKeepalive,omitempty"`
	// Connection limits client connections and their buffers.
	//
	// +optional
	Connection *ClientConnection `json:"connection,omitempty"`
	// TLS configures TLS termination (HTTPS and TLS-terminate listeners).
	//
	// +optional
	TLS *ClientTLSSettings `json:"tls,omitempty"`
	// HTTP1 configures HTTP/1 client connections.
	//
	// +optional
	HTTP1 *HTTP1Settings `json:"http1,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	TargetRef *apiextensionsv1.JSON `json:"targetRef,omitempty"`
	// +optional
	TargetSelectors *apiextensionsv1.JSON `json:"targetSelectors,omitempty"`
	// +optional
	HTTP3 *apiextensionsv1.JSON `json:"http3,omitempty"`
	// +optional
	GRPC *apiextensionsv1.JSON `json:"grpc,omitempty"`
	// +optional
	EnableProxyProtocol *apiextensionsv1.JSON `json:"enableProxyProtocol,omitempty"`
	// +optional
	ProxyProtocol *apiextensionsv1.JSON `json:"proxyProtocol,omitempty"`
	// +optional
	HealthCheck *apiextensionsv1.JSON `json:"healthCheck,omitempty"`
	// +optional
	Scheme *apiextensionsv1.JSON `json:"scheme,omitempty"`
}

// ClientTimeout configures client timeouts.
type ClientTimeout struct {
	// HTTP configures HTTP request timeouts.
	//
	// +optional
	HTTP *HTTPClientTimeout `json:"http,omitempty"`
	// TCP configures connection timeouts.
	//
	// +optional
	TCP *TCPClientTimeout `json:"tcp,omitempty"`
}

// TCPClientTimeout configures connection timeouts.
type TCPClientTimeout struct {
	// IdleTimeout closes a connection of a TCP or TLS listener after this
	// long without bytes in either direction (Envoy's default 1h).
	//
	// +optional
	IdleTimeout *gwv1.Duration `json:"idleTimeout,omitempty"`
	// TLSHandshakeTimeout bounds the TLS handshake of a terminating
	// listener (none by default).
	//
	// +optional
	TLSHandshakeTimeout *gwv1.Duration `json:"tlsHandshakeTimeout,omitempty"`
	// ConnectionInspectionTimeout bounds reading the TLS ClientHello (SNI)
	// of a new connection (Envoy's default 15s).
	//
	// +optional
	ConnectionInspectionTimeout *gwv1.Duration `json:"connectionInspectionTimeout,omitempty"`
}

// HTTPClientTimeout configures HTTP request timeouts.
type HTTPClientTimeout struct {
	// RequestReceivedTimeout bounds the time until the whole request is
	// received (Envoy's request_timeout; none by default).
	//
	// +optional
	RequestReceivedTimeout *gwv1.Duration `json:"requestReceivedTimeout,omitempty"`
	// StreamIdleTimeout bounds the time a stream may go without activity
	// (berth's default 5m).
	//
	// +optional
	StreamIdleTimeout *gwv1.Duration `json:"streamIdleTimeout,omitempty"`
	// RequestHeadersReceivedTimeout bounds the time until a request's
	// headers are received (berth's default 10s; 0s: none).
	//
	// +optional
	RequestHeadersReceivedTimeout *gwv1.Duration `json:"requestHeadersReceivedTimeout,omitempty"`
	// IdleTimeout closes a connection without active requests after this
	// long (Envoy's default 1h).
	//
	// +optional
	IdleTimeout *gwv1.Duration `json:"idleTimeout,omitempty"`
}

// HTTP2Settings limits HTTP/2 client connections.
type HTTP2Settings struct {
	// InitialStreamWindowSize is the stream flow-control window (berth's
	// default 64Ki; 65535 to 2147483647 bytes).
	//
	// +optional
	InitialStreamWindowSize *resource.Quantity `json:"initialStreamWindowSize,omitempty"`
	// InitialConnectionWindowSize is the connection flow-control window
	// (berth's default 1Mi; 65535 to 2147483647 bytes).
	//
	// +optional
	InitialConnectionWindowSize *resource.Quantity `json:"initialConnectionWindowSize,omitempty"`
	// MaxConcurrentStreams per connection (berth's default 100).
	//
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	MaxConcurrentStreams *uint32 `json:"maxConcurrentStreams,omitempty"`
	// OnInvalidMessage is what an invalid HTTP/2 message ends: the whole
	// connection (TerminateConnection, Envoy's default) or only its stream
	// (TerminateStream).
	//
	// +kubebuilder:validation:Enum=TerminateConnection;TerminateStream
	// +optional
	OnInvalidMessage *string `json:"onInvalidMessage,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	ConnectionKeepalive *apiextensionsv1.JSON `json:"connectionKeepalive,omitempty"`
}

// WithUnderscoresAction is what is done with a request header whose name
// has an underscore.
//
// +kubebuilder:validation:Enum=Allow;RejectRequest;DropHeader
type WithUnderscoresAction string

// HeaderSettings configures how request headers are handled.
type HeaderSettings struct {
	// WithUnderscoresAction (berth's default RejectRequest).
	//
	// +optional
	WithUnderscoresAction *WithUnderscoresAction `json:"withUnderscoresAction,omitempty"`
	// XForwardedClientCert is how the x-forwarded-client-cert header is
	// handled (berth's and Envoy's default: Sanitize, removed).
	//
	// +optional
	XForwardedClientCert *XForwardedClientCert `json:"xForwardedClientCert,omitempty"`
	// EnableEnvoyHeaders adds Envoy's x-envoy-* headers to requests and
	// responses (off by default, as in the reference).
	//
	// +optional
	EnableEnvoyHeaders *bool `json:"enableEnvoyHeaders,omitempty"`
	// PreserveXRequestID keeps a client's X-Request-ID (deprecated in the
	// reference: requestID PreserveOrGenerate).
	//
	// +optional
	PreserveXRequestID *bool `json:"preserveXRequestID,omitempty"`
	// RequestID is how X-Request-ID is set (default Generate: always a
	// new one).
	//
	// +kubebuilder:validation:Enum=PreserveOrGenerate;Preserve;Generate;Disable
	// +optional
	RequestID *string `json:"requestID,omitempty"`
	// MaxRequestHeaderLimit is the largest request header block accepted
	// (rounded up to KiB, 1Ki to 8192Ki; Envoy's default 60Ki); larger
	// requests get 431.
	//
	// +optional
	MaxRequestHeaderLimit *resource.Quantity `json:"maxRequestHeaderLimit,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	Host *apiextensionsv1.JSON `json:"host,omitempty"`
	// +optional
	EarlyRequestHeaders *apiextensionsv1.JSON `json:"earlyRequestHeaders,omitempty"`
	// +optional
	LateResponseHeaders *apiextensionsv1.JSON `json:"lateResponseHeaders,omitempty"`
	// +optional
	DisableRateLimitHeaders *apiextensionsv1.JSON `json:"disableRateLimitHeaders,omitempty"`
}

// XForwardedClientCert is how the x-forwarded-client-cert (XFCC) header
// is handled.
type XForwardedClientCert struct {
	// Mode (default Sanitize).
	//
	// +kubebuilder:validation:Enum=Sanitize;ForwardOnly;AppendForward;SanitizeSet;AlwaysForwardOnly
	// +optional
	Mode *string `json:"mode,omitempty"`
	// CertDetailsToAdd are the client certificate fields added (Hash and
	// By always are), with mode AppendForward or SanitizeSet only.
	//
	// +kubebuilder:validation:MaxItems=5
	// +optional
	CertDetailsToAdd []string `json:"certDetailsToAdd,omitempty"`
}

// ClientIPDetectionSettings configures how the client address is found:
// at most one of xForwardedFor and customHeader.
type ClientIPDetectionSettings struct {
	// XForwardedFor trusts hops of X-Forwarded-For.
	//
	// +optional
	XForwardedFor *XForwardedForSettings `json:"xForwardedFor,omitempty"`
	// CustomHeader takes the client address from a header (Envoy's
	// custom_header original IP detection).
	//
	// +optional
	CustomHeader *CustomHeaderExtensionSettings `json:"customHeader,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	DirectSourceIP *apiextensionsv1.JSON `json:"directSourceIP,omitempty"`
}

// CustomHeaderExtensionSettings names the header holding the client
// address.
type CustomHeaderExtensionSettings struct {
	// Name of the header.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern="^[A-Za-z0-9-]+$"
	Name string `json:"name"`
	// FailClosed answers 403 when the header holds no address.
	//
	// +optional
	FailClosed *bool `json:"failClosed,omitempty"`
}

// XForwardedForSettings trusts hops of X-Forwarded-For.
type XForwardedForSettings struct {
	// NumTrustedHops in front of Envoy (berth's default 0: the peer is the
	// client).
	//
	// +kubebuilder:validation:Maximum=32
	// +optional
	NumTrustedHops *uint32 `json:"numTrustedHops,omitempty"`
	// TrustedCIDRs are the proxies trusted in front of Envoy: the client is
	// the rightmost X-Forwarded-For address outside them (exclusive with
	// numTrustedHops).
	//
	// +optional
	TrustedCIDRs []string `json:"trustedCIDRs,omitempty"`
	// DisableXForwardedForAppend stops Envoy appending the peer address to
	// X-Forwarded-For.
	//
	// +optional
	DisableXForwardedForAppend *bool `json:"disableXForwardedForAppend,omitempty"`
}

// PathEscapedSlashAction is what is done with a path holding %2F or %5C.
//
// +kubebuilder:validation:Enum=KeepUnchanged;RejectRequest;UnescapeAndForward;UnescapeAndRedirect
type PathEscapedSlashAction string

// PathSettings configures path normalization.
type PathSettings struct {
	// EscapedSlashesAction (berth's default UnescapeAndRedirect).
	//
	// +optional
	EscapedSlashesAction *PathEscapedSlashAction `json:"escapedSlashesAction,omitempty"`
	// DisableMergeSlashes keeps repeated slashes (berth merges them).
	//
	// +optional
	DisableMergeSlashes *bool `json:"disableMergeSlashes,omitempty"`
}

// TCPKeepalive turns TCP keepalive on (SO_KEEPALIVE) for client
// connections; unset fields keep the kernel's defaults.
type TCPKeepalive struct {
	// Probes unanswered before the connection is dead (kernel default 9).
	//
	// +optional
	Probes *uint32 `json:"probes,omitempty"`
	// IdleTime before the first probe (kernel default 7200s).
	//
	// +optional
	IdleTime *gwv1.Duration `json:"idleTime,omitempty"`
	// Interval between probes (kernel default 75s).
	//
	// +optional
	Interval *gwv1.Duration `json:"interval,omitempty"`
}

// ClientConnection limits client connections and their buffers.
type ClientConnection struct {
	// ConnectionLimit limits connections and what one may carry.
	//
	// +optional
	ConnectionLimit *ConnectionLimit `json:"connectionLimit,omitempty"`
	// BufferLimit is the soft limit of each connection's read and write
	// buffers (berth's default 32Ki).
	//
	// +optional
	BufferLimit *resource.Quantity `json:"bufferLimit,omitempty"`
	// MaxAcceptPerSocketEvent is how many pending connections are accepted
	// per socket event (0: all; Envoy's default all).
	//
	// +optional
	MaxAcceptPerSocketEvent *uint32 `json:"maxAcceptPerSocketEvent,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	SocketBufferLimit *apiextensionsv1.JSON `json:"socketBufferLimit,omitempty"`
}

// ConnectionLimit limits connections and what one may carry.
type ConnectionLimit struct {
	// Value is the most concurrent connections per listener filter chain
	// (Envoy's connection_limit filter); further ones are closed.
	//
	// +kubebuilder:validation:Minimum=1
	// +optional
	Value *int64 `json:"value,omitempty"`
	// CloseDelay delays closing a refused connection (needs value).
	//
	// +optional
	CloseDelay *gwv1.Duration `json:"closeDelay,omitempty"`
	// MaxConnectionDuration drains a connection this long after it opened.
	//
	// +optional
	MaxConnectionDuration *gwv1.Duration `json:"maxConnectionDuration,omitempty"`
	// MaxRequestsPerConnection closes a connection after this many
	// requests.
	//
	// +optional
	MaxRequestsPerConnection *uint32 `json:"maxRequestsPerConnection,omitempty"`
	// MaxStreamDuration resets a stream this long after it began.
	//
	// +optional
	MaxStreamDuration *gwv1.Duration `json:"maxStreamDuration,omitempty"`
}

// TLSVersion is a TLS protocol version.
//
// +kubebuilder:validation:Enum=Auto;"1.0";"1.1";"1.2";"1.3"
type TLSVersion string

// ClientTLSSettings configures TLS termination towards clients.
type ClientTLSSettings struct {
	// MinVersion (Envoy's default 1.2).
	//
	// +optional
	MinVersion *TLSVersion `json:"minVersion,omitempty"`
	// MaxVersion (Envoy's default 1.3).
	//
	// +optional
	MaxVersion *TLSVersion `json:"maxVersion,omitempty"`
	// Ciphers offered for TLS 1.0 to 1.2 (BoringSSL names).
	//
	// +optional
	Ciphers []string `json:"ciphers,omitempty"`
	// ECDHCurves offered.
	//
	// +optional
	ECDHCurves []string `json:"ecdhCurves,omitempty"`
	// SignatureAlgorithms offered.
	//
	// +optional
	SignatureAlgorithms []string `json:"signatureAlgorithms,omitempty"`
	// ALPNProtocols offered, in preference order (default h2, http/1.1 on
	// HTTPS listeners; an empty list turns ALPN off).
	//
	// +optional
	ALPNProtocols []string `json:"alpnProtocols,omitempty"`
	// ClientValidation validates client certificates.
	//
	// +optional
	ClientValidation *ClientValidationContext `json:"clientValidation,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	Session *apiextensionsv1.JSON `json:"session,omitempty"`
}

// ClientValidationContext validates client certificates against CAs.
type ClientValidationContext struct {
	// Optional lets clients without a certificate connect (one presented
	// must still verify).
	//
	// +optional
	Optional bool `json:"optional,omitempty"`
	// CACertificateRefs are ConfigMaps or Secrets with the CAs in key
	// ca.crt; another namespace's needs a ReferenceGrant.
	//
	// +kubebuilder:validation:MaxItems=8
	// +optional
	CACertificateRefs []gwv1.SecretObjectReference `json:"caCertificateRefs,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	SPKIHashes *apiextensionsv1.JSON `json:"spkiHashes,omitempty"`
	// +optional
	CertificateHashes *apiextensionsv1.JSON `json:"certificateHashes,omitempty"`
	// +optional
	SubjectAltNames *apiextensionsv1.JSON `json:"subjectAltNames,omitempty"`
	// +optional
	Crl *apiextensionsv1.JSON `json:"crl,omitempty"`
}

// HTTP1Settings configures HTTP/1 client connections.
type HTTP1Settings struct {
	// EnableTrailers proxies HTTP/1 trailers.
	//
	// +optional
	EnableTrailers *bool `json:"enableTrailers,omitempty"`
	// PreserveHeaderCase keeps the case of header names (Envoy lower-cases
	// them by default).
	//
	// +optional
	PreserveHeaderCase *bool `json:"preserveHeaderCase,omitempty"`
	// HTTP10 accepts HTTP/1.0 and HTTP/0.9 requests.
	//
	// +optional
	HTTP10 *HTTP10Settings `json:"http10,omitempty"`
	// DisableSafeMaxConnectionDuration closes HTTP/1 connections soon after
	// maxConnectionDuration instead of after the next response.
	//
	// +optional
	DisableSafeMaxConnectionDuration *bool `json:"disableSafeMaxConnectionDuration,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	IgnoredUpgradeTypes *apiextensionsv1.JSON `json:"ignoredUpgradeTypes,omitempty"`
}

// HTTP10Settings configures HTTP/1.0.
type HTTP10Settings struct {
	// UseDefaultHost gives a request without Host the targeted listener's
	// hostname (which must then be set and not a wildcard).
	//
	// +optional
	UseDefaultHost *bool `json:"useDefaultHost,omitempty"`
}
