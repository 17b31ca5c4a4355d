package model

import "time"

// The edge defaults: the one place berth's data-plane defaults live, each
// following Envoy's "Configuring Envoy as an edge proxy" advice (where it
// gives one) or the reference implementation's default. docs/dataplane.md
// tables them against Envoy's own defaults with the reason for each.
const (
	// DefaultBufferLimitBytes is the per-connection buffer limit of
	// listeners and clusters (Envoy: 1 MiB; edge advice: 32 KiB).
	DefaultBufferLimitBytes = 32 << 10
	// DefaultHTTP2MaxConcurrentStreams (Envoy: 2^31-1; edge advice: 100).
	DefaultHTTP2MaxConcurrentStreams = 100
	// DefaultHTTP2InitialStreamWindowSize (Envoy: 256 MiB; edge advice:
	// 64 KiB).
	DefaultHTTP2InitialStreamWindowSize = 64 << 10
	// DefaultHTTP2InitialConnectionWindowSize (Envoy: 256 MiB; edge
	// advice: 1 MiB).
	DefaultHTTP2InitialConnectionWindowSize = 1 << 20
	// DefaultRequestHeadersTimeout bounds slow clients sending headers
	// (Envoy: none).
	DefaultRequestHeadersTimeout = 10 * time.Second
	// DefaultStreamIdleTimeout (Envoy: 5 min, stated explicitly so a policy
	// can change it and the configuration says what applies).
	DefaultStreamIdleTimeout = 5 * time.Minute
)

// DefaultUpgrades are the connection upgrades allowed by default.
var DefaultUpgrades = []string{"websocket"}

// EdgeHTTPSettings are the defaults of every HTTP connection manager:
// useRemoteAddress and xffNumTrustedHops come from the caller (they are
// translate options), everything else is the edge default. Upgrades is a
// fresh slice, so a caller may change it.
func EdgeHTTPSettings(useRemoteAddress bool, xffNumTrustedHops uint32) HTTPSettings {
	return HTTPSettings{
		UseRemoteAddress:  useRemoteAddress,
		XffNumTrustedHops: xffNumTrustedHops,
		Upgrades:          append([]string(nil), DefaultUpgrades...),
		HTTP2: HTTP2Settings{
			MaxConcurrentStreams:        DefaultHTTP2MaxConcurrentStreams,
			InitialStreamWindowSize:     DefaultHTTP2InitialStreamWindowSize,
			InitialConnectionWindowSize: DefaultHTTP2InitialConnectionWindowSize,
		},
		HeadersWithUnderscores: UnderscoreReject,
		RequestHeadersTimeout:  DefaultRequestHeadersTimeout,
		StreamIdleTimeout:      DefaultStreamIdleTimeout,
		MergeSlashes:           true,
		EscapedSlashes:         EscapedSlashUnescapeAndRedirect,
	}
}
