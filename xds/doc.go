// Package xds is berth's xDS server: go-control-plane's aggregated
// discovery service (state-of-the-world and delta) over server-side TLS,
// serving each Gateway's proxies exactly that Gateway's snapshot, and only
// after their bearer token proved which ServiceAccount they run as.
//
// The package owns the gRPC server, the snapshot cache, the mapping from an
// authenticated identity to a Gateway, stream lifetimes and the metrics. It
// does not translate (xds/translate does), authenticate tokens (xds/auth
// does) or manage certificates (xds/certs does).
//
//	srv, err := xds.New(auth.NewKubernetesReviewer(cs.AuthenticationV1()), certManager, xds.DefaultOptions())
//	go srv.Run(ctx)                                               // every replica serves
//	version, err := srv.Publish(gw, xds.Identity{Namespace: gw.Namespace, ServiceAccount: sa}, res.Resources)
//	version, ok := srv.Published(gw)                              // for the Programmed condition
//	srv.Remove(gw)                                                // Gateway gone
//
// # The contract a proxy must meet
//
//   - TLS to the server, trusting the CA bundle (ca.crt).
//   - gRPC metadata "authorization: Bearer <token>" on the ADS stream, the
//     token a ServiceAccount token for the xDS audience (auth.DefaultAudience),
//     projected into the pod (pod-bound).
//   - The ServiceAccount is the one the controller published the Gateway
//     with (envoy-<ns>-<gw>-<hash>, in the Gateway's namespace).
//   - The node's cluster is "<namespace>/<gateway name>" of that Gateway.
//     The node id is free (it is logged, never trusted).
//   - The first request of a stream carries the node.
//   - HTTP/2 keepalive pings no more often than every 10 s
//     (Options.KeepaliveMinTime); the server pings idle connections itself.
//
// # Replicas
//
// Every replica serves: Server and certs.Manager are controller-runtime
// Runnables whose NeedLeaderElection is false, and the controller must
// Publish on every replica (translation and Publish outside leader
// election), so a proxy gets the same snapshot, with the same versions,
// from whichever replica it reaches.
//
// # Isolation
//
// The snapshot a stream reads is chosen by the identity its token proved,
// never by what the proxy reports: every request's node is replaced, before
// go-control-plane sees it, by a node whose id is the Gateway's cache key.
// A node whose cluster names another Gateway is refused (PermissionDenied)
// rather than served, so a misconfigured or hostile proxy learns nothing.
// Snapshots are per Gateway, so a stream can only ever receive its own
// Gateway's listeners, routes, clusters, endpoints and secrets.
//
// # Stream lifetime
//
// A stream ends when its token expires (Unauthenticated; the proxy
// reconnects with its rotated token), when the pod its token is bound to is
// deleted (Unauthenticated; RevokePod, which the controller calls from an
// informer of berth's own proxy pods through PodDeletions), when its Gateway
// is removed or republished under another identity (PermissionDenied), or
// when the server stops (Unavailable; the proxy reconnects to another
// replica). Once a stream has ended no response is sent on it, and a send
// blocked because the client stopped reading is abandoned at that moment, so
// a stalled client cannot hold a stream past its token's expiry.
//
// # Availability: what one tenant, or anyone who reaches the port, can cost
//
// Every replica serves every tenant, so nothing a client sends may make the
// server hold unbounded memory or work. What a proxy never needs is refused,
// each refusal with a precise gRPC code, a log line with the peer (sampled:
// at most 20 a second) and a count in berth_xds_refusals_total{limit} (or
// berth_xds_auth_failures_total{reason} for authentication):
//
//	limit                 code               bound (Options, --xds-* flag)
//	type_url              InvalidArgument    only Listener, Route, Cluster, Endpoint, Secret are served
//	resource_names        ResourceExhausted  MaxResourceNames and MaxResourceNameBytes per request (and per
//	                                         delta type subscription); MaxUnknownResourceNames names the
//	                                         Gateway's snapshot does not hold, each ≤ 256 bytes
//	message_size          ResourceExhausted  MaxRecvMsgSize (1 MiB); NACK error details are trimmed to 1 KiB
//	streams_per_identity  ResourceExhausted  MaxStreamsPerIdentity (32) streams per ServiceAccount
//	connections_per_peer  (closed at accept) MaxConnectionsPerPeer (16) connections per client IP
//	peer_refusals         ResourceExhausted  a peer refused more than RefusalBurst times (refilling at
//	                                         RefusalsPerPeer/s) gets no authentication work: only a token
//	                                         already cached as accepted passes
//	panic                 Internal           a handler panic ends that call only
//
// Connections: at most MaxConnections in all (netutil.LimitListener; more
// wait in the listen backlog), a TLS handshake within ConnectionTimeout, a
// connection without a stream closed after MaxConnectionIdle (30 s),
// every connection made to reconnect after MaxConnectionAge (1 h, then
// MaxConnectionAgeGrace for its streams), keepalive pings enforced
// (KeepaliveMinTime), MaxConcurrentStreams streams per connection.
//
// So what go-control-plane keeps for one tenant (a watch per type per
// stream, holding the request) is bounded by its streams × five types × its
// own snapshot's names plus the unknown-name allowance; docs/benchmarks.md
// has the numbers. Tokens: see xds/auth (forged tokens are refused against
// the cluster's issuer keys and cost no TokenReview).
//
// # Versions
//
// Each resource type's version is a hash of its content
// (translate.ResourceVersions, the one version hash: Publish returns the
// version `berth translate` prints for the same resources), and Publish with
// unchanged content is a no-op, so a controller may publish on every
// reconcile and proxies see a push only when something changed. Every
// replica computes the same versions for the same content.
//
// # Validation
//
// Publish serves only what translate.Validate accepts, the validation
// `berth translate` applies: an invalid snapshot is refused with an error
// naming each bad resource, and the Gateway's previous snapshot stays
// served.
package xds
