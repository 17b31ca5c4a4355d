package integration

import (
	"sort"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/berth-gateway/berth/xds/translate/evaluate"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// The translator's output for two Gateways with layer-4 listeners: the
// proxy of gateway-a receives its TCP listener, its TLS passthrough
// listener (SNI chains) and the TCP listener of its ListenerSet with their
// clusters and endpoints, and nothing of gateway-b's TCP listeners (its own
// and its ListenerSet's); gateway-b's proxy the reverse. Each decides
// connections (evaluate.L4 on what the probe received) to its own
// backends only.
func TestTranslatedL4ListenersReachOnlyTheirGateway(t *testing.T) {
	w := newWorld(t, nil)
	doc := strings.NewReplacer("NS_A", w.nsA, "NS_B", w.nsB).Replace(`
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-a, namespace: NS_A}
spec:
  gatewayClassName: eg
  allowedListeners: {namespaces: {from: Same}}
  listeners:
  - {name: postgres, port: 5432, protocol: TCP}
  - {name: tls, port: 9443, protocol: TLS, tls: {mode: Passthrough}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gateway-b, namespace: NS_B}
spec:
  gatewayClassName: eg
  allowedListeners: {namespaces: {from: Same}}
  listeners:
  - {name: redis, port: 6379, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: db, namespace: NS_A}
spec:
  parentRefs: [{name: gateway-a, sectionName: postgres}]
  rules: [{backendRefs: [{name: team-a-db, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: web, namespace: NS_A}
spec:
  parentRefs: [{name: gateway-a, sectionName: tls}]
  hostnames: [secure.team-a.com]
  rules: [{backendRefs: [{name: team-a-web, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra-a, namespace: NS_A}
spec:
  parentRef: {name: gateway-a}
  listeners:
  - {name: postgres, port: 3306, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: db-via-set, namespace: NS_A}
spec:
  parentRefs: [{kind: ListenerSet, name: extra-a, sectionName: postgres}]
  rules: [{backendRefs: [{name: team-a-db, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra-b, namespace: NS_B}
spec:
  parentRef: {name: gateway-b}
  listeners:
  - {name: redis, port: 7000, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: cache-via-set, namespace: NS_B}
spec:
  parentRefs: [{kind: ListenerSet, name: extra-b}]
  rules: [{backendRefs: [{name: team-b-cache, port: 6379}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: cache, namespace: NS_B}
spec:
  parentRefs: [{name: gateway-b}]
  rules: [{backendRefs: [{name: team-b-cache, port: 6379}]}]
---
apiVersion: v1
kind: Service
metadata: {name: team-a-db, namespace: NS_A}
spec: {ports: [{name: pg, port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: team-a-web, namespace: NS_A}
spec: {ports: [{name: tls, port: 443}]}
---
apiVersion: v1
kind: Service
metadata: {name: team-b-cache, namespace: NS_B}
spec: {ports: [{name: redis, port: 6379}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: team-a-db-1, namespace: NS_A, labels: {kubernetes.io/service-name: team-a-db}}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints: [{addresses: [10.20.0.1]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: team-b-cache-1, namespace: NS_B, labels: {kubernetes.io/service-name: team-b-cache}}
addressType: IPv4
ports: [{name: redis, port: 6379}]
endpoints: [{addresses: [10.30.0.1]}]
`)
	sa, sb := w.serveScenario(t, doc)
	names := func(s xdstest.State, typ string) string {
		var out []string
		for n := range s.Resources[typ] {
			out = append(out, n)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		got, want string
	}{
		{names(sa, resourcev3.ListenerType), "listener/3306 listener/5432 listener/9443"},
		{names(sa, resourcev3.ClusterType), "service/" + w.nsA + "/team-a-db/5432 service/" + w.nsA + "/team-a-web/443"},
		{names(sb, resourcev3.ListenerType), "listener/6379 listener/7000"},
		{names(sb, resourcev3.ClusterType), "service/" + w.nsB + "/team-b-cache/6379"},
	} {
		if c.got != c.want {
			t.Errorf("received %q, want %q", c.got, c.want)
		}
	}
	if ips := xdstest.EndpointIPs(sa); !ips["10.20.0.1"] || ips["10.30.0.1"] {
		t.Errorf("gateway-a endpoints %v", ips)
	}
	if ips := xdstest.EndpointIPs(sb); !ips["10.30.0.1"] || ips["10.20.0.1"] {
		t.Errorf("gateway-b endpoints %v", ips)
	}

	// What each proxy would do with connections, from what it received.
	resources := func(s xdstest.State) map[string][]types.Resource {
		out := map[string][]types.Resource{}
		for typ, byName := range s.Resources {
			for _, m := range byName {
				out[typ] = append(out[typ], m.(types.Resource))
			}
		}
		return out
	}
	ra, rb := resources(sa), resources(sb)
	for _, c := range []struct {
		name    string
		res     map[string][]types.Resource
		conn    evaluate.L4Connection
		cluster string // "" : refused or closed
	}{
		{"a: tcp", ra, evaluate.L4Connection{Port: 5432}, "service/" + w.nsA + "/team-a-db/5432"},
		{"a: tls sni", ra, evaluate.L4Connection{Port: 9443, SNI: "secure.team-a.com"}, "service/" + w.nsA + "/team-a-web/443"},
		{"a: tls unknown sni", ra, evaluate.L4Connection{Port: 9443, SNI: "other.team-a.com"}, ""},
		{"a: b's port", ra, evaluate.L4Connection{Port: 6379}, ""},
		{"a: its ListenerSet's listener", ra, evaluate.L4Connection{Port: 3306}, "service/" + w.nsA + "/team-a-db/5432"},
		{"a: b's ListenerSet's port", ra, evaluate.L4Connection{Port: 7000}, ""},
		{"b: its ListenerSet's listener", rb, evaluate.L4Connection{Port: 7000}, "service/" + w.nsB + "/team-b-cache/6379"},
		{"b: a's ListenerSet's port", rb, evaluate.L4Connection{Port: 3306}, ""},
		{"b: tcp", rb, evaluate.L4Connection{Port: 6379}, "service/" + w.nsB + "/team-b-cache/6379"},
		{"b: a's ports", rb, evaluate.L4Connection{Port: 5432}, ""},
	} {
		d, err := evaluate.L4(c.res, c.conn)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if forwarded := !d.Refused && !d.Closed; forwarded != (c.cluster != "") || d.Cluster != c.cluster && c.cluster != "" {
			t.Errorf("%s: %+v, want cluster %q", c.name, d, c.cluster)
		}
	}
}
