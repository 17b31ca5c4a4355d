package v1alpha1

import (
	"fmt"
	"math"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Validate checks a ClientTrafficPolicy spec: its targets and the values
// of the settings berth implements. It returns nil or FieldErrors.
func (s *ClientTrafficPolicySpec) Validate() error {
	var v fieldErrs
	if len(s.TargetRefs) == 0 {
		v.add("spec.targetRefs", "must name at least one Gateway")
	}
	for i, r := range s.TargetRefs {
		if r.Group != gwv1.GroupName || r.Kind != "Gateway" {
			v.add(fmt.Sprintf("spec.targetRefs[%d]", i), "must be a Gateway (group %s), got %s %s", gwv1.GroupName, r.Kind, r.Group)
		}
	}
	if t := s.Timeout; t != nil && t.HTTP != nil {
		v.duration("spec.timeout.http.requestReceivedTimeout", t.HTTP.RequestReceivedTimeout)
		v.duration("spec.timeout.http.streamIdleTimeout", t.HTTP.StreamIdleTimeout)
	}
	if h := s.HTTP2; h != nil {
		v.window("spec.http2.initialStreamWindowSize", h.InitialStreamWindowSize)
		v.window("spec.http2.initialConnectionWindowSize", h.InitialConnectionWindowSize)
		if n := h.MaxConcurrentStreams; n != nil && (*n < 1 || *n > math.MaxInt32) {
			v.add("spec.http2.maxConcurrentStreams", "must be 1-2147483647, got %d", *n)
		}
	}
	if h := s.Headers; h != nil && h.WithUnderscoresAction != nil {
		switch *h.WithUnderscoresAction {
		case "Allow", "RejectRequest", "DropHeader":
		default:
			v.add("spec.headers.withUnderscoresAction", "unsupported value %q (supported: Allow, RejectRequest, DropHeader)", *h.WithUnderscoresAction)
		}
	}
	if c := s.ClientIPDetection; c != nil && c.XForwardedFor != nil && c.XForwardedFor.NumTrustedHops != nil && *c.XForwardedFor.NumTrustedHops > 32 {
		v.add("spec.clientIPDetection.xForwardedFor.numTrustedHops", "must be at most 32, got %d", *c.XForwardedFor.NumTrustedHops)
	}
	if p := s.Path; p != nil && p.EscapedSlashesAction != nil {
		switch *p.EscapedSlashesAction {
		case "KeepUnchanged", "RejectRequest", "UnescapeAndForward", "UnescapeAndRedirect":
		default:
			v.add("spec.path.escapedSlashesAction", "unsupported value %q (supported: KeepUnchanged, RejectRequest, UnescapeAndForward, UnescapeAndRedirect)", *p.EscapedSlashesAction)
		}
	}
	return v.join()
}

// Unsupported lists, in a stable order, the JSON paths of the set fields
// berth does not implement; a policy setting any of them is refused.
func (s *ClientTrafficPolicySpec) Unsupported() []string {
	var out []string
	add := func(path string, j *apiextensionsv1.JSON) {
		if j != nil {
			out = append(out, path)
		}
	}
	if c := s.ClientIPDetection; c != nil {
		add("spec.clientIPDetection.customHeader", c.CustomHeader)
		if c.XForwardedFor != nil {
			add("spec.clientIPDetection.xForwardedFor.trustedCIDRs", c.XForwardedFor.TrustedCIDRs)
		}
	}
	add("spec.connection", s.Connection)
	add("spec.enableProxyProtocol", s.EnableProxyProtocol)
	if h := s.Headers; h != nil {
		add("spec.headers.disableRateLimitHeaders", h.DisableRateLimitHeaders)
		add("spec.headers.earlyRequestHeaders", h.EarlyRequestHeaders)
		add("spec.headers.enableEnvoyHeaders", h.EnableEnvoyHeaders)
		add("spec.headers.lateResponseHeaders", h.LateResponseHeaders)
		add("spec.headers.preserveXRequestID", h.PreserveXRequestID)
		add("spec.headers.requestID", h.RequestID)
		add("spec.headers.xForwardedClientCert", h.XForwardedClientCert)
	}
	add("spec.healthCheck", s.HealthCheck)
	add("spec.http1", s.HTTP1)
	if s.HTTP2 != nil {
		add("spec.http2.onInvalidMessage", s.HTTP2.OnInvalidMessage)
	}
	add("spec.http3", s.HTTP3)
	add("spec.proxyProtocol", s.ProxyProtocol)
	add("spec.scheme", s.Scheme)
	add("spec.targetRef", s.TargetRef)
	add("spec.targetSelectors", s.TargetSelectors)
	add("spec.tcpKeepalive", s.TCPKeepalive)
	if t := s.Timeout; t != nil {
		if t.HTTP != nil {
			add("spec.timeout.http.idleTimeout", t.HTTP.IdleTimeout)
		}
		add("spec.timeout.tcp", t.TCP)
	}
	add("spec.tls", s.TLS)
	return out
}

// ParseDuration reads a Gateway API duration (e.g. "10s", "1h30m").
func ParseDuration(d gwv1.Duration) (time.Duration, error) {
	return time.ParseDuration(string(d))
}

func (v *fieldErrs) duration(field string, d *gwv1.Duration) {
	if d == nil {
		return
	}
	if x, err := ParseDuration(*d); err != nil || x < 0 {
		v.add(field, "%q is not a non-negative duration such as 10s or 1m30s", string(*d))
	}
}

// window checks an HTTP/2 flow-control window (RFC 9113: 65535 to 2^31-1;
// Envoy's lower bound is 65535).
func (v *fieldErrs) window(field string, q *resource.Quantity) {
	if q == nil {
		return
	}
	if n, ok := q.AsInt64(); !ok || n < 65535 || n > math.MaxInt32 {
		v.add(field, "must be 65535 to 2147483647 bytes, got %s", q.String())
	}
}
