// Command scaleinput writes the whole-process benchmark input of
// docs/benchmarks.md to stdout: a GatewayClass, -gateways Gateways (one per
// namespace, one HTTP listener), -routes HTTPRoutes spread evenly over them
// with -rules rules each (path prefix, a header match on every third, two
// weighted Services), and per namespace two Services with an EndpointSlice
// of 3 endpoints each — the shape of xds/translate's scaleInput, as YAML.
//
//	go run ./hack/scaleinput -gateways 100 -routes 1000 > /tmp/routes-1000.yaml
//	bin/berth translate -f /tmp/routes-1000.yaml > /dev/null
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	gateways := flag.Int("gateways", 100, "Gateways, one per namespace")
	routes := flag.Int("routes", 1000, "HTTPRoutes")
	rules := flag.Int("rules", 10, "rules per HTTPRoute")
	flag.Parse()
	if *gateways < 1 || *routes < 0 || *rules < 1 {
		fmt.Fprintln(os.Stderr, "scaleinput: -gateways and -rules must be positive, -routes not negative")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	write(w, *gateways, *routes, *rules)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "scaleinput:", err)
		os.Exit(1)
	}
}

func write(w *bufio.Writer, gateways, routes, rules int) {
	fmt.Fprint(w, `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
`)
	for g := 0; g < gateways; g++ {
		ns := fmt.Sprintf("team-%03d", g)
		fmt.Fprintf(w, `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: %s
spec:
  gatewayClassName: eg
  listeners:
  - name: http
    port: 80
    protocol: HTTP
`, ns)
		for _, name := range []string{"a", "b"} {
			fmt.Fprintf(w, `---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  ports:
  - name: http
    port: 80
  - name: admin
    port: 9000
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-1
  namespace: %[2]s
  labels:
    kubernetes.io/service-name: %[1]s
addressType: IPv4
ports:
- name: http
  port: 8080
- name: admin
  port: 9000
endpoints:
`, name, ns)
			for e := 0; e < 3; e++ {
				fmt.Fprintf(w, "- addresses: [\"10.%d.%d.%d\"]\n", g/250, g%250, e+1)
			}
		}
	}
	for r := 0; r < routes; r++ {
		fmt.Fprintf(w, `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route-%05d
  namespace: team-%03d
spec:
  parentRefs:
  - name: gw
  hostnames:
  - app-%d.example.com
  rules:
`, r, r%gateways, r%7)
		for i := 0; i < rules; i++ {
			fmt.Fprintf(w, `  - matches:
    - path:
        type: PathPrefix
        value: /r%d/rule%d
`, r, i)
			if i%3 == 0 {
				fmt.Fprint(w, `      headers:
      - type: Exact
        name: x-version
        value: v2
`)
			}
			fmt.Fprint(w, `    backendRefs:
    - name: a
      port: 80
      weight: 90
    - name: b
      port: 80
      weight: 10
`)
		}
	}
}
