package translate_test

import (
	"reflect"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/evaluate"
)

// snapshotOf translates a golden input and returns the resources of its
// one Gateway.
func snapshotOf(t *testing.T, file string) map[string][]types.Resource {
	t.Helper()
	results := translate.Translate(loadInput(t, "testdata/"+file), translate.DefaultOptions())
	if len(results) != 1 {
		t.Fatalf("%s: %d gateways translated, want 1", file, len(results))
	}
	return results[0].Resources
}

// TestL4Connections decides connections to the TCP, TLS and UDP goldens'
// proxies as Envoy would: by port and transport, by SNI (exact, wildcard,
// none, unknown) on TLS ports, with weighted and missing clusters.
func TestL4Connections(t *testing.T) {
	weighted := func(ws ...any) []evaluate.WeightedCluster {
		var out []evaluate.WeightedCluster
		for i := 0; i < len(ws); i += 2 {
			out = append(out, evaluate.WeightedCluster{Name: ws[i].(string), Weight: uint32(ws[i+1].(int))})
		}
		return out
	}
	for _, tc := range []struct {
		name, file string
		conn       evaluate.L4Connection
		want       evaluate.L4Decision
	}{
		// TCP
		{"tcp weighted, missing share closed", "tcproute.in.yaml", evaluate.L4Connection{Port: 5432},
			evaluate.L4Decision{Listener: "listener/5432", WeightedClusters: weighted("service/db/pg-primary/5432", 90, "service/db/pg-canary/5432", 10, translate.InvalidBackendCluster, 5), ClosedWeight: 5}},
		{"tcp oldest of two routes", "tcproute.in.yaml", evaluate.L4Connection{Port: 6379},
			evaluate.L4Decision{Listener: "listener/6379", Cluster: "service/db/redis/6379"}},
		{"tcp sni ignored", "tcproute.in.yaml", evaluate.L4Connection{Port: 6379, SNI: "x.example.com"},
			evaluate.L4Decision{Listener: "listener/6379", Cluster: "service/db/redis/6379"}},
		{"tcp backend not permitted: closed", "tcproute.in.yaml", evaluate.L4Connection{Port: 7200},
			evaluate.L4Decision{Listener: "listener/7200", Cluster: translate.InvalidBackendCluster, Closed: true, Reason: `cluster "berth/invalid-backend" does not exist`}},
		{"tcp port without route", "tcproute.in.yaml", evaluate.L4Connection{Port: 7000},
			evaluate.L4Decision{Refused: true, Reason: "nothing listens on TCP port 7000"}},
		{"tcp conflicted port", "tcproute.in.yaml", evaluate.L4Connection{Port: 7100},
			evaluate.L4Decision{Refused: true, Reason: "nothing listens on TCP port 7100"}},
		{"udp to a tcp port", "tcproute.in.yaml", evaluate.L4Connection{Port: 5432, UDP: true},
			evaluate.L4Decision{Refused: true, Reason: "nothing listens on UDP port 5432"}},

		// TLS passthrough: SNI exact, wildcard, none, unknown.
		{"sni exact on wildcard listener", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443, SNI: "app.example.com"},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-wild/tlsroute/edge/apps", WeightedClusters: weighted("service/edge/app/443", 3, "service/edge/default-tls/443", 1)}},
		{"sni exact, case-insensitive", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443, SNI: "DB.example.com"},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-db/tlsroute/edge/apps", WeightedClusters: weighted("service/edge/app/443", 3, "service/edge/default-tls/443", 1)}},
		{"sni wildcard", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443, SNI: "web.example.com"},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-wild/tlsroute/edge/apps-newer", Cluster: "service/edge/app/443"}},
		{"sni wildcard, deeper name", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443, SNI: "a.b.example.com"},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-wild/tlsroute/edge/apps-newer", Cluster: "service/edge/app/443"}},
		{"sni of a route on the catch-all listener", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443, SNI: "other.org"},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-any/tlsroute/edge/apps", WeightedClusters: weighted("service/edge/app/443", 3, "service/edge/default-tls/443", 1)}},
		{"sni unknown: catch-all", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443, SNI: "unknown.net"},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-any/tlsroute/edge/catch-all", Cluster: "service/edge/default-tls/443"}},
		{"no sni: catch-all", "tlsroute.in.yaml", evaluate.L4Connection{Port: 10443},
			evaluate.L4Decision{Listener: "listener/443", FilterChain: "listener/pass-any/tlsroute/edge/catch-all", Cluster: "service/edge/default-tls/443"}},
		{"terminate: sni matches", "tlsroute.in.yaml", evaluate.L4Connection{Port: 8443, SNI: "mq.example.com"},
			evaluate.L4Decision{Listener: "listener/8443", FilterChain: "listener/terminate/tlsroute/edge/mq", Terminated: true, WeightedClusters: weighted("service/edge/mq/5672", 1, translate.InvalidBackendCluster, 1), ClosedWeight: 1}},
		{"terminate: sni unknown, no catch-all", "tlsroute.in.yaml", evaluate.L4Connection{Port: 8443, SNI: "x.example.com"},
			evaluate.L4Decision{Listener: "listener/8443", Closed: true, Reason: `no filter chain for server name "x.example.com"`}},
		{"terminate: no sni", "tlsroute.in.yaml", evaluate.L4Connection{Port: 8443},
			evaluate.L4Decision{Listener: "listener/8443", Closed: true, Reason: `no filter chain for server name ""`}},
		// TLSRouteModeMixed: one port, a chain per server name in its
		// listener's mode.
		{"mixed: passthrough server name", "tlsroute.in.yaml", evaluate.L4Connection{Port: 9443, SNI: "a.example.com"},
			evaluate.L4Decision{Listener: "listener/9443", FilterChain: "listener/mixed-pass/tlsroute/edge/mixed-a", Cluster: "service/edge/app/443"}},
		{"mixed: terminated server name", "tlsroute.in.yaml", evaluate.L4Connection{Port: 9443, SNI: "B.example.com"},
			evaluate.L4Decision{Listener: "listener/9443", FilterChain: "listener/mixed-term/tlsroute/edge/mixed-b", Terminated: true, Cluster: "service/edge/mq/5672"}},
		{"mixed: other server name", "tlsroute.in.yaml", evaluate.L4Connection{Port: 9443, SNI: "c.example.com"},
			evaluate.L4Decision{Listener: "listener/9443", Closed: true, Reason: `no filter chain for server name "c.example.com"`}},

		// UDP
		{"udp weighted localities", "udproute.in.yaml", evaluate.L4Connection{Port: 10053, UDP: true},
			evaluate.L4Decision{Listener: "listener/53", Cluster: "udproute/dns/dns"}},
		{"udp nothing resolved: dropped", "udproute.in.yaml", evaluate.L4Connection{Port: 5400, UDP: true},
			evaluate.L4Decision{Listener: "listener/5400", Cluster: translate.InvalidBackendCluster, Closed: true, Reason: `cluster "berth/invalid-backend" does not exist`}},
		{"tcp to a udp port", "udproute.in.yaml", evaluate.L4Connection{Port: 10053},
			evaluate.L4Decision{Refused: true, Reason: "nothing listens on TCP port 10053"}},
		{"udp route on tcp listener: not bound", "udproute.in.yaml", evaluate.L4Connection{Port: 5300},
			evaluate.L4Decision{Refused: true, Reason: "nothing listens on TCP port 5300"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := evaluate.L4(snapshotOf(t, tc.file), tc.conn)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// An HTTP port is for requests: L4 refuses to guess.
func TestL4OnHTTPPort(t *testing.T) {
	if _, err := evaluate.L4(snapshotOf(t, "tcproute.in.yaml"), evaluate.L4Connection{Port: 10080}); err == nil {
		t.Fatal("L4 on an HTTP listener: no error")
	}
}

// TestL4Status checks the listener and route status facts of the TCP, TLS
// and UDP goldens by the spec's rules: supportedKinds per protocol,
// InvalidRouteKinds, conflicts, attachedRoutes (every accepted route
// counts, also those that do not forward), and the route reasons.
func TestL4Status(t *testing.T) {
	type listenerWant struct {
		kinds            []string
		attached         int32
		condType, status string
		reason           string
	}
	type routeWant struct{ condType, status, reason string }
	for _, tc := range []struct {
		file      string
		listeners map[string]listenerWant
		routes    map[string]routeWant // "kind ns/name" → one condition
	}{
		{"tcproute.in.yaml", map[string]listenerWant{
			"postgres": {[]string{"TCPRoute"}, 1, "Programmed", "True", "Programmed"},
			"redis":    {[]string{"TCPRoute"}, 2, "Accepted", "True", "Accepted"},
			"idle":     {[]string{"TCPRoute"}, 0, "Programmed", "True", "Programmed"},
			"dup-a":    {[]string{"TCPRoute"}, 0, "Conflicted", "True", "HostnameConflict"},
			"dup-b":    {[]string{"TCPRoute"}, 0, "Accepted", "False", "HostnameConflict"},
			"kinds":    {[]string{"TCPRoute"}, 1, "ResolvedRefs", "False", "InvalidRouteKinds"},
			"http":     {[]string{"HTTPRoute", "GRPCRoute"}, 0, "Accepted", "True", "Accepted"},
		}, map[string]routeWant{
			"TCPRoute db/postgres":  {"ResolvedRefs", "False", "BackendNotFound"},
			"TCPRoute db/redis-new": {"Accepted", "True", "Accepted"},
			"TCPRoute db/cross":     {"ResolvedRefs", "False", "RefNotPermitted"},
			"TCPRoute db/on-http":   {"Accepted", "False", "NotAllowedByListeners"},
		}},
		{"tlsroute.in.yaml", map[string]listenerWant{
			"pass-any":   {[]string{"TLSRoute"}, 2, "ResolvedRefs", "False", "InvalidRouteKinds"},
			"pass-wild":  {[]string{"TLSRoute"}, 2, "Programmed", "True", "Programmed"},
			"terminate":  {[]string{"TLSRoute"}, 1, "Programmed", "True", "Programmed"},
			"mixed-pass": {[]string{"TLSRoute"}, 1, "Conflicted", "False", "NoConflicts"},
			"mixed-term": {[]string{"TLSRoute"}, 1, "Programmed", "True", "Programmed"},
			"https":      {[]string{"HTTPRoute", "GRPCRoute"}, 0, "Programmed", "True", "Programmed"},
		}, map[string]routeWant{
			"TLSRoute edge/apps":     {"Accepted", "True", "Accepted"},
			"TLSRoute edge/no-host":  {"Accepted", "False", "NoMatchingListenerHostname"},
			"TLSRoute edge/on-https": {"Accepted", "False", "NotAllowedByListeners"},
			"TLSRoute edge/mq":       {"ResolvedRefs", "False", "InvalidKind"},
			"TLSRoute edge/mixed-a":  {"Accepted", "True", "Accepted"},
		}},
		{"udproute.in.yaml", map[string]listenerWant{
			"dns":  {[]string{"UDPRoute"}, 2, "Programmed", "True", "Programmed"},
			"dead": {[]string{"UDPRoute"}, 1, "Programmed", "True", "Programmed"},
			"tcp":  {[]string{"TCPRoute"}, 0, "Accepted", "True", "Accepted"},
		}, map[string]routeWant{
			"UDPRoute dns/dns":    {"ResolvedRefs", "True", "ResolvedRefs"},
			"UDPRoute dns/dead":   {"ResolvedRefs", "False", "BackendNotFound"},
			"UDPRoute dns/on-tcp": {"Accepted", "False", "NotAllowedByListeners"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := translate.Translate(loadInput(t, "testdata/"+tc.file), translate.DefaultOptions())[0]
			seen := map[string]bool{}
			for _, ls := range res.Listeners {
				want, ok := tc.listeners[string(ls.Name)]
				if !ok {
					continue
				}
				seen[string(ls.Name)] = true
				kinds := []string{}
				for _, k := range ls.SupportedKinds {
					kinds = append(kinds, string(k.Kind))
				}
				if !reflect.DeepEqual(kinds, want.kinds) || ls.AttachedRoutes != want.attached {
					t.Errorf("listener %s: kinds %v, %d attached; want %v, %d", ls.Name, kinds, ls.AttachedRoutes, want.kinds, want.attached)
				}
				c := ls.Condition(gwv1.ListenerConditionType(want.condType))
				if c == nil || string(c.Status) != want.status || c.Reason != want.reason {
					t.Errorf("listener %s %s = %+v, want %s/%s", ls.Name, want.condType, c, want.status, want.reason)
				}
			}
			for _, rs := range res.Routes {
				key := string(rs.Kind) + " " + rs.Route.String()
				want, ok := tc.routes[key]
				if !ok {
					continue
				}
				seen[key] = true
				c := rs.Condition(gwv1.RouteConditionType(want.condType))
				if c == nil || string(c.Status) != want.status || c.Reason != want.reason {
					t.Errorf("%s %s = %+v, want %s/%s", key, want.condType, c, want.status, want.reason)
				}
			}
			if len(seen) != len(tc.listeners)+len(tc.routes) {
				t.Errorf("checked %d of %d listeners and routes", len(seen), len(tc.listeners)+len(tc.routes))
			}
		})
	}
}
