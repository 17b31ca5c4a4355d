package translate_test

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/model"
)

// The model states the Gateway API decisions without Envoy: ports, chains,
// typed matches and filters, weighted backends, cluster protocols and
// endpoints can be asserted on directly.
func TestModel(t *testing.T) {
	exact, regex := gwv1.PathMatchExact, gwv1.HeaderMatchRegularExpression
	path, code := "/old", 301
	w := int32(3)
	in := translate.Input{
		GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
		Gateways: []*gwv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "ns"}, Spec: gwv1.GatewaySpec{
			GatewayClassName: "eg",
			Listeners:        []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}},
		}}},
		HTTPRoutes: []*gwv1.HTTPRoute{{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gwv1.Hostname{"www.example.com"},
			Rules: []gwv1.HTTPRouteRule{
				{
					Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &exact, Value: &path}}},
					Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gwv1.HTTPRequestRedirectFilter{StatusCode: &code}}},
				},
				{
					Matches: []gwv1.HTTPRouteMatch{{Headers: []gwv1.HTTPHeaderMatch{{Type: &regex, Name: "X-Tenant", Value: "team-.*"}}}},
					Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{
						Set: []gwv1.HTTPHeader{{Name: "X-A", Value: "1"}}, Add: []gwv1.HTTPHeader{{Name: "X-B", Value: "2"}}, Remove: []string{"X-C"},
					}}},
					BackendRefs: []gwv1.HTTPBackendRef{
						{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "app", Port: ptrTo(gwv1.PortNumber(8080))}, Weight: &w}},
						{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "missing", Port: ptrTo(gwv1.PortNumber(8080))}}},
					},
				},
			},
		}}},
		GRPCRoutes: []*gwv1.GRPCRoute{{ObjectMeta: metav1.ObjectMeta{Name: "rpc", Namespace: "ns"}, Spec: gwv1.GRPCRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gwv1.Hostname{"rpc.example.com"},
			Rules:           []gwv1.GRPCRouteRule{{BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "app", Port: ptrTo(gwv1.PortNumber(8080))}}}}}},
		}}},
		Services: []*corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}},
		EndpointSlices: []*discoveryv1.EndpointSlice{{
			ObjectMeta:  metav1.ObjectMeta{Name: "app-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "app"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptrTo("http"), Port: ptrTo(int32(9090))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.2"}}, {Addresses: []string{"10.0.0.1"}}},
		}},
	}
	res := translate.Translate(in, translate.DefaultOptions())
	if len(res) != 1 || res[0].Model == nil {
		t.Fatalf("want one result with a model, got %d", len(res))
	}
	m := res[0].Model

	if len(m.Listeners) != 1 {
		t.Fatalf("%d listeners, want 1", len(m.Listeners))
	}
	l := m.Listeners[0]
	if l.Port != 80 || l.BindPort != 10080 || l.Protocol != model.ProtocolHTTP || len(l.FilterChains) != 1 || l.FilterChains[0].TLS != nil {
		t.Fatalf("listener %+v: want port 80 bound at 10080, one plain HTTP chain", l)
	}
	// Every HTTP connection manager starts from the edge defaults.
	if got, want := l.FilterChains[0].HTTP.Settings, model.EdgeHTTPSettings(true, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("settings %+v, want the edge defaults %+v", got, want)
	}
	if l.BufferLimitBytes != model.DefaultBufferLimitBytes {
		t.Errorf("listener buffer limit %d, want %d", l.BufferLimitBytes, model.DefaultBufferLimitBytes)
	}
	vhosts := l.FilterChains[0].HTTP.Routes.VirtualHosts
	if len(vhosts) != 2 || vhosts[0].Hostname != "rpc.example.com" || vhosts[1].Hostname != "www.example.com" {
		t.Fatalf("virtual hosts %+v: want rpc.example.com and www.example.com", vhosts)
	}
	www := vhosts[1].Routes
	if len(www) != 2 {
		t.Fatalf("%d routes for www, want 2", len(www))
	}
	// Exact path first (precedence), a redirect keeping the well-known port out.
	if got, want := www[0].Match, (model.Match{PathType: model.PathExact, Path: "/old"}); !reflect.DeepEqual(got, want) {
		t.Errorf("redirect match %+v, want %+v", got, want)
	}
	if got, want := www[0].Redirect, (&model.Redirect{StatusCode: 301}); !reflect.DeepEqual(got, want) {
		t.Errorf("redirect %+v, want %+v", got, want)
	}
	r := www[1]
	if got, want := r.Match, (model.Match{PathType: model.PathPrefix, Headers: []model.StringMatch{{Name: "x-tenant", Value: "team-.*", Regex: true}}}); !reflect.DeepEqual(got, want) {
		t.Errorf("match %+v, want %+v", got, want)
	}
	if got, want := r.RequestHeaders, (&model.HeaderModifier{Set: []model.Header{{Name: "x-a", Value: "1"}}, Add: []model.Header{{Name: "x-b", Value: "2"}}, Remove: []string{"x-c"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("request headers %+v, want %+v", got, want)
	}
	if r.Forward == nil || len(r.Forward.Backends) != 1 || r.Forward.Backends[0].Weight != 3 || r.Forward.InvalidWeight != 1 {
		t.Fatalf("forward %+v: want backend app weight 3 and invalid weight 1", r.Forward)
	}
	grpc := vhosts[0].Routes
	if len(grpc) != 1 || grpc[0].Forward == nil || !grpc[0].Forward.GRPC {
		t.Fatalf("gRPC routes %+v: want one gRPC forward", grpc)
	}
	// One cluster, HTTP/2 because a GRPCRoute uses it (for the HTTPRoute too).
	want := []*model.Cluster{{Name: translate.ServiceClusterName("ns", "app", 8080), Protocol: model.HTTP2, ConnectTimeout: translate.DefaultOptions().ConnectTimeout,
		BufferLimitBytes: model.DefaultBufferLimitBytes, Endpoints: []model.Endpoint{{IP: "10.0.0.1", Port: 9090}, {IP: "10.0.0.2", Port: 9090}}}}
	if !reflect.DeepEqual(m.Clusters, want) {
		t.Errorf("clusters %+v, want %+v", m.Clusters[0], want[0])
	}
	if len(m.Secrets) != 0 {
		t.Errorf("secrets %+v, want none", m.Secrets)
	}
}
