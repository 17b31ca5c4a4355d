package translate

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	udpproxyv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/udp/udp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// proxyClustersExist checks that every cluster a TCP or UDP proxy sends
// to exists, except InvalidBackendCluster: it stands for unresolved
// backendRefs, whose connections Envoy closes (and whose datagrams it
// drops) because the cluster is missing.
func proxyClustersExist(resources map[string][]types.Resource, clusters map[string]bool) []error {
	var errs []error
	check := func(l *listenerv3.Listener, what, c string) {
		if c != InvalidBackendCluster && !clusters[c] {
			errs = append(errs, fmt.Errorf("listener %q: %s sends to cluster %q, which does not exist", l.Name, what, c))
		}
	}
	for _, r := range resources[resourcev3.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue // reported elsewhere
		}
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				tp := &tcpproxyv3.TcpProxy{}
				if !f.GetTypedConfig().MessageIs(tp) || f.GetTypedConfig().UnmarshalTo(tp) != nil {
					continue
				}
				if c := tp.GetCluster(); c != "" {
					check(l, "tcp proxy of filter chain "+fc.Name, c)
				}
				for _, w := range tp.GetWeightedClusters().GetClusters() {
					check(l, "tcp proxy of filter chain "+fc.Name, w.Name)
				}
			}
		}
		for _, lf := range l.ListenerFilters {
			up := &udpproxyv3.UdpProxyConfig{}
			if !lf.GetTypedConfig().MessageIs(up) || lf.GetTypedConfig().UnmarshalTo(up) != nil {
				continue
			}
			action := up.GetMatcher().GetOnNoMatch().GetAction()
			route := &udpproxyv3.Route{}
			if up.GetMatcher().GetMatcherType() != nil || action == nil || action.GetTypedConfig().UnmarshalTo(route) != nil {
				errs = append(errs, fmt.Errorf("listener %q: udp proxy must send every datagram to one route's cluster", l.Name))
				continue
			}
			check(l, "udp proxy", route.Cluster)
		}
	}
	return errs
}

// isUDPListener reports whether l is a UDP listener (which has listener
// filters and no filter chains).
func isUDPListener(l *listenerv3.Listener) bool {
	return l.GetUdpListenerConfig() != nil
}
