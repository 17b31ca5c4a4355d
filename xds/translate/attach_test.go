package translate_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/evaluate"
)

// TestParentRefPortMatching is destination port matching (GEP-957, the
// HTTPRouteDestinationPortMatching and HTTPRouteParentRefPort features): a
// parentRef naming a port attaches to every listener on that port that
// admits the route, and to no other; with sectionName too, the listener
// must match both; a port no listener uses is NoMatchingParent. Requests
// follow: the route serves only the ports it attached to.
func TestParentRefPortMatching(t *testing.T) {
	port := func(p gwv1.PortNumber) *gwv1.PortNumber { return &p }
	section := func(s gwv1.SectionName) *gwv1.SectionName { return &s }
	hostname := func(h gwv1.Hostname) *gwv1.Hostname { return &h }
	httpRoute := func(name string, ref gwv1.ParentReference) *gwv1.HTTPRoute {
		ref.Name = "gw"
		return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{ref}},
			Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: port(8080)}}}}}},
		}}
	}
	in := translate.Input{
		GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
		Gateways: []*gwv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "ns"}, Spec: gwv1.GatewaySpec{
			GatewayClassName: "eg",
			Listeners: []gwv1.Listener{
				{Name: "foo", Port: 8000, Protocol: gwv1.HTTPProtocolType, Hostname: hostname("foo.example.com")},
				{Name: "bar", Port: 8000, Protocol: gwv1.HTTPProtocolType, Hostname: hostname("bar.example.com")},
				{Name: "baz", Port: 8080, Protocol: gwv1.HTTPProtocolType},
			},
		}}},
		HTTPRoutes: []*gwv1.HTTPRoute{
			httpRoute("on-8000", gwv1.ParentReference{Port: port(8000)}),
			httpRoute("on-81", gwv1.ParentReference{Port: port(81)}),
			httpRoute("foo-on-8080", gwv1.ParentReference{Port: port(8080), SectionName: section("foo")}),
			httpRoute("foo-on-8000", gwv1.ParentReference{Port: port(8000), SectionName: section("foo")}),
		},
	}
	for _, name := range []string{"on-8000", "on-81", "foo-on-8080", "foo-on-8000"} {
		in.Services = append(in.Services, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}})
		in.EndpointSlices = append(in.EndpointSlices, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptrTo("http"), Port: ptrTo(int32(8080))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}},
		})
	}
	res := translate.Translate(in, translate.DefaultOptions())
	if len(res) != 1 {
		t.Fatalf("%d results, want 1", len(res))
	}
	r := res[0]

	accepted := map[string]string{}
	for _, s := range r.Routes {
		c := s.Condition(gwv1.RouteConditionAccepted)
		accepted[s.Route.Name] = string(c.Status) + "/" + c.Reason
	}
	for route, want := range map[string]string{
		"on-8000":     "True/Accepted",
		"on-81":       "False/NoMatchingParent",
		"foo-on-8080": "False/NoMatchingParent",
		"foo-on-8000": "True/Accepted",
	} {
		if accepted[route] != want {
			t.Errorf("route %s Accepted = %s, want %s", route, accepted[route], want)
		}
	}
	attached := map[string]int32{}
	for _, l := range r.Listeners {
		attached[string(l.Name)] = l.AttachedRoutes
	}
	// foo: on-8000 and foo-on-8000; bar: on-8000; baz (8080): none.
	if attached["foo"] != 2 || attached["bar"] != 1 || attached["baz"] != 0 {
		t.Errorf("attached routes foo=%d bar=%d baz=%d, want 2, 1, 0", attached["foo"], attached["bar"], attached["baz"])
	}

	for _, tc := range []struct {
		port        uint32
		host        string
		wantCluster string // "" means Envoy answers 404
	}{
		{8000, "bar.example.com", "service/ns/on-8000/8080"},
		// Two routes with equal matches: the spec's tie-breaker, by name.
		{8000, "foo.example.com", "service/ns/foo-on-8000/8080"},
		{8080, "bar.example.com", ""},
		{8080, "anything.example.com", ""},
	} {
		d, err := evaluate.Snapshot(r.Resources, evaluate.Connection{Port: tc.port}, evaluate.Request{Host: tc.host, Path: "/"})
		if err != nil {
			t.Fatalf("port %d host %s: %v", tc.port, tc.host, err)
		}
		if tc.wantCluster == "" {
			if d.Status != 404 {
				t.Errorf("port %d host %s: %+v, want 404 (no route attached to port 8080)", tc.port, tc.host, d)
			}
			continue
		}
		if d.Cluster != tc.wantCluster || !strings.HasPrefix(d.RouteConfiguration, "route/") {
			t.Errorf("port %d host %s: cluster %q (table %q), want %q", tc.port, tc.host, d.Cluster, d.RouteConfiguration, tc.wantCluster)
		}
	}
}
