// Package translate turns Gateway API objects into the Envoy configuration
// each Gateway's proxy receives over xDS, plus the status facts the
// reconciler publishes for listeners and routes.
//
// It is pure: it reads plain Go values (Gateway API and core Kubernetes
// types) and returns go-control-plane resources. It never talks to a
// cluster, reads a clock, or draws random numbers, so the same input always
// yields byte-identical output and the same version string.
//
// Usage:
//
//	ix := translate.NewIndex(in, translate.DefaultOptions())
//	for _, key := range ix.Gateways() {
//		res, err := ix.TranslateGateway(key)
//		...
//		if err := translate.Validate(res.Resources); err != nil { ... }
//		version, err := xdsServer.Publish(key, id, res.Resources) // validates again; version == res.Version
//		...
//	}
//
// Validate and Version (ResourceVersions) are the one validation and the one
// version hash of berth: `berth translate` applies them to its output and
// the xDS server's Publish to every snapshot it serves, so the server never
// hands a proxy what the offline command refuses, and the version the
// command prints is the version the proxy receives.
//
// # Structure: model, then builders
//
// Translation has two steps with a typed, Envoy-free model between them
// (package model):
//
//  1. Gateway API → model (index.go, gateway.go, attach.go, compile.go,
//     grpc.go, dataplane.go): listeners are checked and grouped by port,
//     routes are attached through one path for every route kind
//     (parentRefs, allowedRoutes, hostnames, ReferenceGrants), their rules
//     compiled into typed matches and filters, placed into virtual hosts in
//     precedence order, and backends resolved into clusters with endpoints.
//     Status facts (ListenerStatus, RouteParentStatus) are decided here.
//     Result.Model is the outcome: model.Listener (port, protocol, filter
//     chains with SNI, TLS secret names and HTTP settings), model.RouteTable,
//     model.VirtualHost, model.Route (model.Match, header modifiers,
//     model.Forward with weighted backends, rewrites, timeouts, retries and
//     mirrors, or model.Redirect), model.Cluster (protocol, endpoints) and
//     model.Secret.
//  2. model → Envoy (envoy*.go): one small pure builder per resource kind
//     (buildListener, buildRouteConfiguration, buildCluster,
//     buildClusterLoadAssignment, buildSecret) that spells the model in
//     go-control-plane protos and decides nothing the model does not say.
//
// A new route kind or policy changes the model build and the builder of
// the resource it touches: a new listener protocol is a model.Protocol and
// a filter-chain field (TCP or UDP proxy beside HTTP), per-listener edge
// settings are model.HTTPSettings fields, upstream TLS is a model.Cluster
// field. The evaluate package reads the built protos, not the model, on
// purpose: it checks what Envoy would do with them.
//
// Every Gateway gets its own set of resources; nothing from one Gateway
// (above all its TLS secrets) appears in another Gateway's result. A
// Result's Dependencies list the objects its translation looked up, so a
// controller can re-translate only the Gateways an object change affects.
//
// # What the proxy gets
//
// One Envoy listener per Gateway port (a port below 1024 binds
// port+Options.PrivilegedPortOffset). HTTP listeners of a port share one
// route table (RDS, "route/<port>") with one virtual host per hostname;
// HTTPS listeners of a port are filter chains selected by SNI, each with its
// own route table ("route/<port>/<listener>") and its certificate over SDS
// ("secret/<ns>/<name>"). Backends are EDS clusters per Service port
// ("service/<ns>/<name>/<port>") with the ready addresses of the Service's
// EndpointSlices. The connection manager treats every client as external
// (use_remote_address, no internal address ranges): Envoy appends the
// client to X-Forwarded-For, sets X-Envoy-External-Address and
// X-Forwarded-Proto, and generates X-Request-Id; it matches hosts without
// their port.
//
// Every connection manager carries the edge defaults of
// model.EdgeHTTPSettings (docs/dataplane.md): WebSocket upgrades allowed,
// HTTP/2 stream and window limits, header names with underscores refused,
// request-headers and stream-idle timeouts, repeated slashes merged and
// escaped slashes redirected to the unescaped path; listeners and clusters
// have 32 KiB connection buffers.
//
// # GRPCRoute
//
// GRPCRoutes attach to HTTP and HTTPS listeners like HTTPRoutes (both kinds
// are supported there unless allowedRoutes.kinds narrows them) and share
// their virtual hosts. A gRPC call is an HTTP/2 POST to /service/method, so
// each GRPCRoute rule is expressed as the equivalent HTTPRoute rule (see
// grpcRule) and compiled by the same code: method matches become path
// matches (Exact path, service prefix, or a regex), header matches,
// header modifiers, mirrors, weights, ReferenceGrants (from GRPCRoute) and
// status reasons are the HTTPRoute ones. Clusters of backends a GRPCRoute
// references speak HTTP/2 (as do those of Service ports with appProtocol
// kubernetes.io/h2c), also for HTTPRoutes that share the Service port.
// Routes match on the path only, not on content-type. gRPC routes have no
// route timeout (Envoy's default of 15 s would cut streaming calls); the
// client's grpc-timeout header bounds a call. Envoy routes are
// named "grpcroute/<ns>/<name>/rule/<i>/match/<j>".
//
// # TCPRoute, TLSRoute and UDPRoute
//
// The layer-4 kinds attach through the same path (attach.go): TCPRoutes to
// TCP listeners, TLSRoutes to TLS listeners, UDPRoutes to UDP listeners
// (routeKindsOf; allowedRoutes.kinds narrows them, another kind is
// InvalidRouteKinds); ReferenceGrants, sectionName/port, hostnames and
// status reasons are the HTTPRoute ones. Their one rule of weighted
// backendRefs (l4.go) resolves to TCP Service ports, UDP ports for
// UDPRoutes. A TCP port gets one filter chain with a tcp_proxy (one
// cluster, or weighted_clusters); every route attached to the listener is
// Accepted and counted, but the oldest forwards (a port goes to one
// place). A TLS port gets the TLS inspector and one filter chain per
// (listener, TLSRoute) with the server names the route serves there: a
// server name goes to the listener with the most specific hostname
// covering it and, within it, to the oldest route naming it; a route
// without hostnames on a listener without hostname is the catch-all chain
// (also for clients without SNI). Passthrough chains forward the TLS bytes;
// Terminate chains serve the listener's certificate over SDS first. One
// port may hold listeners of both modes (TLSRouteModeMixed): each chain
// takes its own listener's mode, so one server name is passed through and
// another terminated on the same port. A UDP port is a UDP listener whose udp_proxy sends
// every datagram to the route's cluster ("udproute/<ns>/<name>"), whose
// localities are the backends weighted as the backendRefs (the UDP proxy
// has no weighted clusters). Unresolved backendRefs keep their weight, sent
// to InvalidBackendCluster: Envoy closes those connections (drops those
// datagrams). A TCP, TLS or UDP port with no route attached is not bound
// (connections are refused); its listener is still Programmed. Two TCP or
// two UDP listeners on one port conflict (HostnameConflict: they carry no
// hostname to tell them apart).
//
// # Backend TLS and client certificates
//
// A BackendTLSPolicy makes the cluster of each Service port it targets
// originate TLS (model.Cluster.TLS): SNI and SAN checks from its
// validation, CAs from ConfigMaps or Secrets (ca.crt) or SystemCAFile, and
// the Gateway's spec.tls.backend client certificate over SDS. The policy
// naming the port wins over one for the whole Service, the oldest among
// equals; the others are Conflicted. A backend whose policy is unusable is
// treated like an unresolvable backendRef (its share answers 500), so it
// never receives plain text. Result.Policies holds each policy's status
// towards the Gateway; Result.Conditions the Gateway's ResolvedRefs
// (client certificate) and InsecureFrontendValidationMode. HTTPS listeners
// validate client certificates by spec.tls.frontend
// (model.DownstreamTLS.ClientValidation). See backendtls.go.
//
// # Decisions where the spec leaves room
//
//   - Listener conflicts: as the spec requires, no conflicting listener
//     wins. All listeners of a port that mixes protocols (TLS in both modes
//     is one protocol) are Conflicted
//     (ProtocolConflict), all listeners of one protocol that share a hostname
//     are Conflicted (HostnameConflict); conflicted listeners are neither
//     Accepted nor Programmed, with the conflict as the reason (as the
//     conformance suite expects). Two ports that bind the same Envoy port
//     (80 and 10080) are both PortUnavailable.
//   - A request is served by the listener with the most specific hostname
//     that matches it. Within that listener, routes with a more specific
//     hostname come first, broader wildcards and hostname-less routes after
//     (the spec's hostname precedence), then the spec's match precedence;
//     RegularExpression paths rank between Exact and PathPrefix.
//   - Invalid rules (bad regex, unsupported filter or field, path modifier
//     without a PathPrefix match) are dropped: the route stays Accepted with
//     PartiallyInvalid ("Dropped Rule(s): ..."), or is not Accepted
//     (UnsupportedValue) when no rule is left.
//   - Unresolvable backendRefs keep their weight: that share of requests is
//     routed to InvalidBackendCluster, which does not exist, and the route's
//     cluster_not_found_response_code makes Envoy answer 500. A rule with no
//     usable weight answers 500 directly.
//   - One certificate per HTTPS listener: the first usable certificateRef.
//   - attachedRoutes counts the routes the listener accepted: selected by a
//     parentRef, admitted by allowedRoutes, with an intersecting hostname
//     and at least one valid rule (the spec: a route that is not accepted
//     must not be counted).
package translate
