package translate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/translate"
)

// FuzzTranslateHTTPRoute feeds arbitrary HTTPRoutes (JSON, seeded with
// every route of the golden inputs) to a Gateway with HTTP and HTTPS-less
// listeners on shared ports: translation must never panic, and whatever it
// produces must pass Validate.
func FuzzTranslateHTTPRoute(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range inputs {
		r, err := os.Open(in)
		if err != nil {
			f.Fatal(err)
		}
		set, err := manifest.DecodeAll(manifest.Input{Source: in, Reader: r})
		r.Close()
		if err != nil {
			f.Fatal(err)
		}
		for _, route := range set.HTTPRoutes {
			b, err := json.Marshal(route)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	from := gwv1.NamespacesFromAll
	host := gwv1.Hostname("*.example.com")
	base := translate.Input{
		GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
		Services: []*corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "v1", Namespace: "front"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		route := &gwv1.HTTPRoute{}
		if err := json.Unmarshal(data, route); err != nil {
			return
		}
		// Point every parentRef at the one Gateway so the route is translated.
		route.Namespace = "default"
		route.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw"}}
		gw := &gwv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "default"},
			Spec: gwv1.GatewaySpec{GatewayClassName: "eg", Listeners: []gwv1.Listener{
				{Name: "a", Port: 80, Protocol: gwv1.HTTPProtocolType, AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}},
				{Name: "b", Port: 80, Protocol: gwv1.HTTPProtocolType, Hostname: &host},
				{Name: "c", Port: 8080, Protocol: gwv1.HTTPProtocolType},
			}},
		}
		in := base
		in.Gateways = []*gwv1.Gateway{gw}
		in.HTTPRoutes = []*gwv1.HTTPRoute{route, route.DeepCopy()}
		in.HTTPRoutes[1].Name += "-copy"
		for _, r := range translate.Translate(in, translate.DefaultOptions()) {
			if err := translate.Validate(r.Resources); err != nil {
				t.Fatalf("translated resources do not validate: %v\nroute: %s", err, data)
			}
		}
	})
}

// FuzzTranslateRouteFields puts arbitrary strings and numbers into the
// fields Envoy is strict about (paths, regexes, header and query names and
// values, hostnames, redirect and rewrite targets, weights, timeouts): the
// translator must reject what Envoy would reject, never emit it.
func FuzzTranslateRouteFields(f *testing.F) {
	f.Add("/api", "PathPrefix", "x-version", "v2", "Exact", "debug", "1", "www.example.com", "/new", "https", int32(1), 302, "10s", "GET")
	f.Add("/v[0-9]+", "RegularExpression", "x-re", "a.*", "RegularExpression", "q", "b+", "*.example.com", "/", "http", int32(0), 301, "0s", "POST")
	f.Add("/a//b", "Exact", ":authority", "\x00", "Exact", "", "", "EXAMPLE..com", "no-slash", "ftp", int32(-1), 999, "1x", "")
	from := gwv1.NamespacesFromAll
	f.Fuzz(func(t *testing.T, path, pathType, hName, hValue, hType, qName, qValue, hostname, target, scheme string, weight int32, code int, timeout, method string) {
		pt := gwv1.PathMatchType(pathType)
		ht := gwv1.HeaderMatchType(hType)
		qt := gwv1.QueryParamMatchType(hType)
		m := gwv1.HTTPMethod(method)
		port := gwv1.PortNumber(80)
		to := gwv1.Duration(timeout)
		h := gwv1.PreciseHostname(hostname)
		match := gwv1.HTTPRouteMatch{
			Path:        &gwv1.HTTPPathMatch{Type: &pt, Value: &path},
			Headers:     []gwv1.HTTPHeaderMatch{{Type: &ht, Name: gwv1.HTTPHeaderName(hName), Value: hValue}},
			QueryParams: []gwv1.HTTPQueryParamMatch{{Type: &qt, Name: gwv1.HTTPHeaderName(qName), Value: qValue}},
		}
		if method != "" {
			match.Method = &m
		}
		route := &gwv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "default"},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
				Hostnames:       []gwv1.Hostname{gwv1.Hostname(hostname)},
				Rules: []gwv1.HTTPRouteRule{
					{
						Matches: []gwv1.HTTPRouteMatch{match},
						Filters: []gwv1.HTTPRouteFilter{
							{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: gwv1.HTTPHeaderName(hName), Value: hValue}}, Remove: []string{qName}}},
							{Type: gwv1.HTTPRouteFilterURLRewrite, URLRewrite: &gwv1.HTTPURLRewriteFilter{Hostname: &h, Path: &gwv1.HTTPPathModifier{Type: gwv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &target}}},
						},
						BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Port: &port}, Weight: &weight}}},
						Timeouts:    &gwv1.HTTPRouteTimeouts{Request: &to},
					},
					{
						Matches: []gwv1.HTTPRouteMatch{match},
						Filters: []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gwv1.HTTPRequestRedirectFilter{
							Scheme: &scheme, Hostname: &h, StatusCode: &code,
							Path: &gwv1.HTTPPathModifier{Type: gwv1.FullPathHTTPPathModifier, ReplaceFullPath: &target},
						}}},
					},
				},
			},
		}
		lh := gwv1.Hostname(hostname)
		in := translate.Input{
			GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
			Gateways: []*gwv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "default"}, Spec: gwv1.GatewaySpec{GatewayClassName: "eg", Listeners: []gwv1.Listener{
				{Name: "a", Port: 80, Protocol: gwv1.HTTPProtocolType, AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}},
				{Name: "b", Port: 80, Protocol: gwv1.HTTPProtocolType, Hostname: &lh},
			}}}},
			HTTPRoutes: []*gwv1.HTTPRoute{route},
			Services:   []*corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}},
		}
		for _, r := range translate.Translate(in, translate.DefaultOptions()) {
			if err := translate.Validate(r.Resources); err != nil {
				t.Fatalf("translated resources do not validate: %v", err)
			}
		}
	})
}

// FuzzTranslateGRPCRouteFields puts arbitrary strings into a GRPCRoute's
// method and header matches (Exact and RegularExpression) next to an
// HTTPRoute using the same backend: translation must never panic and must
// never emit what Envoy would reject (bad regexes, oversized programs,
// invalid header names).
func FuzzTranslateGRPCRouteFields(f *testing.F) {
	f.Add("echo.v1.Echo", "Ping", "Exact", "x-canary", "yes", "Exact")
	f.Add("echo\\.v[0-9]+", "Stream.*", "RegularExpression", "x-re", "a.*", "RegularExpression")
	f.Add("", "", "Exact", ":path", "\x00", "Other")
	f.Add("bad/service", "(", "RegularExpression", "", "", "")
	from := gwv1.NamespacesFromAll
	f.Fuzz(func(t *testing.T, service, method, methodType, hName, hValue, hType string) {
		mt := gwv1.GRPCMethodMatchType(methodType)
		ht := gwv1.GRPCHeaderMatchType(hType)
		port := gwv1.PortNumber(80)
		mm := &gwv1.GRPCMethodMatch{Type: &mt}
		if service != "" {
			mm.Service = &service
		}
		if method != "" {
			mm.Method = &method
		}
		route := &gwv1.GRPCRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: "default"},
			Spec: gwv1.GRPCRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
				Rules: []gwv1.GRPCRouteRule{{
					Matches:     []gwv1.GRPCRouteMatch{{Method: mm, Headers: []gwv1.GRPCHeaderMatch{{Type: &ht, Name: gwv1.GRPCHeaderName(hName), Value: hValue}}}},
					Filters:     []gwv1.GRPCRouteFilter{{Type: gwv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: gwv1.HTTPHeaderName(hName), Value: hValue}}}}},
					BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Port: &port}}}},
				}},
			},
		}
		httpRoute := &gwv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "h", Namespace: "default"},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
				Rules:           []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Port: &port}}}}}},
			},
		}
		in := translate.Input{
			GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
			Gateways: []*gwv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "default"}, Spec: gwv1.GatewaySpec{GatewayClassName: "eg", Listeners: []gwv1.Listener{
				{Name: "a", Port: 80, Protocol: gwv1.HTTPProtocolType, AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}},
			}}}},
			HTTPRoutes: []*gwv1.HTTPRoute{httpRoute},
			GRPCRoutes: []*gwv1.GRPCRoute{route},
			Services:   []*corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}},
		}
		for _, r := range translate.Translate(in, translate.DefaultOptions()) {
			if err := translate.Validate(r.Resources); err != nil {
				t.Fatalf("translated resources do not validate: %v", err)
			}
		}
	})
}
