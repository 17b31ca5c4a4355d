package cli

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// berth render gives a Gateway's Service the ports of the ListenerSets its
// translation accepts, as the controller does, and none of one it does not
// admit (or of another Gateway's), nor of a listener it refuses (clash binds
// the Envoy port of the Gateway's port 80: PortUnavailable).
func TestRenderListenerSetPorts(t *testing.T) {
	const in = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: open, namespace: infra}
spec:
  gatewayClassName: eg
  allowedListeners: {namespaces: {from: All}}
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: closed, namespace: infra}
spec:
  gatewayClassName: eg
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: team-b, namespace: team-b}
spec:
  parentRef: {name: open, namespace: infra}
  listeners: [{name: extra, port: 8081, protocol: HTTP}, {name: clash, port: 10080, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: team-c, namespace: team-c}
spec:
  parentRef: {name: closed, namespace: infra}
  listeners: [{name: extra, port: 8082, protocol: HTTP}]
`
	out, stderr, err := runBerth(t, in, "render", "-f", "-", "-o", "json")
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "ListenerSet") {
		t.Errorf("ListenerSets reported as ignored: %s", stderr)
	}
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Ports []struct {
					Port int32 `json:"port"`
				} `json:"ports"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ports := map[string][]int32{}
	for _, it := range list.Items {
		if it.Kind != "Service" {
			continue
		}
		gw := it.Metadata.Labels["gateway.networking.k8s.io/gateway-name"]
		for _, p := range it.Spec.Ports {
			ports[gw] = append(ports[gw], p.Port)
		}
	}
	if got := ports["open"]; len(got) != 2 || got[0] != 80 || got[1] != 8081 {
		t.Errorf("Service of the Gateway admitting team-b's ListenerSet has ports %v, want [80 8081] (not the refused 10080)", got)
	}
	if got := ports["closed"]; len(got) != 1 || got[0] != 80 {
		t.Errorf("Service of the Gateway admitting no ListenerSet has ports %v, want [80]", got)
	}
}
