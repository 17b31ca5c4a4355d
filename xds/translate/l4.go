package translate

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// This file holds what is particular to the layer-4 route kinds:
// TCPRoutes on TCP listeners, TLSRoutes on TLS listeners (Passthrough and
// Terminate) and UDPRoutes on UDP listeners. Attachment (attach.go),
// listener checks and conflicts (gateway.go) and backend resolution
// (compile.go) are shared with HTTPRoutes and GRPCRoutes.

func tcpRoute(r *gwv1.TCPRoute) *route {
	rules := make([][]gwv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return &route{kind: KindTCPRoute, meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, l4: rules}
}

func tlsRoute(r *gwv1.TLSRoute) *route {
	rules := make([][]gwv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return &route{kind: KindTLSRoute, meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames, l4: rules}
}

func udpRoute(r *gwv1.UDPRoute) *route {
	rules := make([][]gwv1.BackendRef, len(r.Spec.Rules))
	for i := range r.Spec.Rules {
		rules[i] = r.Spec.Rules[i].BackendRefs
	}
	return &route{kind: KindUDPRoute, meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, l4: rules}
}

// isL4 reports whether routes of kind forward connections or datagrams
// rather than HTTP requests.
func isL4(kind gwv1.Kind) bool {
	return kind == KindTCPRoute || kind == KindTLSRoute || kind == KindUDPRoute
}

// isL4Protocol reports whether listeners of protocol p serve L4 routes.
func isL4Protocol(p gwv1.ProtocolType) bool {
	return p == gwv1.TCPProtocolType || p == gwv1.TLSProtocolType || p == gwv1.UDPProtocolType
}

// routeKindsOf lists the route kinds a listener of protocol serves, in
// the order supportedKinds reports them.
func routeKindsOf(p gwv1.ProtocolType) []gwv1.RouteGroupKind {
	switch p {
	case gwv1.HTTPProtocolType, gwv1.HTTPSProtocolType:
		// gRPC is HTTP/2 on the same connection manager.
		return []gwv1.RouteGroupKind{httpRouteKind, grpcRouteKind}
	case gwv1.TLSProtocolType:
		return []gwv1.RouteGroupKind{tlsRouteKind}
	case gwv1.TCPProtocolType:
		return []gwv1.RouteGroupKind{tcpRouteKind}
	case gwv1.UDPProtocolType:
		return []gwv1.RouteGroupKind{udpRouteKind}
	}
	return nil
}

// selectingHostname is the hostname that tells the listener's connections
// from those of the port's other listeners: none for TCP and UDP, which
// carry no hostname, so two of them on one port always conflict.
func (ls *listenerState) selectingHostname() string {
	if ls.spec.Protocol == gwv1.TCPProtocolType || ls.spec.Protocol == gwv1.UDPProtocolType {
		return ""
	}
	return hostnameOf(ls.spec.Hostname)
}

// backendProtocol is the Service port protocol the backends of a route
// kind must have.
func backendProtocol(kind gwv1.Kind) corev1.Protocol {
	if kind == KindUDPRoute {
		return corev1.ProtocolUDP
	}
	return corev1.ProtocolTCP
}

// portProtocol is a Service or EndpointSlice port's protocol (TCP when
// unset, as Kubernetes defaults it).
func portProtocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// backendClusterName is the cluster of a Service port of the given
// protocol.
func backendClusterName(namespace, name string, port int32, protocol corev1.Protocol) string {
	if protocol == corev1.ProtocolUDP {
		return UDPServiceClusterName(namespace, name, port)
	}
	return ServiceClusterName(namespace, name, port)
}

// compileL4 checks the rules of a TCPRoute, TLSRoute or UDPRoute: each is
// a list of weighted backendRefs (the CRDs allow one rule; further rules
// are dropped). Unresolved references keep their weight, as in HTTPRoutes:
// that share of connections is closed.
func (t *gatewayTranslator) compileL4(cr *compiledRoute) {
	r := cr.route
	if len(r.l4) == 0 {
		cr.invalid = append(cr.invalid, "the route has no rules")
		return
	}
	for i, refs := range r.l4 {
		if i > 0 {
			cr.invalid = append(cr.invalid, fmt.Sprintf("rule %d: a %s has one rule", i, r.kind))
			continue
		}
		rule := &compiledRule{index: i, backends: make([]backend, 0, len(refs))}
		var total uint64
		var err error
		for k, ref := range refs {
			var weight uint32
			if weight, err = backendWeight(k, ref.Weight, &total); err != nil {
				break
			}
			b, ok := t.resolveBackend(cr, ref.BackendObjectReference)
			switch {
			case !ok:
				rule.invalidWeight += weight
			case weight > 0:
				b.weight = weight
				rule.backends = append(rule.backends, b)
			}
		}
		if err != nil {
			cr.invalid = append(cr.invalid, fmt.Sprintf("rule %d: %v", i, err))
			continue
		}
		cr.rules = append(cr.rules, rule)
		cr.valid++
	}
}

// l4Name names the route an L4 proxy serves: "tcproute/<ns>/<name>" etc.
func l4Name(cr *compiledRoute) string {
	return routeObjectName(cr.route.kind, cr.route.meta.Namespace, cr.route.meta.Name)
}

// buildL4Listener builds the model listener of a TCP, TLS or UDP port, or
// nil when no route is attached to any of its listeners (Envoy then does
// not bind the port, and connections are refused).
func (t *gatewayTranslator) buildL4Listener(g *portGroup) *model.Listener {
	l := &model.Listener{
		Name:             ListenerName(int32(g.port)),
		Port:             int32(g.port),
		Address:          t.ix.opts.ListenAddress,
		BindPort:         g.listeners[0].envoyPort,
		BufferLimitBytes: model.DefaultBufferLimitBytes,
	}
	switch g.protocol {
	case gwv1.TCPProtocolType:
		// Two TCP listeners on one port conflict, so there is one. Every
		// attached route is accepted and counted, but a port forwards to
		// one place: the oldest route's backends (the spec's tie-breaker).
		ls := g.listeners[0]
		if len(ls.attachments) == 0 {
			return nil
		}
		l.Protocol = model.ProtocolTCP
		fc := &model.FilterChain{TCP: t.tcpProxy(fmt.Sprintf("tcp-%d", g.port), ls.attachments[0].route)}
		t.ctp.applyChain(fc, ls.envoyName())
		l.FilterChains = []*model.FilterChain{fc}
	case gwv1.UDPProtocolType:
		ls := g.listeners[0]
		if len(ls.attachments) == 0 {
			return nil
		}
		cr := ls.attachments[0].route
		l.Protocol, l.BufferLimitBytes = model.ProtocolUDP, 0
		l.UDP = &model.UDPProxy{StatPrefix: fmt.Sprintf("udp-%d", g.port), Route: l4Name(cr), Cluster: t.ensureUDPCluster(cr)}
		return l // no policy applies to a UDP port
	case gwv1.TLSProtocolType:
		l.Protocol = model.ProtocolTLS
		l.FilterChains = t.sniChains(g)
		if len(l.FilterChains) == 0 {
			return nil
		}
	}
	t.ctp.applyPort(l, g)
	return l
}

// tcpProxy is the TCP proxy of an attached TCPRoute or TLSRoute, and adds
// the clusters it uses.
func (t *gatewayTranslator) tcpProxy(statPrefix string, cr *compiledRoute) *model.TCPProxy {
	p := &model.TCPProxy{StatPrefix: statPrefix, Route: l4Name(cr)}
	if len(cr.rules) == 0 {
		return p
	}
	rule := cr.rules[0]
	p.InvalidWeight = rule.invalidWeight
	for _, b := range rule.backends {
		t.ensureCluster(b)
		p.Backends = append(p.Backends, model.Backend{Cluster: b.cluster, Weight: b.weight})
	}
	return p
}

// sniChains are the filter chains of a TLS port: per listener, one chain
// per attached TLSRoute, selected by the server names (SNI) the route
// serves there. A server name goes to the listener with the most specific
// hostname covering it, and within that listener to the oldest route that
// names it (Envoy refuses two chains with one server name); a route left
// with no server name gets no chain. A route without hostnames on a
// listener without hostname takes every server name no other chain takes
// (a chain without server names), and connections without SNI.
func (t *gatewayTranslator) sniChains(g *portGroup) []*model.FilterChain {
	byHost := map[string]*listenerState{}
	for _, ls := range g.listeners {
		byHost[hostnameOf(ls.spec.Hostname)] = ls
	}
	// owner picks the listener that takes server name h.
	owner := func(h string) *listenerState {
		for _, c := range coveringHostnames(h) {
			if ls, ok := byHost[c]; ok && c != "*" {
				return ls
			}
		}
		return byHost[""]
	}
	var chains []*model.FilterChain
	taken := map[string]bool{}
	for _, ls := range sortedByName(g.listeners) {
		for _, a := range ls.attachments { // oldest route first
			var names []string
			took := false
			for _, h := range a.hostnames {
				if taken[h] || owner(h) != ls {
					continue
				}
				taken[h], took = true, true
				if h != "*" {
					names = append(names, h)
				}
			}
			if !took {
				continue
			}
			sort.Strings(names)
			fc := &model.FilterChain{
				Name:        filterChainName(ls.envoyName()) + "/" + l4Name(a.route),
				Listener:    ls.envoyName(),
				ServerNames: names,
				TCP:         t.tcpProxy(fmt.Sprintf("tls-%d-%s", g.port, ls.envoyName()), a.route),
			}
			if !ls.passthrough {
				fc.TLS = &model.DownstreamTLS{Secrets: []string{ls.secret}}
			}
			t.ctp.applyChain(fc, ls.envoyName())
			chains = append(chains, fc)
		}
	}
	return chains
}

// ensureUDPCluster adds the cluster of an attached UDPRoute (once) and
// returns its name, or InvalidBackendCluster when no backend resolved
// (datagrams are then dropped). A UDP proxy sends to one cluster, so the
// route's backends are its localities, weighted as the backendRefs are.
func (t *gatewayTranslator) ensureUDPCluster(cr *compiledRoute) string {
	if len(cr.rules) == 0 || len(cr.rules[0].backends) == 0 {
		return InvalidBackendCluster
	}
	name := l4Name(cr)
	if _, ok := t.clusters[name]; ok {
		return name
	}
	c := &model.Cluster{Name: name, ConnectTimeout: t.ix.opts.ConnectTimeout}
	for _, b := range cr.rules[0].backends {
		c.Localities = append(c.Localities, model.Locality{Name: b.cluster, Weight: b.weight, Endpoints: t.endpoints(b)})
	}
	t.clusters[name] = c
	return name
}
