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

	// Not implemented by berth (the policy is refused when set).

	// +optional
	TargetRef *apiextensionsv1.JSON `json:"targetRef,omitempty"`
	// +optional
	TargetSelectors *apiextensionsv1.JSON `json:"targetSelectors,omitempty"`
	// +optional
	TCPKeepalive *apiextensionsv1.JSON `json:"tcpKeepalive,omitempty"`
	// +optional
	Connection *apiextensionsv1.JSON `json:"connection,omitempty"`
	// +optional
	TLS *apiextensionsv1.JSON `json:"tls,omitempty"`
	// +optional
	HTTP1 *apiextensionsv1.JSON `json:"http1,omitempty"`
	// +optional
	HTTP3 *apiextensionsv1.JSON `json:"http3,omitempty"`
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

	// Not implemented by berth (the policy is refused when set).

	// +optional
	TCP *apiextensionsv1.JSON `json:"tcp,omitempty"`
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

	// Not implemented by berth (the policy is refused when set).

	// +optional
	IdleTimeout *apiextensionsv1.JSON `json:"idleTimeout,omitempty"`
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

	// Not implemented by berth (the policy is refused when set).

	// +optional
	OnInvalidMessage *apiextensionsv1.JSON `json:"onInvalidMessage,omitempty"`
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

	// Not implemented by berth (the policy is refused when set).

	// +optional
	XForwardedClientCert *apiextensionsv1.JSON `json:"xForwardedClientCert,omitempty"`
	// +optional
	EnableEnvoyHeaders *apiextensionsv1.JSON `json:"enableEnvoyHeaders,omitempty"`
	// +optional
	PreserveXRequestID *apiextensionsv1.JSON `json:"preserveXRequestID,omitempty"`
	// +optional
	RequestID *apiextensionsv1.JSON `json:"requestID,omitempty"`
	// +optional
	EarlyRequestHeaders *apiextensionsv1.JSON `json:"earlyRequestHeaders,omitempty"`
	// +optional
	LateResponseHeaders *apiextensionsv1.JSON `json:"lateResponseHeaders,omitempty"`
	// +optional
	DisableRateLimitHeaders *apiextensionsv1.JSON `json:"disableRateLimitHeaders,omitempty"`
}

// ClientIPDetectionSettings configures how the client address is found.
type ClientIPDetectionSettings struct {
	// XForwardedFor trusts hops of X-Forwarded-For.
	//
	// +optional
	XForwardedFor *XForwardedForSettings `json:"xForwardedFor,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	CustomHeader *apiextensionsv1.JSON `json:"customHeader,omitempty"`
}

// XForwardedForSettings trusts hops of X-Forwarded-For.
type XForwardedForSettings struct {
	// NumTrustedHops in front of Envoy (berth's default 0: the peer is the
	// client).
	//
	// +kubebuilder:validation:Maximum=32
	// +optional
	NumTrustedHops *uint32 `json:"numTrustedHops,omitempty"`

	// Not implemented by berth (the policy is refused when set).

	// +optional
	TrustedCIDRs *apiextensionsv1.JSON `json:"trustedCIDRs,omitempty"`
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
