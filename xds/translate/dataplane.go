package translate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// This file builds the model (package model) of one Gateway's data plane
// from its processed listeners and attached routes; the builders
// (envoy_*.go) turn the model into Envoy resources.

// portGroup is the Gateway listeners that share one bound port.
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

// buildModel builds the Gateway's data plane: one model.Listener per port
// of programmed listeners, their route tables, and the clusters and secrets
// those use.
func (t *gatewayTranslator) buildModel() *model.Gateway {
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

	out := &model.Gateway{Listeners: make([]*model.Listener, 0, len(ports))}
	// Every connection manager has its own copy of the settings, so that
	// per-listener settings (policies attached to one listener) can differ.
	// (They share the Upgrades slice: a policy replaces it, never appends.)
	settings := model.EdgeHTTPSettings(t.ix.opts.UseRemoteAddress, t.ix.opts.XffNumTrustedHops)
	listenerLogs, httpLogs := accessLogs(t.telemetry())
	ctp := t.clientTraffic()
	t.ctp, t.policyStatus = ctp, ctp.status
	for _, p := range ports {
		g := groups[p]
		if isL4Protocol(g.protocol) {
			if l := t.buildL4Listener(g); l != nil {
				out.Listeners = append(out.Listeners, l)
			}
			continue
		}
		l := &model.Listener{
			Name:     ListenerName(int32(p)),
			Port:     int32(p),
			Address:  t.ix.opts.ListenAddress,
			BindPort: g.listeners[0].envoyPort,
			Protocol: model.ProtocolHTTP,

			BufferLimitBytes: model.DefaultBufferLimitBytes,
			AccessLogs:       listenerLogs,
		}
		if g.protocol == gwv1.HTTPSProtocolType {
			l.Protocol = model.ProtocolHTTPS
			ctx := routeContext{port: p, scheme: "https"}
			for _, ls := range sortedByName(g.listeners) {
				fc := &model.FilterChain{
					Name:     filterChainName(ls.envoyName()),
					Listener: ls.envoyName(),
					TLS:      &model.DownstreamTLS{Secrets: []string{ls.secret}, ALPN: []string{"h2", "http/1.1"}, ClientValidation: ls.clientValidation},
					HTTP: &model.HTTP{
						StatPrefix: fmt.Sprintf("https-%d-%s", p, ls.envoyName()),
						Settings:   ctp.settingsFor(settings, ls.envoyName(), defaultHost([]*listenerState{ls})),
						Routes:     t.routeTable(HTTPSRouteConfigName(int32(p), ls.envoyName()), []*listenerState{ls}, ctx),
						AccessLogs: httpLogs,
					},
				}
				if h := hostnameOf(ls.spec.Hostname); h != "" {
					fc.ServerNames = []string{h}
				}
				ctp.applyChain(fc, ls.envoyName())
				l.FilterChains = append(l.FilterChains, fc)
			}
		} else {
			fc := &model.FilterChain{HTTP: &model.HTTP{
				StatPrefix: fmt.Sprintf("http-%d", p),
				Settings:   ctp.settingsFor(settings, g.listeners[0].envoyName(), defaultHost(g.listeners)),
				Routes:     t.routeTable(HTTPRouteConfigName(int32(p)), g.listeners, routeContext{port: p, scheme: "http"}),
				AccessLogs: httpLogs,
			}}
			ctp.applyChain(fc, g.listeners[0].envoyName())
			l.FilterChains = []*model.FilterChain{fc}
		}
		ctp.applyPort(l, g)
		out.Listeners = append(out.Listeners, l)
	}

	out.Clusters = make([]*model.Cluster, 0, len(t.clusters))
	for _, c := range t.clusters {
		out.Clusters = append(out.Clusters, c)
	}
	sort.Slice(out.Clusters, func(i, j int) bool { return out.Clusters[i].Name < out.Clusters[j].Name })
	// Only the secrets of programmed listeners are sent.
	seen := map[string]bool{}
	for _, ls := range t.listeners {
		if ls.programmed() && ls.secret != "" && !seen[ls.secret] {
			seen[ls.secret] = true
			out.Secrets = append(out.Secrets, t.secrets[ls.secret])
		}
	}
	if s := t.backendClientSecret(out.Clusters); s != nil && !seen[s.Name] {
		out.Secrets = append(out.Secrets, s)
	}
	sort.Slice(out.Secrets, func(i, j int) bool { return out.Secrets[i].Name < out.Secrets[j].Name })
	return out
}

func sortedByName(ls []*listenerState) []*listenerState {
	out := append([]*listenerState(nil), ls...)
	sort.Slice(out, func(i, j int) bool { return out[i].envoyName() < out[j].envoyName() })
	return out
}

// vhostEntry is one route to place in a virtual host.
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

// routeTable builds the route table of the given listeners (which share a
// port, or one HTTPS listener). There is one virtual host per hostname a
// route serves. A request is handled by the most specific listener whose
// hostname matches it, so a virtual host holds the routes of that listener
// only: first those whose hostname is the virtual host's, then those with
// ever broader wildcards, then those without hostnames (the spec's hostname
// precedence), each group in match precedence.
func (t *gatewayTranslator) routeTable(name string, listeners []*listenerState, ctx routeContext) *model.RouteTable {
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
	rt := &model.RouteTable{Name: name, VirtualHosts: make([]*model.VirtualHost, 0, len(hosts))}
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
		vh := &model.VirtualHost{Name: virtualHostName(h), Hostname: h, Routes: make([]*model.Route, len(entries))}
		routes := make([]model.Route, len(entries)) // one allocation for the virtual host's routes
		for i, e := range entries {
			t.placeRoute(&routes[i], e, ctx)
			vh.Routes[i] = &routes[i]
		}
		rt.VirtualHosts = append(rt.VirtualHosts, vh)
	}
	return rt
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

// placeRoute fills r, the route of one match placed in a virtual host
// served as ctx, and adds the clusters it uses.
func (t *gatewayTranslator) placeRoute(r *model.Route, e vhostEntry, ctx routeContext) {
	rule := e.rule
	*r = model.Route{
		Name:            routeName(e.route.route.kind, e.route.route.meta.Namespace, e.route.route.meta.Name, rule.index, e.match.index),
		Match:           e.match.match,
		RequestHeaders:  rule.reqHeaders,
		ResponseHeaders: rule.respHeaders,
	}
	switch {
	case rule.redirect != nil:
		r.Redirect = redirectOf(rule.redirect, e.match, ctx)
	case len(rule.backends) == 0:
		// No backend can take the request: the spec's 500.
		r.DirectResponse = 500
	default:
		for _, b := range rule.backends {
			t.ensureCluster(b)
		}
		for _, m := range rule.mirrors {
			t.ensureCluster(m.backend)
		}
		r.Forward = forwardOf(rule, e.match)
	}
}

// forwardOf is the forward action of a rule's match (built once per match:
// it does not depend on where the route is served).
func forwardOf(rule *compiledRule, m *compiledMatch) *model.Forward {
	if m.forward != nil {
		return m.forward
	}
	if rule.forward == nil {
		f := &model.Forward{
			Backends:      make([]model.Backend, len(rule.backends)),
			InvalidWeight: rule.invalidWeight,
			Timeout:       rule.timeout,
			PerTryTimeout: rule.perTryTimeout,
			Retry:         rule.retry,
			GRPC:          rule.grpc,
		}
		for i, b := range rule.backends {
			f.Backends[i] = model.Backend{Cluster: b.cluster, Weight: b.weight, RequestHeaders: b.reqHeaders, ResponseHeaders: b.respHeaders}
		}
		for _, mr := range rule.mirrors {
			f.Mirrors = append(f.Mirrors, model.Mirror{Cluster: mr.backend.cluster, Fraction: mr.fraction})
		}
		if rw := rule.rewrite; rw != nil && rw.Hostname != nil {
			f.HostRewrite = string(*rw.Hostname)
		}
		rule.forward = f
	}
	m.forward = rule.forward
	if rw := rule.rewrite; rw != nil && rw.Path != nil {
		f := *rule.forward
		f.PathRewrite = pathRewrite(rw.Path, m)
		m.forward = &f
	}
	return m.forward
}

// pathRewrite is a checked path modifier (see checkPrefixModifier) applied
// to the path match m.
func pathRewrite(pm *gwv1.HTTPPathModifier, m *compiledMatch) *model.PathRewrite {
	switch pm.Type {
	case gwv1.FullPathHTTPPathModifier:
		return &model.PathRewrite{Full: *pm.ReplaceFullPath}
	case gwv1.PrefixMatchHTTPPathModifier:
		return &model.PathRewrite{Prefix: *pm.ReplacePrefixMatch, MatchedPrefix: m.match.Path}
	}
	return nil
}

// redirectOf is a redirect as served on ctx. The spec's port: the given
// one; else the scheme's well-known port when the scheme changes; else the
// listener's port. A well-known port is left out of Location (Envoy strips
// the request's port).
func redirectOf(rd *gwv1.HTTPRequestRedirectFilter, m *compiledMatch, ctx routeContext) *model.Redirect {
	out := &model.Redirect{StatusCode: 302}
	if rd.StatusCode != nil {
		out.StatusCode = *rd.StatusCode
	}
	scheme := ctx.scheme
	if rd.Scheme != nil {
		scheme = *rd.Scheme
		out.Scheme = scheme
	}
	if rd.Hostname != nil {
		out.Hostname = string(*rd.Hostname)
	}
	var port gwv1.PortNumber
	switch {
	case rd.Port != nil:
		port = *rd.Port
	case rd.Scheme == nil:
		port = ctx.port
	}
	if port != 0 && !(scheme == "http" && port == 80 || scheme == "https" && port == 443) {
		out.Port = uint32(port)
	}
	if rd.Path != nil {
		out.Path = pathRewrite(rd.Path, m)
	}
	return out
}

// ensureCluster adds the cluster of a backend (once), with its endpoints.
// The cluster speaks HTTP/2 (h2c) to the backend when the Service port says
// so (appProtocol kubernetes.io/h2c) or when a GRPCRoute references it:
// gRPC needs HTTP/2 end to end, and a port that serves gRPC speaks HTTP/2
// to every route that uses it. That does not depend on which route comes
// first, so the output stays deterministic.
func (t *gatewayTranslator) ensureCluster(b backend) {
	h2 := b.http2 || b.port.AppProtocol != nil && *b.port.AppProtocol == "kubernetes.io/h2c"
	c, ok := t.clusters[b.cluster]
	if !ok {
		c = &model.Cluster{Name: b.cluster, ConnectTimeout: t.ix.opts.ConnectTimeout, BufferLimitBytes: model.DefaultBufferLimitBytes, Endpoints: t.endpoints(b), TLS: b.tls}
		t.clusters[b.cluster] = c
	}
	if h2 {
		c.Protocol = model.HTTP2
	}
}

// endpoints lists the ready endpoints of a Service port from its
// EndpointSlices (ready unset counts as ready, as Kubernetes documents),
// sorted and unique.
func (t *gatewayTranslator) endpoints(b backend) []model.Endpoint {
	key := k8stypes.NamespacedName{Namespace: b.service.Namespace, Name: b.service.Name}
	seen := map[model.Endpoint]bool{}
	var out []model.Endpoint
	for _, s := range t.ix.lookup.EndpointSlices(key) {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			if p.Port != nil && nameOf(p.Name) == b.port.Name && (p.Protocol == nil && portProtocol(b.port.Protocol) == corev1.ProtocolTCP || p.Protocol != nil && *p.Protocol == portProtocol(b.port.Protocol)) {
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
				a := model.Endpoint{IP: ip, Port: uint32(port)}
				if validIP(ip) && !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IP != out[j].IP {
			return out[i].IP < out[j].IP
		}
		return out[i].Port < out[j].Port
	})
	return out
}

func nameOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
