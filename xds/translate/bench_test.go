package translate_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// scaleInput builds gateways Gateways (one per namespace, one HTTP
// listener) with routes HTTPRoutes spread evenly over them, 10 rules each
// (path prefix, a header match on some, two weighted Services), and a
// Service with two ports and an EndpointSlice of 3 endpoints per namespace.
func scaleInput(gateways, routes int) translate.Input {
	in := translate.Input{GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}}}
	prefix, exact := gwv1.PathMatchPathPrefix, gwv1.HeaderMatchExact
	for g := 0; g < gateways; g++ {
		ns := fmt.Sprintf("team-%03d", g)
		in.Gateways = append(in.Gateways, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: ns}, Spec: gwv1.GatewaySpec{
			GatewayClassName: "eg",
			Listeners:        []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}},
		}})
		for _, name := range []string{"a", "b"} {
			in.Services = append(in.Services, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "admin", Port: 9000}}}})
			port, admin := int32(8080), int32(9000)
			pn, an := "http", "admin"
			slice := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Name: &pn, Port: &port}, {Name: &an, Port: &admin}},
			}
			for e := 0; e < 3; e++ {
				slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", g/250, g%250, e+1)}})
			}
			in.EndpointSlices = append(in.EndpointSlices, slice)
		}
	}
	for r := 0; r < routes; r++ {
		ns := fmt.Sprintf("team-%03d", r%gateways)
		route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("route-%05d", r), Namespace: ns}, Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gwv1.Hostname{gwv1.Hostname(fmt.Sprintf("app-%d.example.com", r%7))},
		}}
		for i := 0; i < 10; i++ {
			path := fmt.Sprintf("/r%d/rule%d", r, i)
			m := gwv1.HTTPRouteMatch{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &path}}
			if i%3 == 0 {
				m.Headers = []gwv1.HTTPHeaderMatch{{Type: &exact, Name: "x-version", Value: "v2"}}
			}
			w1, w2 := int32(90), int32(10)
			route.Spec.Rules = append(route.Spec.Rules, gwv1.HTTPRouteRule{
				Matches: []gwv1.HTTPRouteMatch{m},
				BackendRefs: []gwv1.HTTPBackendRef{
					{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "a", Port: ptrTo(gwv1.PortNumber(80))}, Weight: &w1}},
					{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "b", Port: ptrTo(gwv1.PortNumber(80))}, Weight: &w2}},
				},
			})
		}
		in.HTTPRoutes = append(in.HTTPRoutes, route)
	}
	return in
}

func ptrTo[T any](v T) *T { return &v }

func benchmarkTranslate(b *testing.B, gateways, routes int) {
	in := scaleInput(gateways, routes)
	opts := translate.DefaultOptions()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res := translate.Translate(in, opts)
		if len(res) != gateways {
			b.Fatalf("%d results", len(res))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(routes), "ns/route")
}

// BenchmarkTranslate translates every Gateway (index included), as the
// controller does after a full resync.
func BenchmarkTranslate(b *testing.B) {
	for _, routes := range []int{1000, 2500, 5000, 10000} {
		b.Run(fmt.Sprintf("routes=%d/gateways=100", routes), func(b *testing.B) { benchmarkTranslate(b, 100, routes) })
	}
}

// BenchmarkTranslateGateway re-translates one Gateway of 100 from a built
// index, as the controller does when one Gateway's inputs change.
func BenchmarkTranslateGateway(b *testing.B) {
	for _, routes := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d/gateways=100", routes), func(b *testing.B) {
			ix := translate.NewIndex(scaleInput(100, routes), translate.DefaultOptions())
			key := ix.Gateways()[42]
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := ix.TranslateGateway(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestScaleResultsValidate checks that the benchmark input translates into
// valid resources, so the benchmark measures real work.
func TestScaleResultsValidate(t *testing.T) {
	res := translate.Translate(scaleInput(3, 30), translate.DefaultOptions())
	for _, r := range res {
		if err := translate.Validate(r.Resources); err != nil {
			t.Fatal(err)
		}
		if len(r.Routes) != 10 {
			t.Errorf("%s: %d route statuses, want 10", r.Gateway, len(r.Routes))
		}
	}
}

// BenchmarkNewIndex builds the index alone (what a cache change costs
// before any Gateway is translated).
func BenchmarkNewIndex(b *testing.B) {
	for _, routes := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d/gateways=100", routes), func(b *testing.B) {
			in := scaleInput(100, routes)
			b.ReportAllocs()
			for b.Loop() {
				translate.NewIndex(in, translate.DefaultOptions())
			}
		})
	}
}

// BenchmarkValidate validates one Gateway's resources, as the xDS server's
// Publish does before serving them (100 routes of 10 rules: 1,000 Envoy
// routes; 1,000 routes: 10,000).
func BenchmarkValidate(b *testing.B) {
	for _, routes := range []int{100, 1000} {
		b.Run(fmt.Sprintf("routes=%d/gateways=1", routes), func(b *testing.B) {
			res := translate.Translate(scaleInput(1, routes), translate.DefaultOptions())[0]
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := translate.Validate(res.Resources); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMarshalValid is what `berth translate` does after translating:
// validate every resource and write the document.
func BenchmarkMarshalValid(b *testing.B) {
	res := translate.Translate(scaleInput(100, 2000), translate.DefaultOptions())
	for _, f := range []translate.Format{translate.FormatYAML, translate.FormatJSON} {
		b.Run(fmt.Sprintf("routes=2000/gateways=100/%s", f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := translate.MarshalValid(res, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
