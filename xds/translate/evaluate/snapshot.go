package evaluate

import (
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Connection is how a request reaches Envoy.
type Connection struct {
	// Port is the port Envoy listens on (after any privileged-port offset).
	Port uint32
	// SNI is the TLS server name; empty for plain HTTP, or TLS without SNI.
	SNI string
}

// Snapshot routes req the way the Envoy holding resources (one Gateway's
// snapshot, by type URL) would: the listener bound to conn.Port, its filter
// chain for conn.SNI (exact server name, then the longest wildcard, then the
// chain without server names), that chain's connection manager (header and
// path checks, path normalization, upgrades: see connectionManager) and its
// RDS route table. A route to a single cluster that does not exist answers the
// route's cluster_not_found_response_code. It fails when nothing listens
// on the port or no filter chain takes the connection (Envoy would close
// it).
func Snapshot(resources map[string][]types.Resource, conn Connection, req Request) (Decision, error) {
	var l *listenerv3.Listener
	for _, r := range resources[resourcev3.ListenerType] {
		if c, ok := r.(*listenerv3.Listener); ok && c.GetAddress().GetSocketAddress().GetPortValue() == conn.Port {
			l = c
		}
	}
	if l == nil {
		return Decision{}, fmt.Errorf("nothing listens on port %d", conn.Port)
	}
	fc := selectFilterChain(l.GetFilterChains(), strings.ToLower(conn.SNI))
	if fc == nil {
		return Decision{}, fmt.Errorf("listener %q: no filter chain for server name %q", l.GetName(), conn.SNI)
	}
	hcm := &hcmv3.HttpConnectionManager{}
	found := false
	for _, f := range fc.GetFilters() {
		if f.GetTypedConfig().MessageIs(hcm) {
			if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
				return Decision{}, fmt.Errorf("listener %q: %w", l.GetName(), err)
			}
			found = true
		}
	}
	if !found {
		return Decision{}, fmt.Errorf("listener %q: filter chain %q has no HTTP connection manager", l.GetName(), fc.GetName())
	}
	if !hcm.GetStripAnyHostPort() {
		return Decision{}, fmt.Errorf("listener %q: only connection managers that strip the host port are supported", l.GetName())
	}
	name := hcm.GetRds().GetRouteConfigName()
	var rc *routev3.RouteConfiguration
	for _, r := range resources[resourcev3.RouteType] {
		if c, ok := r.(*routev3.RouteConfiguration); ok && c.GetName() == name {
			rc = c
		}
	}
	if rc == nil {
		return Decision{}, fmt.Errorf("listener %q: route configuration %q does not exist", l.GetName(), name)
	}
	if conn.SNI != "" || fc.GetTransportSocket() != nil {
		req.Scheme = "https"
	}
	req, local, upgrade, err := connectionManager(hcm, req)
	if err != nil {
		return Decision{}, fmt.Errorf("listener %q: %w", l.GetName(), err)
	}
	if local != nil {
		local.Listener = l.GetName()
		return *local, nil
	}
	d, err := Evaluate(rc, req)
	if err != nil {
		return d, err
	}
	d.Listener, d.RouteConfiguration, d.Upgrade = l.GetName(), rc.GetName(), upgrade
	if d.Status == 0 && d.Cluster != "" && !hasCluster(resources, d.Cluster) {
		d.Status = d.ClusterNotFoundStatus
		if d.Status == 0 {
			d.Status = 503 // Envoy's default cluster_not_found_response_code
		}
	}
	return d, nil
}

func hasCluster(resources map[string][]types.Resource, name string) bool {
	for _, r := range resources[resourcev3.ClusterType] {
		if c, ok := r.(*clusterv3.Cluster); ok && c.GetName() == name {
			return true
		}
	}
	return false
}

// selectFilterChain is Envoy's server name matching for the subset berth
// uses: an exact name, then the longest matching wildcard, then a chain
// without server names.
func selectFilterChain(chains []*listenerv3.FilterChain, sni string) *listenerv3.FilterChain {
	var best, fallback *listenerv3.FilterChain
	bestLen := -1
	for _, fc := range chains {
		names := fc.GetFilterChainMatch().GetServerNames()
		if len(names) == 0 {
			fallback = fc
			continue
		}
		for _, n := range names {
			n = strings.ToLower(n)
			switch {
			case n == sni && sni != "":
				return fc
			case strings.HasPrefix(n, "*.") && strings.HasSuffix(sni, n[1:]) && len(sni) > len(n)-1 && len(n) > bestLen:
				best, bestLen = fc, len(n)
			}
		}
	}
	if best != nil {
		return best
	}
	return fallback
}
