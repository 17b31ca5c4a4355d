package v1alpha1

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
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
		v.duration("spec.timeout.http.requestHeadersReceivedTimeout", t.HTTP.RequestHeadersReceivedTimeout)
		v.duration("spec.timeout.http.idleTimeout", t.HTTP.IdleTimeout)
	}
	if t := s.Timeout; t != nil && t.TCP != nil {
		v.duration("spec.timeout.tcp.idleTimeout", t.TCP.IdleTimeout)
		v.duration("spec.timeout.tcp.tlsHandshakeTimeout", t.TCP.TLSHandshakeTimeout)
		v.duration("spec.timeout.tcp.connectionInspectionTimeout", t.TCP.ConnectionInspectionTimeout)
	}
	if h := s.HTTP2; h != nil && h.OnInvalidMessage != nil {
		v.oneOf("spec.http2.onInvalidMessage", *h.OnInvalidMessage, "TerminateConnection", "TerminateStream")
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
	if h := s.Headers; h != nil {
		s.validateHeaders(&v, h)
	}
	if c := s.ClientIPDetection; c != nil {
		validateClientIPDetection(&v, c)
	}
	if k := s.TCPKeepalive; k != nil {
		v.duration("spec.tcpKeepalive.idleTime", k.IdleTime)
		v.duration("spec.tcpKeepalive.interval", k.Interval)
		v.seconds("spec.tcpKeepalive.idleTime", k.IdleTime)
		v.seconds("spec.tcpKeepalive.interval", k.Interval)
		if k.Probes != nil && (*k.Probes < 1 || *k.Probes > 127) {
			v.add("spec.tcpKeepalive.probes", "must be 1-127 (TCP_KEEPCNT), got %d", *k.Probes)
		}
	}
	if c := s.Connection; c != nil {
		validateConnection(&v, c)
	}
	if t := s.TLS; t != nil {
		validateClientTLS(&v, t)
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

func (s *ClientTrafficPolicySpec) validateHeaders(v *fieldErrs, h *HeaderSettings) {
	if h.RequestID != nil {
		v.oneOf("spec.headers.requestID", *h.RequestID, "PreserveOrGenerate", "Preserve", "Generate", "Disable")
		if h.PreserveXRequestID != nil {
			v.add("spec.headers.preserveXRequestID", "cannot be set together with requestID")
		}
	}
	if x := h.XForwardedClientCert; x != nil {
		mode := "Sanitize"
		if x.Mode != nil {
			mode = *x.Mode
			v.oneOf("spec.headers.xForwardedClientCert.mode", mode, "Sanitize", "ForwardOnly", "AppendForward", "SanitizeSet", "AlwaysForwardOnly")
		}
		if len(x.CertDetailsToAdd) > 0 && mode != "AppendForward" && mode != "SanitizeSet" {
			v.add("spec.headers.xForwardedClientCert.certDetailsToAdd", "can only be set with mode AppendForward or SanitizeSet, got mode %s", mode)
		}
		if len(x.CertDetailsToAdd) > 5 {
			v.add("spec.headers.xForwardedClientCert.certDetailsToAdd", "at most 5 entries, got %d", len(x.CertDetailsToAdd))
		}
		for i, d := range x.CertDetailsToAdd {
			v.oneOf(fmt.Sprintf("spec.headers.xForwardedClientCert.certDetailsToAdd[%d]", i), d, "Subject", "Cert", "Chain", "DNS", "URI")
		}
	}
	if q := h.MaxRequestHeaderLimit; q != nil {
		if n, ok := q.AsInt64(); !ok || n < 1 || n > 8192<<10 {
			v.add("spec.headers.maxRequestHeaderLimit", "must be 1 to 8192Ki bytes, got %s", q.String())
		}
	}
}

func validateClientIPDetection(v *fieldErrs, c *ClientIPDetectionSettings) {
	if c.XForwardedFor != nil && c.CustomHeader != nil {
		v.add("spec.clientIPDetection", "customHeader cannot be used together with xForwardedFor")
	}
	if x := c.XForwardedFor; x != nil {
		if x.NumTrustedHops != nil && *x.NumTrustedHops > 32 {
			v.add("spec.clientIPDetection.xForwardedFor.numTrustedHops", "must be at most 32, got %d", *x.NumTrustedHops)
		}
		if x.NumTrustedHops != nil && len(x.TrustedCIDRs) > 0 {
			v.add("spec.clientIPDetection.xForwardedFor", "only one of numTrustedHops and trustedCIDRs may be set")
		}
		for i, c := range x.TrustedCIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				v.add(fmt.Sprintf("spec.clientIPDetection.xForwardedFor.trustedCIDRs[%d]", i), "%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", c)
			}
		}
	}
	if h := c.CustomHeader; h != nil && !headerName.MatchString(h.Name) {
		v.add("spec.clientIPDetection.customHeader.name", "%q is not a header name (letters, digits and -, at most 255)", h.Name)
	}
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9-]{1,255}$`)

func validateConnection(v *fieldErrs, c *ClientConnection) {
	if q := c.BufferLimit; q != nil {
		if n, ok := q.AsInt64(); !ok || n < 1 || n > math.MaxUint32 {
			v.add("spec.connection.bufferLimit", "must be 1 to 4294967295 bytes, got %s", q.String())
		}
	}
	l := c.ConnectionLimit
	if l == nil {
		return
	}
	if l.Value != nil && *l.Value < 1 {
		v.add("spec.connection.connectionLimit.value", "must be at least 1, got %d", *l.Value)
	}
	if l.CloseDelay != nil && l.Value == nil {
		v.add("spec.connection.connectionLimit.closeDelay", "can only be set together with value")
	}
	v.duration("spec.connection.connectionLimit.closeDelay", l.CloseDelay)
	v.duration("spec.connection.connectionLimit.maxConnectionDuration", l.MaxConnectionDuration)
	v.duration("spec.connection.connectionLimit.maxStreamDuration", l.MaxStreamDuration)
	if n := l.MaxRequestsPerConnection; n != nil && *n < 1 {
		v.add("spec.connection.connectionLimit.maxRequestsPerConnection", "must be at least 1, got 0")
	}
}

// tlsVersionOrder orders TLS versions (Auto is 1.2 as a minimum and 1.3 as
// a maximum, Envoy's defaults).
var tlsVersionOrder = map[TLSVersion]int{"1.0": 10, "1.1": 11, "1.2": 12, "1.3": 13}

func validateClientTLS(v *fieldErrs, t *ClientTLSSettings) {
	lo, hi := 12, 13
	if m := t.MinVersion; m != nil {
		if n, ok := tlsVersionOrder[*m]; ok {
			lo = n
		} else if *m != "Auto" {
			v.add("spec.tls.minVersion", "unsupported value %q (supported: Auto, 1.0, 1.1, 1.2, 1.3)", *m)
		}
	}
	if m := t.MaxVersion; m != nil {
		if n, ok := tlsVersionOrder[*m]; ok {
			hi = n
		} else if *m != "Auto" {
			v.add("spec.tls.maxVersion", "unsupported value %q (supported: Auto, 1.0, 1.1, 1.2, 1.3)", *m)
		}
	}
	if lo > hi {
		v.add("spec.tls", "minVersion must not be above maxVersion")
	}
	if lo == 13 && len(t.Ciphers) > 0 {
		v.add("spec.tls.ciphers", "has no effect when the minimum version is 1.3")
	}
	for i, a := range t.ALPNProtocols {
		if a == "" || len(a) > 255 {
			v.add(fmt.Sprintf("spec.tls.alpnProtocols[%d]", i), "must be 1-255 bytes")
		}
	}
	for field, list := range map[string][]string{"ciphers": t.Ciphers, "ecdhCurves": t.ECDHCurves, "signatureAlgorithms": t.SignatureAlgorithms} {
		for i, x := range list {
			if x == "" || strings.ContainsAny(x, " \t,:") {
				v.add(fmt.Sprintf("spec.tls.%s[%d]", field, i), "%q is not a single name", x)
			}
		}
	}
	if c := t.ClientValidation; c != nil {
		if len(c.CACertificateRefs) == 0 {
			v.add("spec.tls.clientValidation.caCertificateRefs", "must name at least one ConfigMap or Secret")
		}
		if len(c.CACertificateRefs) > 8 {
			v.add("spec.tls.clientValidation.caCertificateRefs", "at most 8 entries, got %d", len(c.CACertificateRefs))
		}
	}
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
		add("spec.clientIPDetection.directSourceIP", c.DirectSourceIP)
	}
	if c := s.Connection; c != nil {
		add("spec.connection.socketBufferLimit", c.SocketBufferLimit)
	}
	add("spec.enableProxyProtocol", s.EnableProxyProtocol)
	add("spec.grpc", s.GRPC)
	if h := s.Headers; h != nil {
		add("spec.headers.disableRateLimitHeaders", h.DisableRateLimitHeaders)
		add("spec.headers.earlyRequestHeaders", h.EarlyRequestHeaders)
		add("spec.headers.host", h.Host)
		add("spec.headers.lateResponseHeaders", h.LateResponseHeaders)
	}
	add("spec.healthCheck", s.HealthCheck)
	if h := s.HTTP1; h != nil {
		add("spec.http1.ignoredUpgradeTypes", h.IgnoredUpgradeTypes)
	}
	if s.HTTP2 != nil {
		add("spec.http2.connectionKeepalive", s.HTTP2.ConnectionKeepalive)
	}
	add("spec.http3", s.HTTP3)
	add("spec.proxyProtocol", s.ProxyProtocol)
	add("spec.scheme", s.Scheme)
	add("spec.targetRef", s.TargetRef)
	add("spec.targetSelectors", s.TargetSelectors)
	if t := s.TLS; t != nil {
		if c := t.ClientValidation; c != nil {
			add("spec.tls.clientValidation.certificateHashes", c.CertificateHashes)
			add("spec.tls.clientValidation.crl", c.Crl)
			add("spec.tls.clientValidation.spkiHashes", c.SPKIHashes)
			add("spec.tls.clientValidation.subjectAltNames", c.SubjectAltNames)
		}
		add("spec.tls.session", t.Session)
	}
	return out
}

// ParseDuration reads a Gateway API duration (e.g. "10s", "1h30m").
func ParseDuration(d gwv1.Duration) (time.Duration, error) {
	return time.ParseDuration(string(d))
}

// oneOf checks an enumeration.
func (v *fieldErrs) oneOf(field, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.add(field, "unsupported value %q (supported: %s)", got, strings.Join(allowed, ", "))
}

// seconds checks a duration set as a socket option: whole seconds, at
// least 1 and at most 2^15 (the kernel's TCP_KEEPIDLE/TCP_KEEPINTVL limit).
func (v *fieldErrs) seconds(field string, d *gwv1.Duration) {
	if d == nil {
		return
	}
	if x, err := ParseDuration(*d); err == nil && (x < time.Second || x > 32767*time.Second || x%time.Second != 0) {
		v.add(field, "%q must be whole seconds from 1s to 32767s", string(*d))
	}
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
