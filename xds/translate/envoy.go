package translate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// portGroup is the Gateway listeners that share one Envoy listener.
type portGroup struct {
	port      gwv1.PortNumber
	protocol  gwv1.ProtocolType
	listeners []*listenerState
}

// routeContext is what a route needs to know about where it is served.
type routeContext struct {
	port   gwv1.PortNumber
	scheme string
}

// buildResources builds the Envoy resources of the Gateway from its
// processed listeners and attached routes.
func (t *gatewayTranslator) buildResources() map[string][]types.Resource {
	groups := map[gwv1.PortNumber]*portGroup{}
	var ports []gwv1.PortNumber
	for _, ls := range t.listeners {
		if !ls.programmed() {
			continue
		}
		g, ok := groups[ls.spec.Port]
		if !ok {
			g = &portGroup{port: ls.spec.Port, protocol: ls.spec.Protocol}
			groups[ls.spec.Port] = g
			ports = append(ports, ls.spec.Port)
		}
		g.listeners = append(g.listeners, ls)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })

	// Route tables first: they decide which clusters exist.
	type chain struct {
		ls    *listenerState // nil for the shared HTTP chain
		route string
	}
	chains := map[gwv1.PortNumber][]chain{}
	var routeConfigs []types.Resource
	for _, p := range ports {
		g := groups[p]
		ctx := routeContext{port: p, scheme: "http"}
		if g.protocol == gwv1.HTTPSProtocolType {
			ctx.scheme = "https"
			for _, ls := range sortedByName(g.listeners) {
				name := HTTPSRouteConfigName(int32(p), string(ls.spec.Name))
				routeConfigs = append(routeConfigs, t.routeConfiguration(name, []*listenerState{ls}, ctx))
				chains[p] = append(chains[p], chain{ls: ls, route: name})
			}
			continue
		}
		name := HTTPRouteConfigName(int32(p))
		routeConfigs = append(routeConfigs, t.routeConfiguration(name, g.listeners, ctx))
		chains[p] = []chain{{route: name}}
	}

	var listeners []types.Resource
	for _, p := range ports {
		g := groups[p]
		l := &listenerv3.Listener{
			Name: ListenerName(int32(p)),
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address:       t.ix.opts.ListenAddress,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: g.listeners[0].envoyPort},
			}}},
		}
		for _, c := range chains[p] {
			statPrefix := fmt.Sprintf("http-%d", p)
			fc := &listenerv3.FilterChain{}
			if c.ls != nil {
				statPrefix = fmt.Sprintf("https-%d-%s", p, c.ls.spec.Name)
				fc.Name = filterChainName(string(c.ls.spec.Name))
				if h := hostnameOf(c.ls.spec.Hostname); h != "" {
					fc.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: []string{h}}
				}
				fc.TransportSocket = &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{
					TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
						TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: c.ls.secret, SdsConfig: adsConfigSource()}},
						AlpnProtocols:                  []string{"h2", "http/1.1"},
					}}),
				}}
			}
			fc.Filters = []*listenerv3.Filter{{Name: hcmFilterName, ConfigType: &listenerv3.Filter_TypedConfig{
				TypedConfig: mustAny(t.connectionManager(statPrefix, c.route)),
			}}}
			l.FilterChains = append(l.FilterChains, fc)
		}
		if g.protocol == gwv1.HTTPSProtocolType {
			l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: tlsInspectorName, ConfigType: &listenerv3.ListenerFilter_TypedConfig{
				TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{}),
			}}}
		}
		listeners = append(listeners, l)
	}

	clusters := make([]types.Resource, 0, len(t.clusters))
	for _, c := range t.clusters {
		clusters = append(clusters, c)
	}
	endpoints := make([]types.Resource, 0, len(t.loadAssignments))
	for _, e := range t.loadAssignments {
		endpoints = append(endpoints, e)
	}
	// Only the secrets of programmed listeners are sent.
	secrets := []types.Resource{}
	seen := map[string]bool{}
	for _, ls := range t.listeners {
		if ls.programmed() && ls.secret != "" && !seen[ls.secret] {
			seen[ls.secret] = true
			secrets = append(secrets, t.secrets[ls.secret])
		}
	}
	out := map[string][]types.Resource{
		resourcev3.ListenerType: listeners,
		resourcev3.RouteType:    routeConfigs,
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: endpoints,
		resourcev3.SecretType:   secrets,
	}
	for typ, rs := range out {
		if rs == nil {
			out[typ] = []types.Resource{}
		}
		sortByName(out[typ])
	}
	return out
}

func sortedByName(ls []*listenerState) []*listenerState {
	out := append([]*listenerState(nil), ls...)
	sort.Slice(out, func(i, j int) bool { return out[i].spec.Name < out[j].spec.Name })
	return out
}

// vhostEntry is one Envoy route to place in a virtual host.
type vhostEntry struct {
	route *compiledRoute
	rule  *compiledRule
	match *compiledMatch
	// host is the route's hostname that covers the virtual host's (see
	// hostPrecedence).
	host hostPrecedence
}

// hostPrecedence ranks the route hostname that covers a request's host:
// the spec gives precedence to the route with the most characters in a
// matching non-wildcard hostname, then in a matching hostname.
type hostPrecedence struct {
	exactChars, chars int
}

func hostRank(h string) hostPrecedence {
	switch {
	case h == "*":
		return hostPrecedence{}
	case strings.HasPrefix(h, "*."):
		return hostPrecedence{chars: len(h)}
	}
	return hostPrecedence{exactChars: len(h), chars: len(h)}
}

// coveringHostnames lists the hostnames that cover h, most specific first:
// h itself, then ever shorter wildcard suffixes ("a.b.c": "*.b.c", "*.c"),
// then "*".
func coveringHostnames(h string) []string {
	out := []string{h}
	if h == "*" {
		return out
	}
	labels := strings.Split(strings.TrimPrefix(h, "*."), ".")
	for i := 1; i < len(labels); i++ {
		out = append(out, "*."+strings.Join(labels[i:], "."))
	}
	return append(out, "*")
}

// routeConfiguration builds the route table of the given listeners (which
// share a port, or one HTTPS listener). There is one virtual host per
// hostname a route serves. A request is handled by the most specific
// listener whose hostname matches it, so a virtual host holds the routes of
// that listener only: first those whose hostname is the virtual host's,
// then those with ever broader wildcards, then those without hostnames (the
// spec's hostname precedence), each group in match precedence.
func (t *gatewayTranslator) routeConfiguration(name string, listeners []*listenerState, ctx routeContext) *routev3.RouteConfiguration {
	type listenerHosts struct {
		ls     *listenerState
		byHost map[string][]*compiledRoute
	}
	byListenerHost := map[string]*listenerHosts{}
	hostSet := map[string]bool{}
	for _, ls := range listeners {
		lh := &listenerHosts{ls: ls, byHost: map[string][]*compiledRoute{}}
		byListenerHost[hostnameOf(ls.spec.Hostname)] = lh
		for _, a := range ls.attachments {
			for _, h := range a.hostnames {
				lh.byHost[h] = append(lh.byHost[h], a.route)
				hostSet[h] = true
			}
		}
	}
	hosts := make([]string, 0, len(hostSet))
	for h := range hostSet {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	rc := &routev3.RouteConfiguration{Name: name}
	for _, h := range hosts {
		covering := coveringHostnames(h)
		// The listener that takes requests for h: its hostname is the most
		// specific one covering h; a listener without hostname takes the rest.
		lh := byListenerHost[""]
		for _, c := range covering {
			if l, ok := byListenerHost[c]; ok && c != "*" {
				lh = l
				break
			}
		}
		var entries []vhostEntry
		if lh != nil {
			seen := map[*compiledRoute]bool{}
			for _, c := range covering {
				for _, cr := range lh.byHost[c] {
					if seen[cr] {
						continue // already placed under a more specific hostname
					}
					seen[cr] = true
					for _, rule := range cr.rules {
						for i := range rule.matches {
							entries = append(entries, vhostEntry{route: cr, rule: rule, match: &rule.matches[i], host: hostRank(c)})
						}
					}
				}
			}
		}
		sort.SliceStable(entries, func(i, j int) bool { return entryLess(entries[i], entries[j]) })
		vh := &routev3.VirtualHost{Name: virtualHostName(h), Domains: []string{h}}
		for _, e := range entries {
			vh.Routes = append(vh.Routes, t.envoyRoute(e, ctx))
		}
		rc.VirtualHosts = append(rc.VirtualHosts, vh)
	}
	return rc
}

// entryLess is the Gateway API's precedence: the more specific route
// hostname first; then by match: Exact path, then
// RegularExpression (implementation-specific: berth puts it between), then
// the longest PathPrefix; then a method match; then the most header
// matches; then the most query matches; then the oldest route, then
// namespace/name; then rule and match order.
func entryLess(a, b vhostEntry) bool {
	ka, kb := a.match.key, b.match.key
	switch {
	case a.host != b.host:
		if a.host.exactChars != b.host.exactChars {
			return a.host.exactChars > b.host.exactChars
		}
		return a.host.chars > b.host.chars
	case ka.pathRank != kb.pathRank:
		return ka.pathRank < kb.pathRank
	case ka.pathLen != kb.pathLen:
		return ka.pathLen > kb.pathLen
	case ka.hasMethod != kb.hasMethod:
		return ka.hasMethod
	case ka.headers != kb.headers:
		return ka.headers > kb.headers
	case ka.queries != kb.queries:
		return ka.queries > kb.queries
	case a.route.rank != b.route.rank:
		return a.route.rank < b.route.rank
	case a.rule.index != b.rule.index:
		return a.rule.index < b.rule.index
	}
	return a.match.index < b.match.index
}

// envoyRoute builds the Envoy route of one match.
func (t *gatewayTranslator) envoyRoute(e vhostEntry, ctx routeContext) *routev3.Route {
	rule := e.rule
	r := &routev3.Route{
		Name:                    routeName(e.route.route.kind, e.route.route.meta.Namespace, e.route.route.meta.Name, rule.index, e.match.index),
		Match:                   e.match.match,
		RequestHeadersToAdd:     rule.reqHeaders.add,
		RequestHeadersToRemove:  rule.reqHeaders.remove,
		ResponseHeadersToAdd:    rule.respHeaders.add,
		ResponseHeadersToRemove: rule.respHeaders.remove,
	}
	if rule.redirect != nil {
		r.Action = &routev3.Route_Redirect{Redirect: redirectAction(rule.redirect, e.match, ctx)}
		return r
	}
	if len(rule.backends) == 0 {
		// No backend can take the request: the spec's 500.
		r.Action = &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 500}}
		return r
	}
	ra := &routev3.RouteAction{}
	simple := len(rule.backends) == 1 && rule.invalidWeight == 0 &&
		len(rule.backends[0].reqHeaders.add)+len(rule.backends[0].reqHeaders.remove)+len(rule.backends[0].respHeaders.add)+len(rule.backends[0].respHeaders.remove) == 0
	if simple {
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: t.ensureCluster(rule.backends[0])}
	} else {
		wc := &routev3.WeightedCluster{}
		for _, b := range rule.backends {
			wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{
				Name:                    t.ensureCluster(b),
				Weight:                  wrapperspb.UInt32(b.weight),
				RequestHeadersToAdd:     b.reqHeaders.add,
				RequestHeadersToRemove:  b.reqHeaders.remove,
				ResponseHeadersToAdd:    b.respHeaders.add,
				ResponseHeadersToRemove: b.respHeaders.remove,
			})
		}
		if rule.invalidWeight > 0 {
			// A cluster that does not exist: Envoy answers its share with
			// cluster_not_found_response_code, the spec's 500.
			wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{
				Name:   InvalidBackendCluster,
				Weight: wrapperspb.UInt32(rule.invalidWeight),
			})
			ra.ClusterNotFoundResponseCode = routev3.RouteAction_INTERNAL_SERVER_ERROR
		}
		ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	if rw := rule.rewrite; rw != nil {
		if rw.Hostname != nil {
			ra.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: string(*rw.Hostname)}
		}
		if pm := rw.Path; pm != nil {
			switch pm.Type {
			case gwv1.FullPathHTTPPathModifier:
				ra.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^/.*$"}, Substitution: *pm.ReplaceFullPath}
			case gwv1.PrefixMatchHTTPPathModifier:
				ra.PrefixRewrite, ra.RegexRewrite = prefixRewrite(e.match.prefix, *pm.ReplacePrefixMatch)
			}
		}
	}
	if rule.timeout != nil {
		ra.Timeout = durationpb.New(*rule.timeout)
	}
	if rule.grpc {
		// A streaming call outlives any fixed timeout: no route timeout;
		// the grpc-timeout header the client sends, if any, is the limit.
		ra.Timeout = durationpb.New(0)
		ra.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: durationpb.New(0)}
	}
	ra.RetryPolicy = retryPolicy(rule)
	if rule.perTryTimeout != nil && ra.RetryPolicy == nil {
		// Without retries the one backend request is the whole request.
		ra.Timeout = durationpb.New(*rule.perTryTimeout)
	}
	for _, m := range rule.mirrors {
		p := &routev3.RouteAction_RequestMirrorPolicy{Cluster: t.ensureCluster(m.backend)}
		if m.fraction != nil {
			p.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: m.fraction}
		}
		ra.RequestMirrorPolicies = append(ra.RequestMirrorPolicies, p)
	}
	r.Action = &routev3.Route_Route{Route: ra}
	return r
}

// retryPolicy is the Envoy retry policy of a rule: the spec's retry stanza
// (retrying on connection errors and the listed codes), and the
// backendRequest timeout as the per-try timeout when the request timeout
// bounds the whole. Nil when neither applies.
func retryPolicy(rule *compiledRule) *routev3.RetryPolicy {
	perTry := rule.perTryTimeout != nil && (rule.retry != nil || rule.timeout != nil)
	if rule.retry == nil && !perTry {
		return nil
	}
	rp := &routev3.RetryPolicy{NumRetries: wrapperspb.UInt32(0)}
	if r := rule.retry; r != nil {
		rp.RetryOn = "connect-failure,refused-stream,reset"
		if len(r.codes) > 0 {
			rp.RetryOn += ",retriable-status-codes"
			rp.RetriableStatusCodes = r.codes
		}
		rp.NumRetries = wrapperspb.UInt32(r.attempts)
		if r.backoff != nil {
			rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(*r.backoff)}
		}
	}
	if perTry {
		rp.PerTryTimeout = durationpb.New(*rule.perTryTimeout)
	}
	return rp
}

// prefixRewrite replaces the matched prefix (without trailing slash, "" for
// "/") with replacement, keeping path elements intact: /foo/bar with
// prefix /foo and replacement / becomes /bar, not //bar.
func prefixRewrite(prefix, replacement string) (string, *matcherv3.RegexMatchAndSubstitute) {
	repl := strings.TrimRight(replacement, "/")
	switch {
	case prefix == "":
		// Every path starts with the matched "/": put the replacement in front.
		if repl == "" {
			return "", nil
		}
		return "", &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^/"}, Substitution: repl + "/"}
	case repl == "":
		return "", &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^" + regexp.QuoteMeta(prefix) + "/*"}, Substitution: "/"}
	}
	return repl, nil
}

func redirectAction(rd *gwv1.HTTPRequestRedirectFilter, m *compiledMatch, ctx routeContext) *routev3.RedirectAction {
	ra := &routev3.RedirectAction{ResponseCode: routev3.RedirectAction_FOUND}
	if rd.StatusCode != nil {
		ra.ResponseCode = redirectCodes[*rd.StatusCode]
	}
	scheme := ctx.scheme
	if rd.Scheme != nil {
		scheme = *rd.Scheme
		ra.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: scheme}
	}
	if rd.Hostname != nil {
		ra.HostRedirect = string(*rd.Hostname)
	}
	// The spec's port: the given one; else the scheme's well-known port when
	// the scheme changes; else the listener's port. A well-known port is
	// left out of Location (Envoy strips the request's port).
	var port gwv1.PortNumber
	switch {
	case rd.Port != nil:
		port = *rd.Port
	case rd.Scheme == nil:
		port = ctx.port
	}
	if port != 0 && !(scheme == "http" && port == 80 || scheme == "https" && port == 443) {
		ra.PortRedirect = uint32(port)
	}
	if pm := rd.Path; pm != nil {
		switch pm.Type {
		case gwv1.FullPathHTTPPathModifier:
			ra.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: *pm.ReplaceFullPath}
		case gwv1.PrefixMatchHTTPPathModifier:
			prefix, regex := prefixRewrite(m.prefix, *pm.ReplacePrefixMatch)
			switch {
			case regex != nil:
				ra.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: regex}
			case prefix != "":
				ra.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: prefix}
			}
		}
	}
	return ra
}

// ensureCluster adds the cluster and endpoints of a backend (once) and
// returns the cluster name. The cluster speaks HTTP/2 (h2c) to the backend
// when the Service port says so (appProtocol kubernetes.io/h2c) or when a
// GRPCRoute references it: gRPC needs HTTP/2 end to end, and a port that
// serves gRPC speaks HTTP/2 to every route that uses it. That does not
// depend on which route comes first, so the output stays deterministic.
func (t *gatewayTranslator) ensureCluster(b backend) string {
	h2 := b.http2 || b.port.AppProtocol != nil && *b.port.AppProtocol == "kubernetes.io/h2c"
	if c, ok := t.clusters[b.cluster]; ok {
		if h2 && c.TypedExtensionProtocolOptions == nil {
			c.TypedExtensionProtocolOptions = http2ProtocolOptions()
		}
		return b.cluster
	}
	c := &clusterv3.Cluster{
		Name:                 b.cluster,
		ConnectTimeout:       durationpb.New(t.ix.opts.ConnectTimeout),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource()},
	}
	if h2 {
		c.TypedExtensionProtocolOptions = http2ProtocolOptions()
	}
	t.clusters[b.cluster] = c
	t.loadAssignments[b.cluster] = t.loadAssignment(b)
	return b.cluster
}

// http2ProtocolOptions make a cluster speak HTTP/2 to its endpoints.
func http2ProtocolOptions() map[string]*anypb.Any {
	return map[string]*anypb.Any{
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(&upstreamhttpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
			}},
		}),
	}
}

// loadAssignment lists the ready endpoints of a Service port from its
// EndpointSlices (ready unset counts as ready, as Kubernetes documents).
func (t *gatewayTranslator) loadAssignment(b backend) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: b.cluster}
	key := k8stypes.NamespacedName{Namespace: b.service.Namespace, Name: b.service.Name}
	type addr struct {
		ip   string
		port uint32
	}
	seen := map[addr]bool{}
	var addrs []addr
	for _, s := range t.ix.slices[key] {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			if p.Port != nil && nameOf(p.Name) == b.port.Name && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
				port = *p.Port
				break
			}
		}
		if port < 1 || port > 65535 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				a := addr{ip, uint32(port)}
				if validIP(ip) && !seen[a] {
					seen[a] = true
					addrs = append(addrs, a)
				}
			}
		}
	}
	sort.Slice(addrs, func(i, j int) bool {
		if addrs[i].ip != addrs[j].ip {
			return addrs[i].ip < addrs[j].ip
		}
		return addrs[i].port < addrs[j].port
	})
	if len(addrs) > 0 {
		lle := &endpointv3.LocalityLbEndpoints{}
		for _, a := range addrs {
			lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: a.ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: a.port},
				}}},
			}}})
		}
		cla.Endpoints = []*endpointv3.LocalityLbEndpoints{lle}
	}
	return cla
}

func nameOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// connectionManager is the HTTP connection manager of every filter chain.
// With use_remote_address Envoy is the edge: it appends the peer to
// X-Forwarded-For, sets X-Envoy-External-Address and X-Forwarded-Proto from
// the connection, and generates X-Request-Id.
func (t *gatewayTranslator) connectionManager(statPrefix, routeConfig string) *hcmv3.HttpConnectionManager {
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsConfigSource(), RouteConfigName: routeConfig,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: routerFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{
			TypedConfig: mustAny(&routerv3.Router{}),
		}}},
		UseRemoteAddress:  wrapperspb.Bool(t.ix.opts.UseRemoteAddress),
		XffNumTrustedHops: t.ix.opts.XffNumTrustedHops,
		GenerateRequestId: wrapperspb.Bool(true),
		NormalizePath:     wrapperspb.Bool(true),
		// Hosts match without the port the client used (which is the
		// Service port, not the port Envoy listens on).
		StripPortMode: &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
		// No peer is internal: every client is treated as external, so it
		// gets X-Envoy-External-Address and cannot pass x-envoy-* headers
		// in (Envoy's older default trusted private ranges, i.e. every pod).
		InternalAddressConfig: &hcmv3.HttpConnectionManager_InternalAddressConfig{},
	}
	return hcm
}

func buildSecret(name string, cert, key []byte) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(cert)}},
		PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: string(key)}},
	}}}
}

func adsConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// mustAny packs m deterministically; packing a generated message cannot
// fail.
func mustAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("pack %T: %v", m, err))
	}
	return a
}

func sortByName(rs []types.Resource) {
	sort.Slice(rs, func(i, j int) bool { return resourceName(rs[i]) < resourceName(rs[j]) })
}

// resourceName is the xDS name of a resource.
func resourceName(r types.Resource) string {
	switch v := r.(type) {
	case *endpointv3.ClusterLoadAssignment:
		return v.GetClusterName()
	case interface{ GetName() string }:
		return v.GetName()
	}
	return ""
}
