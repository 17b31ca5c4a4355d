package xds

import "github.com/spf13/pflag"

// BindFlags binds the options a deployment tunes to --xds-* flags, with
// o's current values as defaults (start from DefaultOptions).
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Address, "xds-address", o.Address, "address the xDS server listens on (every replica serves)")
	fs.StringVar(&o.Auth.Audience, "xds-audience", o.Auth.Audience, "audience of the projected ServiceAccount token proxies present")
	fs.BoolVar(&o.Auth.AllowUnboundTokens, "xds-allow-unbound-tokens", o.Auth.AllowUnboundTokens,
		"accept ServiceAccount tokens not bound to a pod (for apiservers that do not report the binding)")
	fs.DurationVar(&o.Auth.ReviewTimeout, "xds-token-review-timeout", o.Auth.ReviewTimeout, "timeout of one TokenReview")
	fs.IntVar(&o.Auth.CacheSize, "xds-token-cache-size", o.Auth.CacheSize, "token review results kept (LRU)")
	fs.Uint32Var(&o.MaxConcurrentStreams, "xds-max-streams-per-connection", o.MaxConcurrentStreams, "concurrent streams per client connection")
	fs.IntVar(&o.MaxStreamsPerIdentity, "xds-max-streams-per-identity", o.MaxStreamsPerIdentity, "streams per proxy ServiceAccount (one Gateway's proxies); more are refused")
	fs.IntVar(&o.MaxConnections, "xds-max-connections", o.MaxConnections, "open client connections (TLS handshakes included); more wait in the listen backlog")
	fs.IntVar(&o.MaxConnectionsPerPeer, "xds-max-connections-per-peer", o.MaxConnectionsPerPeer, "connections per client IP; more are closed at accept")
	fs.IntVar(&o.MaxResourceNames, "xds-max-resource-names", o.MaxResourceNames, "resource names per request (and subscribed per type on a delta stream)")
	fs.IntVar(&o.MaxResourceNameBytes, "xds-max-resource-name-bytes", o.MaxResourceNameBytes, "total bytes of resource names per request")
	fs.IntVar(&o.MaxUnknownResourceNames, "xds-max-unknown-resource-names", o.MaxUnknownResourceNames, "resource names per request (per type on a delta stream) that the Gateway's snapshot does not hold")
}
