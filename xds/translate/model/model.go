// Package model is the Envoy-free description of one Gateway's data plane:
// what the Gateway API objects mean once attachment, precedence, hostname
// intersection and reference resolution are decided, before any Envoy
// resource exists.
//
// The translate package builds a Gateway from Gateway API objects and then
// turns it into go-control-plane resources with one small builder per
// Envoy resource kind (listener, route configuration, cluster, endpoints,
// secret). Everything here is plain Go: no Envoy, Kubernetes or Gateway API
// types, so the model can be asserted on without reading protos, and a new
// route kind or policy changes the model and one builder.
//
// The model must not import go-control-plane; names of Envoy resources are
// decided by the translate package (names.go) and carried here as strings.
//
// Layer-4 listeners (l4.go): Protocols TCP, TLS and UDP; a FilterChain's
// TCPProxy beside HTTP, a Listener's UDPProxy, a Cluster's Localities.
//
// Where the next features plug in:
//   - Per-listener edge settings (HTTP/1 and HTTP/2 options, timeouts,
//     access log, client traffic policies): fields of HTTPSettings, one per
//     filter chain, and TLS settings on DownstreamTLS.
//   - Upstream TLS (BackendTLSPolicy): Cluster.TLS; client-certificate
//     validation (Gateway spec.tls.frontend): DownstreamTLS.ClientValidation.
package model

import "time"

// Gateway is the data plane of one Gateway: what its proxy receives.
type Gateway struct {
	// Listeners are the ports Envoy binds, sorted by port.
	Listeners []*Listener
	// Clusters are the upstreams the routes use, sorted by name; each
	// carries its endpoints.
	Clusters []*Cluster
	// Secrets are the certificates the listeners serve, sorted by name.
	Secrets []*Secret
}

// Protocol is what a bound port speaks.
type Protocol string

const (
	// ProtocolHTTP is plain HTTP/1.1 and h2c, one HTTP connection manager.
	ProtocolHTTP Protocol = "HTTP"
	// ProtocolHTTPS terminates TLS: one filter chain per Gateway listener,
	// selected by SNI.
	ProtocolHTTPS Protocol = "HTTPS"
)

// Listener is one bound port and the Gateway listeners it serves.
type Listener struct {
	// Name is the Envoy listener name.
	Name string
	// Port is the Gateway listener port.
	Port int32
	// Address and BindPort are where Envoy listens (BindPort is Port plus
	// the privileged-port offset below 1024).
	Address  string
	BindPort uint32
	// Protocol is what the port speaks.
	Protocol Protocol
	// FilterChains handle the port's connections: HTTP has one without
	// server names; HTTPS one per Gateway listener, sorted by its name.
	FilterChains []*FilterChain
	// BufferLimitBytes is the soft limit of each connection's read and
	// write buffers (0: Envoy's default).
	BufferLimitBytes uint32
	// Keepalive turns TCP keepalive on for accepted connections (nil:
	// off).
	Keepalive *TCPKeepalive
	// MaxAcceptPerSocketEvent bounds the connections accepted per socket
	// event (0: Envoy's default, all pending).
	MaxAcceptPerSocketEvent uint32
	// InspectionTimeout bounds the listener filters (reading the TLS
	// ClientHello) of a new connection (0: Envoy's default 15s).
	InspectionTimeout time.Duration
	// UDP is the proxy of a UDP port (which has no FilterChains).
	UDP *UDPProxy
	// AccessLogs are written by the listener itself (telemetry.go): for
	// connections and requests that fail before a route takes them.
	AccessLogs []AccessLog
}

// FilterChain is how a connection is handled once its server name (SNI)
// selected it.
type FilterChain struct {
	// Name is the filter chain name ("" for the single HTTP chain).
	Name string
	// Listener is the Gateway listener of an HTTPS chain ("" for HTTP,
	// whose chain serves every HTTP listener of the port).
	Listener string
	// ServerNames select the chain by SNI; empty takes any.
	ServerNames []string
	// TLS terminates TLS on the chain; nil for plain text.
	TLS *DownstreamTLS
	// HTTP is the HTTP connection manager of the chain.
	HTTP *HTTP
	// TCP forwards the chain's connections instead (TCP and TLS ports).
	TCP *TCPProxy
	// ConnectionLimit bounds the chain's concurrent connections (nil:
	// none).
	ConnectionLimit *ConnectionLimit
	// HandshakeTimeout bounds the TLS handshake (0: none).
	HandshakeTimeout time.Duration
}

// TCPKeepalive is TCP keepalive on accepted connections; zero fields keep
// the kernel's defaults.
type TCPKeepalive struct {
	// Probes unanswered before the connection is dead.
	Probes uint32
	// Idle is the idle time before the first probe, Interval the time
	// between probes (whole seconds).
	Idle, Interval time.Duration
}

// ConnectionLimit bounds a filter chain's concurrent connections: further
// connections are closed, after Delay.
type ConnectionLimit struct {
	// StatPrefix names the limit's statistics.
	StatPrefix string
	// Max concurrent connections (> 0).
	Max uint64
	// Delay before a refused connection is closed (0: at once).
	Delay time.Duration
}

// DownstreamTLS is the TLS a filter chain terminates.
type DownstreamTLS struct {
	// Secrets name the certificates (Secret.Name) served over SDS.
	Secrets []string
	// ALPN protocols offered, in preference order.
	ALPN []string
	// ClientValidation validates client certificates (nil: none asked for).
	ClientValidation *ClientValidation
	// MinVersion and MaxVersion bound the TLS version ("" or "Auto":
	// Envoy's defaults 1.2 and 1.3; else "1.0" to "1.3").
	MinVersion, MaxVersion string
	// Ciphers (TLS 1.0-1.2), ECDHCurves and SignatureAlgorithms offered
	// (empty: Envoy's defaults).
	Ciphers, ECDHCurves, SignatureAlgorithms []string
}

// ClientValidation is how a filter chain validates client certificates
// (Gateway spec.tls.frontend).
type ClientValidation struct {
	// TrustedCA is the PEM bundle client certificates must chain to.
	TrustedCA []byte
	// Optional accepts connections without a certificate; otherwise a
	// certificate is required.
	Optional bool
	// AcceptUntrusted accepts a certificate that does not verify too
	// (the Gateway's AllowInsecureFallback); otherwise one presented must
	// verify.
	AcceptUntrusted bool
}

// HTTP is an HTTP connection manager: its settings and its route table.
type HTTP struct {
	// StatPrefix names the connection manager's statistics.
	StatPrefix string
	// Settings apply to the connection manager.
	Settings HTTPSettings
	// Routes is the route table (RDS) the connection manager uses.
	Routes *RouteTable
	// AccessLogs are written for every request (telemetry.go).
	AccessLogs []AccessLog
}

// HTTPSettings are the edge settings of an HTTP connection manager. Their
// defaults are EdgeHTTPSettings (defaults.go); a policy attached to a
// Gateway or one of its listeners overrides them per filter chain.
type HTTPSettings struct {
	// UseRemoteAddress treats the peer as the client (X-Forwarded-For,
	// X-Envoy-External-Address and X-Forwarded-Proto from the connection).
	UseRemoteAddress bool
	// XffNumTrustedHops is the number of trusted X-Forwarded-For hops in
	// front of Envoy.
	XffNumTrustedHops uint32
	// Upgrades are the connection upgrades (the Upgrade header, such as
	// "websocket") the connection manager lets through; any other upgrade
	// is refused (403).
	Upgrades []string
	// HTTP2 limits HTTP/2 connections from clients.
	HTTP2 HTTP2Settings
	// HeadersWithUnderscores is what happens to a request whose header
	// names contain "_".
	HeadersWithUnderscores UnderscoreAction
	// RequestHeadersTimeout bounds the time until a request's headers are
	// received (0: none).
	RequestHeadersTimeout time.Duration
	// StreamIdleTimeout bounds the time a stream may go without activity
	// (0: none).
	StreamIdleTimeout time.Duration
	// RequestTimeout bounds the time until a whole request is received
	// (0: none, the default).
	RequestTimeout time.Duration
	// MergeSlashes collapses repeated slashes in the path ("//a" → "/a")
	// before routing.
	MergeSlashes bool
	// EscapedSlashes is what happens to a path with %2F or %5C.
	EscapedSlashes EscapedSlashAction
	// IdleTimeout closes a connection
	// without active requests (0: Envoy's default 1h).
	IdleTimeout time.Duration
	// MaxConnectionDuration drains a connection this long after it opened,
	// MaxStreamDuration resets a stream this long after it began (0: none).
	MaxConnectionDuration, MaxStreamDuration time.Duration
	// HTTP1SafeMaxConnectionDuration closes an HTTP/1 connection past
	// MaxConnectionDuration only after its next response.
	HTTP1SafeMaxConnectionDuration bool
	// MaxRequestsPerConnection closes a connection after this many
	// requests (0: none).
	MaxRequestsPerConnection uint32
	// MaxRequestHeadersKB is the largest request header block (0: Envoy's
	// default 60 KiB); larger requests are answered 431.
	MaxRequestHeadersKB uint32
	// HTTP1 configures HTTP/1 connections.
	HTTP1 HTTP1Settings
	// XffTrustedCIDRs, when set, replace XffNumTrustedHops: the client is
	// the rightmost X-Forwarded-For address outside them (when the peer is
	// inside them).
	XffTrustedCIDRs []string
	// SkipXffAppend leaves X-Forwarded-For without the peer address.
	SkipXffAppend bool
	// ClientIPHeader, when set, takes the client address from a header
	// instead of X-Forwarded-For.
	ClientIPHeader *ClientIPHeader
	// EnvoyHeaders adds Envoy's x-envoy-* headers to requests and
	// responses.
	EnvoyHeaders bool
	// RequestID is how X-Request-ID is set.
	RequestID RequestIDAction
	// ForwardClientCert is how x-forwarded-client-cert is handled.
	ForwardClientCert ForwardClientCert
}

// HTTP1Settings configure HTTP/1 connections.
type HTTP1Settings struct {
	// EnableTrailers proxies trailers; PreserveHeaderCase keeps the case
	// of header names; AcceptHTTP10 accepts HTTP/1.0 (and 0.9) requests,
	// giving those without Host DefaultHost ("": refused).
	EnableTrailers, PreserveHeaderCase, AcceptHTTP10 bool
	DefaultHost                                      string
}

// ClientIPHeader takes the client address from a request header.
type ClientIPHeader struct {
	// Name of the header.
	Name string
	// FailClosed answers 403 when the header holds no address.
	FailClosed bool
}

// RequestIDAction is how X-Request-ID is set.
type RequestIDAction string

const (
	// RequestIDGenerate always sets a new one (the default).
	RequestIDGenerate RequestIDAction = "Generate"
	// RequestIDPreserveOrGenerate keeps a client's, else sets a new one.
	RequestIDPreserveOrGenerate RequestIDAction = "PreserveOrGenerate"
	// RequestIDPreserve keeps a client's and sets none.
	RequestIDPreserve RequestIDAction = "Preserve"
	// RequestIDDisable neither keeps nor sets one.
	RequestIDDisable RequestIDAction = "Disable"
)

// ForwardClientCert is how the x-forwarded-client-cert header is handled.
type ForwardClientCert struct {
	// Mode: "" or "Sanitize" (removed), "ForwardOnly", "AppendForward",
	// "SanitizeSet" or "AlwaysForwardOnly" (the reference's modes).
	Mode string
	// Details of the client certificate added with AppendForward and
	// SanitizeSet: "Subject", "Cert", "Chain", "DNS", "URI".
	Details []string
}

// HTTP2Settings limit HTTP/2 connections (0: Envoy's default).
type HTTP2Settings struct {
	// MaxConcurrentStreams per connection.
	MaxConcurrentStreams uint32
	// InitialStreamWindowSize and InitialConnectionWindowSize are the flow
	// control windows in bytes: how much a client may send before Envoy
	// reads it.
	InitialStreamWindowSize     uint32
	InitialConnectionWindowSize uint32
	// TerminateStreamOnInvalidMessage resets only the stream of an invalid
	// message (Envoy's default closes the connection).
	TerminateStreamOnInvalidMessage bool
}

// UnderscoreAction is what is done with a request header whose name has an
// underscore.
type UnderscoreAction string

const (
	// UnderscoreAllow forwards such headers.
	UnderscoreAllow UnderscoreAction = "Allow"
	// UnderscoreReject answers 400 (HTTP/1) or resets the stream (HTTP/2).
	UnderscoreReject UnderscoreAction = "RejectRequest"
	// UnderscoreDrop removes such headers and forwards the request.
	UnderscoreDrop UnderscoreAction = "DropHeader"
)

// EscapedSlashAction is what is done with a path holding an escaped slash
// or backslash (%2F, %5C, any case).
type EscapedSlashAction string

const (
	// EscapedSlashKeep routes and forwards the path unchanged.
	EscapedSlashKeep EscapedSlashAction = "KeepUnchanged"
	// EscapedSlashReject answers 400.
	EscapedSlashReject EscapedSlashAction = "RejectRequest"
	// EscapedSlashUnescapeAndRedirect redirects (307) to the unescaped path.
	EscapedSlashUnescapeAndRedirect EscapedSlashAction = "UnescapeAndRedirect"
	// EscapedSlashUnescapeAndForward unescapes the path, then routes and
	// forwards it.
	EscapedSlashUnescapeAndForward EscapedSlashAction = "UnescapeAndForward"
)

// RouteTable is a route table: one virtual host per hostname.
type RouteTable struct {
	// Name is the route table (RDS) name.
	Name string
	// VirtualHosts are sorted by hostname.
	VirtualHosts []*VirtualHost
}

// VirtualHost holds the routes for requests to one hostname.
type VirtualHost struct {
	// Name is the virtual host name.
	Name string
	// Hostname is the domain the virtual host takes: exact, "*.suffix" or "*".
	Hostname string
	// Routes in the order Envoy tries them (the Gateway API's precedence).
	Routes []*Route
}

// Route is one match of one route rule and what to do with a request it
// matches. Exactly one of Forward, Redirect and DirectResponse is set.
type Route struct {
	// Name is the Envoy route name (it names the Gateway API route, rule
	// and match it came from).
	Name string
	// Match selects requests.
	Match Match
	// RequestHeaders and ResponseHeaders are modified for every request
	// the route takes (nil: not modified).
	RequestHeaders, ResponseHeaders *HeaderModifier
	// Forward sends the request upstream.
	Forward *Forward
	// Redirect answers with a redirect.
	Redirect *Redirect
	// DirectResponse answers with this status and no body (0: unset).
	DirectResponse uint32
}

// PathMatchType is how a path is matched.
type PathMatchType uint8

const (
	// PathPrefix matches whole path elements; Value has no trailing
	// slash, and "" matches every path.
	PathPrefix PathMatchType = iota
	// PathExact matches the path exactly.
	PathExact
	// PathRegex matches the path (without query) fully against a RE2
	// expression.
	PathRegex
)

// Match selects requests: every part must match.
type Match struct {
	// Path match type and value.
	PathType PathMatchType
	Path     string
	// Headers must all match (names lower-case, in spec order).
	Headers []StringMatch
	// QueryParams must all match.
	QueryParams []StringMatch
	// Method must equal the request method ("" any).
	Method string
}

// StringMatch matches one named value (a header or query parameter).
type StringMatch struct {
	Name  string
	Value string
	// Regex: Value is a RE2 expression matched fully; else exact.
	Regex bool
}

// HeaderModifier changes headers: Set overwrites, Add appends, Remove
// deletes (names lower-case).
type HeaderModifier struct {
	Set, Add []Header
	Remove   []string
}

// Empty reports whether m changes nothing (a nil m is empty).
func (m *HeaderModifier) Empty() bool { return m == nil || len(m.Set)+len(m.Add)+len(m.Remove) == 0 }

// Header is a header name and value.
type Header struct {
	Name, Value string
}

// Forward sends requests to weighted backends.
type Forward struct {
	// Backends with weight > 0, in spec order.
	Backends []Backend
	// InvalidWeight is the weight of backend references that did not
	// resolve: that share of requests is answered 500.
	InvalidWeight uint32
	// HostRewrite replaces the Host header ("" keeps it).
	HostRewrite string
	// PathRewrite replaces the path (nil keeps it).
	PathRewrite *PathRewrite
	// Timeout bounds the whole request (nil: Envoy's default).
	Timeout *time.Duration
	// PerTryTimeout bounds each backend request (nil: none).
	PerTryTimeout *time.Duration
	// Retry retries failed backend requests (nil: no retries).
	Retry *Retry
	// GRPC: calls may stream for long; no route timeout, the client's
	// grpc-timeout header bounds a call.
	GRPC bool
	// Mirrors receive a copy of requests.
	Mirrors []Mirror
}

// Backend is one weighted upstream of a route.
type Backend struct {
	// Cluster is the Cluster.Name of the backend.
	Cluster string
	// Weight is the backend's share (> 0).
	Weight uint32
	// RequestHeaders and ResponseHeaders are modified for requests sent to
	// this backend only (nil: not modified).
	RequestHeaders, ResponseHeaders *HeaderModifier
}

// PathRewrite replaces a request path: the whole path (Full) or the matched
// prefix (Prefix, with the route's PathPrefix value as MatchedPrefix).
type PathRewrite struct {
	// Full replaces the whole path when set (Prefix is then "").
	Full string
	// Prefix replaces MatchedPrefix ("" for "/") when Full is "".
	Prefix        string
	MatchedPrefix string
}

// Retry is a retry policy.
type Retry struct {
	// Codes are the HTTP status codes that are retried (besides
	// connection failures and resets).
	Codes []uint32
	// Attempts is the number of retries.
	Attempts uint32
	// Backoff is the base interval between retries (nil: Envoy's default).
	Backoff *time.Duration
}

// Mirror sends a copy of requests to a cluster.
type Mirror struct {
	// Cluster is the Cluster.Name of the mirror.
	Cluster string
	// Fraction of requests mirrored (nil: all).
	Fraction *Fraction
}

// Fraction is Numerator per Denominator (100 or 1,000,000).
type Fraction struct {
	Numerator, Denominator uint32
}

// Redirect answers a request with a redirect; the empty fields keep the
// request's value.
type Redirect struct {
	// Scheme replaces the scheme ("" keeps it).
	Scheme string
	// Hostname replaces the host ("" keeps it).
	Hostname string
	// Port is the Location port (0: none, the scheme's default).
	Port uint32
	// StatusCode is 301, 302, 303, 307 or 308.
	StatusCode int
	// Path replaces the path (nil keeps it).
	Path *PathRewrite
}

// AppProtocol is the protocol a cluster speaks to its endpoints.
type AppProtocol uint8

const (
	// HTTP1 is HTTP/1.1.
	HTTP1 AppProtocol = iota
	// HTTP2 is HTTP/2 over plain text (h2c), as gRPC needs.
	HTTP2
)

// Cluster is an upstream: a Service port and its ready endpoints.
type Cluster struct {
	// Name is the cluster (and endpoint set) name.
	Name string
	// Protocol the cluster speaks to its endpoints.
	Protocol AppProtocol
	// ConnectTimeout bounds connecting to an endpoint.
	ConnectTimeout time.Duration
	// BufferLimitBytes is the soft limit of each upstream connection's
	// read and write buffers (0: Envoy's default).
	BufferLimitBytes uint32
	// Endpoints are the ready addresses, sorted by IP then port.
	Endpoints []Endpoint
	// Localities, when set, replace Endpoints with weighted groups (one
	// per backend of a UDPRoute).
	Localities []Locality
	// TLS originates TLS to the endpoints (BackendTLSPolicy); nil: plain
	// text.
	TLS *UpstreamTLS
}

// UpstreamTLS is the TLS a cluster speaks to its endpoints.
type UpstreamTLS struct {
	// SNI is the server name sent to the endpoint.
	SNI string
	// TrustedCA is the PEM bundle the endpoint's certificate must chain
	// to; when empty, SystemCAFile is trusted instead.
	TrustedCA []byte
	// SystemCAFile is the proxy's file of well-known CAs (used when
	// TrustedCA is empty).
	SystemCAFile string
	// SubjectAltNames the endpoint's certificate must carry one of; empty
	// means none is required beyond the chain (the translator always sets
	// at least the SNI hostname).
	SubjectAltNames []SubjectAltName
	// ClientCertificate names the Secret (Secret.Name, over SDS) the proxy
	// presents to the endpoint; "" presents none.
	ClientCertificate string
}

// SubjectAltNameType is the kind of a subject alternative name.
type SubjectAltNameType string

const (
	// SANDNS is a DNS name (matched exactly; the certificate may hold a
	// wildcard that covers it).
	SANDNS SubjectAltNameType = "DNS"
	// SANURI is a URI (matched exactly), such as a SPIFFE ID.
	SANURI SubjectAltNameType = "URI"
)

// SubjectAltName is one subject alternative name an upstream certificate
// may carry.
type SubjectAltName struct {
	Type  SubjectAltNameType
	Value string
}

// Endpoint is one upstream address.
type Endpoint struct {
	IP   string
	Port uint32
}

// Secret is a TLS certificate and its private key (PEM).
type Secret struct {
	// Name is the SDS secret name.
	Name string
	// Certificate is the certificate chain, PrivateKey its key.
	Certificate, PrivateKey []byte
}
