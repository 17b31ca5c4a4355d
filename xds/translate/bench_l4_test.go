package translate_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// mixedInput is scaleInput with a third of the routes HTTPRoutes (10
// rules each), a third TCPRoutes (each on a TCP listener of its own, two
// weighted Services) and a third TLSRoutes (one passthrough listener per
// Gateway, each route with its own server name, two weighted Services).
func mixedInput(gateways, routes int) translate.Input {
	http := routes / 3
	in := scaleInput(gateways, http)
	passthrough := gwv1.TLSModePassthrough
	tcpPorts := map[string]int{}
	for r := http; r < routes; r++ {
		g := r % gateways
		ns := fmt.Sprintf("team-%03d", g)
		gw := in.Gateways[g]
		w1, w2 := int32(90), int32(10)
		backends := []gwv1.BackendRef{
			{BackendObjectReference: gwv1.BackendObjectReference{Name: "a", Port: ptrTo(gwv1.PortNumber(80))}, Weight: &w1},
			{BackendObjectReference: gwv1.BackendObjectReference{Name: "b", Port: ptrTo(gwv1.PortNumber(80))}, Weight: &w2},
		}
		meta := metav1.ObjectMeta{Name: fmt.Sprintf("route-%05d", r), Namespace: ns}
		if (r-http)%2 == 0 {
			port := gwv1.PortNumber(5000 + tcpPorts[ns])
			tcpPorts[ns]++
			name := gwv1.SectionName(fmt.Sprintf("tcp-%d", port))
			gw.Spec.Listeners = append(gw.Spec.Listeners, gwv1.Listener{Name: name, Port: port, Protocol: gwv1.TCPProtocolType})
			in.TCPRoutes = append(in.TCPRoutes, &gwv1.TCPRoute{ObjectMeta: meta, Spec: gwv1.TCPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw", SectionName: &name}}},
				Rules:           []gwv1.TCPRouteRule{{BackendRefs: backends}},
			}})
			continue
		}
		if len(gw.Spec.Listeners) == 1 || gw.Spec.Listeners[1].Protocol != gwv1.TLSProtocolType {
			gw.Spec.Listeners = append(gw.Spec.Listeners[:1], append([]gwv1.Listener{{Name: "tls", Port: 443, Protocol: gwv1.TLSProtocolType,
				TLS: &gwv1.ListenerTLSConfig{Mode: &passthrough}}}, gw.Spec.Listeners[1:]...)...)
		}
		tls := gwv1.SectionName("tls")
		in.TLSRoutes = append(in.TLSRoutes, &gwv1.TLSRoute{ObjectMeta: meta, Spec: gwv1.TLSRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw", SectionName: &tls}}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(fmt.Sprintf("svc-%d.example.com", r))},
			Rules:           []gwv1.TLSRouteRule{{BackendRefs: backends}},
		}})
	}
	return in
}

// BenchmarkTranslateMixed translates 100 Gateways holding HTTP, TCP and
// TLS routes in equal parts (docs/benchmarks.md): ns/route against
// BenchmarkTranslate's HTTP-only ns/route, and growth with the route count.
func BenchmarkTranslateMixed(b *testing.B) {
	for _, routes := range []int{1000, 2000, 4000} {
		b.Run(fmt.Sprintf("routes=%d/gateways=100", routes), func(b *testing.B) {
			in := mixedInput(100, routes)
			opts := translate.DefaultOptions()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if res := translate.Translate(in, opts); len(res) != 100 {
					b.Fatalf("%d results", len(res))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(routes), "ns/route")
		})
	}
}

// TestMixedScaleInput checks that the mixed benchmark input is what it
// claims: every route accepted, every listener programmed, valid
// resources with one TCP listener per TCPRoute and one SNI chain per
// TLSRoute.
func TestMixedScaleInput(t *testing.T) {
	in := mixedInput(3, 30)
	if len(in.HTTPRoutes) != 10 || len(in.TCPRoutes) != 10 || len(in.TLSRoutes) != 10 {
		t.Fatalf("routes: %d HTTP, %d TCP, %d TLS", len(in.HTTPRoutes), len(in.TCPRoutes), len(in.TLSRoutes))
	}
	chains := 0
	for _, r := range translate.Translate(in, translate.DefaultOptions()) {
		if err := translate.Validate(r.Resources); err != nil {
			t.Fatal(err)
		}
		for _, rs := range r.Routes {
			if c := rs.Condition(gwv1.RouteConditionAccepted); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("%s %s not accepted: %+v", rs.Kind, rs.Route, c)
			}
		}
		for _, ls := range r.Listeners {
			if c := ls.Condition(gwv1.ListenerConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("%s listener %s not programmed: %+v", r.Gateway, ls.Name, c)
			}
		}
		for _, l := range r.Model.Listeners {
			if l.Port == 443 {
				chains += len(l.FilterChains)
			}
		}
	}
	if chains != 10 {
		t.Errorf("%d SNI chains, want 10", chains)
	}
}
