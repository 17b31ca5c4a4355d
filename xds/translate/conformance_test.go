package translate_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/evaluate"
)

// routeTables translates a golden input and returns the route tables of
// one Gateway by name.
func routeTables(t *testing.T, file, gateway string) map[string]*routev3.RouteConfiguration {
	t.Helper()
	for _, r := range translate.Translate(loadInput(t, "testdata/"+file), translate.DefaultOptions()) {
		if r.Gateway.String() != gateway {
			continue
		}
		out := map[string]*routev3.RouteConfiguration{}
		for _, res := range r.Resources[resourcev3.RouteType] {
			rc := res.(*routev3.RouteConfiguration)
			out[rc.Name] = rc
		}
		return out
	}
	t.Fatalf("gateway %s not translated", gateway)
	return nil
}

// expect is the part of a decision a table row checks; zero fields are
// not checked, except Status (0 means forwarded upstream).
type expect struct {
	Status   int
	Cluster  string
	Weighted []evaluate.WeightedCluster
	Location string
	Path     string
	Host     string
	Route    string
	// NotFound is the status for a missing cluster (0: not checked).
	NotFound int
}

type row struct {
	name  string
	table string
	req   evaluate.Request
	want  expect
}

func runTable(t *testing.T, tables map[string]*routev3.RouteConfiguration, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			rc, ok := tables[r.table]
			if !ok {
				t.Fatalf("no route table %q", r.table)
			}
			d, err := evaluate.Evaluate(rc, r.req)
			if err != nil {
				t.Fatal(err)
			}
			w := r.want
			if d.Status != w.Status {
				t.Errorf("status = %d, want %d (route %q)", d.Status, w.Status, d.Route)
			}
			if w.Cluster != "" && d.Cluster != w.Cluster {
				t.Errorf("cluster = %q, want %q (route %q)", d.Cluster, w.Cluster, d.Route)
			}
			if w.Weighted != nil && !reflect.DeepEqual(d.WeightedClusters, w.Weighted) {
				t.Errorf("weighted clusters = %v, want %v", d.WeightedClusters, w.Weighted)
			}
			if w.Location != "" && d.Location != w.Location {
				t.Errorf("location = %q, want %q", d.Location, w.Location)
			}
			if w.Path != "" && d.Path != w.Path {
				t.Errorf("upstream path = %q, want %q", d.Path, w.Path)
			}
			if w.Host != "" && d.Host != w.Host {
				t.Errorf("upstream host = %q, want %q", d.Host, w.Host)
			}
			if w.NotFound != 0 && d.ClusterNotFoundStatus != w.NotFound {
				t.Errorf("cluster-not-found status = %d, want %d", d.ClusterNotFoundStatus, w.NotFound)
			}
			if w.Route != "" && d.Route != w.Route {
				t.Errorf("route = %q, want %q", d.Route, w.Route)
			}
		})
	}
}

func svc(ns, name string, port int) string {
	return translate.ServiceClusterName(ns, name, int32(port))
}

func TestConformanceMatching(t *testing.T) {
	tables := routeTables(t, "matching.in.yaml", "infra/gw")
	const rt = "route/80"
	get := func(path string) evaluate.Request { return evaluate.Request{Host: "example.com", Path: path} }
	runTable(t, tables, []row{
		{"exact beats prefix", rt, get("/foo"), expect{Cluster: svc("app", "svc-b", 8080)}},
		{"longer prefix of the newer route beats shorter", rt, get("/foo/bar"), expect{Cluster: svc("app", "svc-c", 8080)}},
		{"prefix matches whole segments only", rt, get("/foobar"), expect{Cluster: svc("app", "svc-a", 8080)}},
		{"trailing slash of a prefix is ignored", rt, get("/foo/"), expect{Cluster: svc("app", "svc-c", 8080)}},
		{"root prefix catches the rest", rt, get("/"), expect{Cluster: svc("app", "svc-a", 8080)}},
		{"method match beats header match", rt, evaluate.Request{Host: "example.com", Path: "/api/x", Method: "POST", Headers: map[string]string{"X-Version": "2"}}, expect{Cluster: svc("app", "svc-d", 8080)}},
		{"header match tie goes to the older route", rt, evaluate.Request{Host: "example.com", Path: "/api/x", Headers: map[string]string{"x-version": "2"}}, expect{Cluster: svc("app", "svc-e", 8080)}},
		{"query parameter match", rt, get("/api/x?debug=1"), expect{Cluster: svc("app", "svc-f", 8080)}},
		{"query parameter mismatch falls through", rt, get("/api/x?debug=2"), expect{Cluster: svc("app", "svc-a", 8080)}},
		{"regex path match", rt, get("/v2/items"), expect{Cluster: svc("app", "svc-f", 8080)}},
		{"regex path is a full match", rt, get("/x/v2/items"), expect{Cluster: svc("app", "svc-a", 8080)}},
		{"header regex match", rt, evaluate.Request{Host: "example.com", Path: "/z", Headers: map[string]string{"X-Tenant": "team-b"}}, expect{Cluster: svc("app", "svc-f", 8080)}},
		{"header regex is a full match", rt, evaluate.Request{Host: "example.com", Path: "/z", Headers: map[string]string{"X-Tenant": "team-bc"}}, expect{Cluster: svc("app", "svc-a", 8080)}},
		{"host port is ignored", rt, evaluate.Request{Host: "example.com:80", Path: "/foo"}, expect{Cluster: svc("app", "svc-b", 8080)}},
		{"route without hostnames serves other hosts", rt, evaluate.Request{Host: "other.test", Path: "/foo"}, expect{Cluster: svc("app", "svc-a", 8080), Route: "httproute/app/any-host/rule/0/match/0"}},
	})
}

func TestConformanceHostnames(t *testing.T) {
	tables := routeTables(t, "hostnames.in.yaml", "default/gw")
	req := func(host string) evaluate.Request { return evaluate.Request{Host: host, Path: "/"} }
	runTable(t, tables, []row{
		{"exact listener beats wildcard listener", "route/8080", req("foo.example.com"), expect{Cluster: svc("default", "foo", 80)}},
		{"route hostname within wildcard listener", "route/8080", req("bar.example.com"), expect{Cluster: svc("default", "bar", 80)}},
		{"route wildcard hostname", "route/8080", req("x.bar.example.com"), expect{Cluster: svc("default", "bar", 80)}},
		{"wildcard listener", "route/8080", req("baz.example.com"), expect{Cluster: svc("default", "wild", 80)}},
		{"narrower route hostname first", "route/8080", evaluate.Request{Host: "narrow.example.com", Path: "/narrow/x"}, expect{Cluster: svc("default", "foo", 80)}},
		{"broader route hostname still serves the rest", "route/8080", evaluate.Request{Host: "narrow.example.com", Path: "/other"}, expect{Cluster: svc("default", "wild", 80)}},
		{"routes of a less specific listener do not serve", "route/8080", evaluate.Request{Host: "foo.example.com", Path: "/narrow"}, expect{Cluster: svc("default", "foo", 80), Route: "httproute/default/foo/rule/0/match/0"}},
		{"wildcard listener spans labels", "route/8080", req("a.b.example.com"), expect{Cluster: svc("default", "wild", 80)}},
		{"wildcard needs a label", "route/8080", req("example.com"), expect{Status: 404}},
		{"hostname outside the listener is not served", "route/8080", req("other.org"), expect{Status: 404}},
		{"listener without hostname takes route hostnames", "route/9090", req("other.org"), expect{Cluster: svc("default", "bar", 80)}},
		{"host matching is case-insensitive", "route/9090", req("Other.ORG"), expect{Cluster: svc("default", "bar", 80)}},
		{"unlisted host on a listener without hostname", "route/9090", req("nothing.test"), expect{Status: 404}},
	})
}

func TestConformanceBackends(t *testing.T) {
	tables := routeTables(t, "backends.in.yaml", "front/gw")
	const rt = "route/80"
	req := func(path string) evaluate.Request { return evaluate.Request{Host: "any.test", Path: path} }
	runTable(t, tables, []row{
		{"weights, zero weight left out", rt, req("/split"), expect{Weighted: []evaluate.WeightedCluster{{Name: svc("front", "v1", 80), Weight: 1}, {Name: svc("front", "v2", 80), Weight: 3}}}},
		{"invalid backends keep their share as 500s", rt, req("/partial"), expect{Weighted: []evaluate.WeightedCluster{{Name: svc("front", "v1", 80), Weight: 1}, {Name: translate.InvalidBackendCluster, Weight: 3}}, NotFound: 500}},
		{"all backends invalid", rt, req("/broken"), expect{Status: 500}},
		{"all weights zero", rt, req("/zero"), expect{Status: 500}},
		{"cross-namespace backend with a grant", rt, req("/shared"), expect{Cluster: svc("backend", "shared", 80)}},
		{"cross-namespace backend without a grant", rt, req("/private"), expect{Status: 500}},
		{"unsupported backend kind", rt, req("/bucket"), expect{Status: 500}},
		{"no rule matches", rt, req("/nothing"), expect{Status: 404}},
	})
}

func TestConformanceFilters(t *testing.T) {
	tables := routeTables(t, "filters.in.yaml", "default/gw")
	web := svc("default", "web", 80)
	req := func(host, path string) evaluate.Request { return evaluate.Request{Host: host, Path: path} }
	runTable(t, tables, []row{
		{"scheme redirect drops the port", "route/8080", req("example.com:8080", "/secure/x?q=1"), expect{Status: 301, Location: "https://example.com/secure/x?q=1"}},
		{"redirect keeps the listener port", "route/8080", req("example.com:8080", "/moved/a/b"), expect{Status: 302, Location: "http://new.example.com:8080/new/a/b"}},
		{"redirect on port 80 has no port", "route/80", req("plain.example.com", "/moved"), expect{Status: 302, Location: "http://new.example.com/new"}},
		{"redirect with explicit port and full path", "route/8080", req("example.com", "/portless/x"), expect{Status: 308, Location: "http://example.com:8443/full"}},
		{"prefix rewrite", "route/8080", req("example.com", "/prefix/one/three"), expect{Cluster: web, Path: "/one/three"}},
		{"prefix rewrite of the whole prefix", "route/8080", req("example.com", "/prefix/one"), expect{Cluster: web, Path: "/one"}},
		{"prefix rewrite to / keeps one slash", "route/8080", req("example.com", "/strip/a?x=y"), expect{Cluster: web, Path: "/a?x=y"}},
		{"prefix rewrite to / of the bare prefix", "route/8080", req("example.com", "/strip"), expect{Cluster: web, Path: "/"}},
		{"full path and hostname rewrite", "route/8080", req("example.com", "/full/deep/path"), expect{Cluster: web, Path: "/replaced", Host: "internal.example.com"}},
	})

	rc := tables["route/8080"]
	d, err := evaluate.Evaluate(rc, evaluate.Request{Host: "example.com", Path: "/headers", Headers: map[string]string{"X-Remove": "1", "X-Add": "old", "X-Set": "old"}})
	if err != nil {
		t.Fatal(err)
	}
	wantReq := map[string]string{"x-set": "set", "x-add": "old,added"}
	if !reflect.DeepEqual(d.RequestHeaders, wantReq) {
		t.Errorf("request headers = %v, want %v", d.RequestHeaders, wantReq)
	}
	if !reflect.DeepEqual(d.ResponseHeadersToAdd, map[string]string{"x-response": "yes"}) || !reflect.DeepEqual(d.ResponseHeadersToRemove, []string{"server"}) {
		t.Errorf("response header mutations = %v, remove %v", d.ResponseHeadersToAdd, d.ResponseHeadersToRemove)
	}

	d, err = evaluate.Evaluate(rc, evaluate.Request{Host: "example.com", Path: "/mirror"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []evaluate.Mirror{{Cluster: svc("default", "shadow", 80), Percent: 25}}; !reflect.DeepEqual(d.Mirrors, want) {
		t.Errorf("mirrors = %v, want %v", d.Mirrors, want)
	}

	for path, want := range map[string]time.Duration{"/slow": 30 * time.Second, "/fast": 500 * time.Millisecond} {
		d, err = evaluate.Evaluate(rc, evaluate.Request{Host: "example.com", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if d.Timeout == nil || *d.Timeout != want {
			t.Errorf("%s: timeout = %v, want %v", path, d.Timeout, want)
		}
	}
}

func TestConformanceHTTPS(t *testing.T) {
	tables := routeTables(t, "https.in.yaml", "web/gw")
	runTable(t, tables, []row{
		{"http to https redirect", "route/80", evaluate.Request{Host: "shop.example.com", Path: "/cart"}, expect{Status: 302, Location: "https://shop.example.com/cart"}},
		{"plain http still serves other hosts", "route/80", evaluate.Request{Host: "www.example.com", Path: "/"}, expect{Cluster: svc("web", "site", 80)}},
		{"https listener route table", "route/443/https-shop", evaluate.Request{Scheme: "https", Host: "shop.example.com", Path: "/"}, expect{Cluster: svc("web", "shop", 80)}},
		{"wildcard https listener", "route/443/https-wild", evaluate.Request{Scheme: "https", Host: "www.example.com", Path: "/"}, expect{Cluster: svc("web", "site", 80)}},
	})
	if _, ok := tables["route/443/https-nogrant"]; ok {
		t.Error("listener without a permitted certificate got a route table")
	}
}

// TestConformanceSeed is the user's walk-through: each Gateway answers
// only its own hostname, from its own namespace's backend.
func TestConformanceSeed(t *testing.T) {
	a := routeTables(t, "seed.in.yaml", "team-a/gateway-a")
	b := routeTables(t, "seed.in.yaml", "team-b/gateway-b")
	runTable(t, b, []row{
		{"team-b example", "route/8081", evaluate.Request{Host: "www.team-b.com:8081", Path: "/example"}, expect{Cluster: svc("team-b", "team-b-backend", 3000)}},
		{"team-b below the prefix", "route/8081", evaluate.Request{Host: "www.team-b.com", Path: "/example/x?y=1"}, expect{Cluster: svc("team-b", "team-b-backend", 3000), Path: "/example/x?y=1"}},
		{"team-b other path", "route/8081", evaluate.Request{Host: "www.team-b.com", Path: "/examples"}, expect{Status: 404}},
		{"team-a host on gateway-b", "route/8081", evaluate.Request{Host: "www.team-a.com", Path: "/example"}, expect{Status: 404}},
	})
	runTable(t, a, []row{
		{"team-a example", "route/8080", evaluate.Request{Host: "www.team-a.com:8080", Path: "/example"}, expect{Cluster: svc("team-a", "team-a-backend", 3000)}},
		{"team-b host on gateway-a", "route/8080", evaluate.Request{Host: "www.team-b.com", Path: "/example"}, expect{Status: 404}},
	})
}

// TestConformanceConnections routes requests through whole snapshots:
// Envoy port (privileged ports shifted by 10000), TLS server name, filter
// chain, connection manager, route table.
func TestConformanceConnections(t *testing.T) {
	var web translate.Result
	for _, r := range translate.Translate(loadInput(t, "testdata/https.in.yaml"), translate.DefaultOptions()) {
		web = *r
	}
	for _, tc := range []struct {
		name    string
		conn    evaluate.Connection
		req     evaluate.Request
		want    expect
		wantErr string
		table   string
	}{
		{name: "plain http redirect", conn: evaluate.Connection{Port: 10080}, req: evaluate.Request{Host: "shop.example.com", Path: "/a"}, want: expect{Status: 302, Location: "https://shop.example.com/a"}, table: "route/80"},
		{name: "exact server name", conn: evaluate.Connection{Port: 10443, SNI: "shop.example.com"}, req: evaluate.Request{Host: "shop.example.com", Path: "/"}, want: expect{Cluster: svc("web", "shop", 80)}, table: "route/443/https-shop"},
		{name: "wildcard server name", conn: evaluate.Connection{Port: 10443, SNI: "www.example.com"}, req: evaluate.Request{Host: "www.example.com", Path: "/"}, want: expect{Cluster: svc("web", "site", 80)}, table: "route/443/https-wild"},
		{name: "listener without a permitted certificate is not served", conn: evaluate.Connection{Port: 10443, SNI: "nogrant.example.com"}, req: evaluate.Request{Host: "nogrant.example.com", Path: "/"}, want: expect{Status: 404}, table: "route/443/https-wild"},
		{name: "no server name, no default chain", conn: evaluate.Connection{Port: 10443}, req: evaluate.Request{Host: "shop.example.com", Path: "/"}, wantErr: "no filter chain"},
		{name: "listener with a missing certificate binds nothing", conn: evaluate.Connection{Port: 8443, SNI: "a.test"}, req: evaluate.Request{Host: "a.test", Path: "/"}, wantErr: "nothing listens"},
		{name: "privileged port is not bound as is", conn: evaluate.Connection{Port: 443, SNI: "shop.example.com"}, req: evaluate.Request{Host: "shop.example.com", Path: "/"}, wantErr: "nothing listens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := evaluate.Snapshot(web.Resources, tc.conn, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.want.Status || d.Cluster != tc.want.Cluster || d.Location != tc.want.Location || d.RouteConfiguration != tc.table {
				t.Errorf("got status %d cluster %q location %q table %q; want %d %q %q %q", d.Status, d.Cluster, d.Location, d.RouteConfiguration, tc.want.Status, tc.want.Cluster, tc.want.Location, tc.table)
			}
		})
	}
}

// TestConformanceGRPC states GRPCRoute behaviour as request → backend, the
// way the suite's GRPCExactMethodMatching, GRPCRouteHeaderMatching,
// GRPCRouteListenerHostnameMatching and GRPCRouteWeight tests do: a gRPC
// call is a POST to /service/method; a 404 from Envoy is gRPC's
// Unimplemented.
func TestConformanceGRPC(t *testing.T) {
	tables := routeTables(t, "grpcroute.in.yaml", "grpc/gw")
	const rt = "route/80"
	call := func(path string, headers map[string]string) evaluate.Request {
		h := map[string]string{"content-type": "application/grpc"}
		for k, v := range headers {
			h[k] = v
		}
		return evaluate.Request{Method: "POST", Host: "grpc.test", Path: path, Headers: h}
	}
	canary := map[string]string{"X-Canary": "yes", "x-tenant": "team-a"}
	runTable(t, tables, []row{
		{"exact service and method", rt, call("/echo.v1.Echo/Ping", nil), expect{Cluster: svc("grpc", "echo-v1", 9000), Route: "grpcroute/grpc/echo/rule/0/match/0"}},
		{"exact service and method beats the service match", rt, call("/echo.v1.Echo/Ping", canary), expect{Cluster: svc("grpc", "echo-v1", 9000)}},
		{"service match with headers, weighted", rt, call("/echo.v1.Echo/Other", canary), expect{
			Weighted: []evaluate.WeightedCluster{{Name: svc("grpc", "echo-v1", 9000), Weight: 90}, {Name: svc("grpc", "echo-v2", 9000), Weight: 10}},
			Route:    "grpcroute/grpc/echo/rule/1/match/0",
		}},
		{"service match needs every header", rt, call("/echo.v1.Echo/Other", map[string]string{"x-canary": "yes"}), expect{Status: 404}},
		{"header regex is a full match", rt, call("/echo.v1.Echo/Other", map[string]string{"x-canary": "yes", "x-tenant": "team-a1"}), expect{Status: 404}},
		{"service name is case-sensitive", rt, call("/Echo.v1.Echo/Ping", nil), expect{Status: 404}},
		{"service match beats a method-only match", rt, call("/echo.v1.Echo/Health", canary), expect{Route: "grpcroute/grpc/echo/rule/1/match/0"}},
		{"method-only match, any service", rt, call("/other.Svc/Health", nil), expect{Cluster: svc("grpc", "echo-v2", 9000), Route: "grpcroute/grpc/echo/rule/2/match/0"}},
		{"method-only match is exact", rt, call("/other.Svc/HealthCheck", nil), expect{Status: 404}},
		{"regex service and method", rt, call("/echo.v2.Echo/StreamAll", nil), expect{Cluster: svc("grpc", "echo-v2", 9000), Route: "grpcroute/grpc/echo/rule/2/match/1"}},
		{"regex does not match another service", rt, call("/echo.vX.Echo/StreamAll", nil), expect{Status: 404}},
		{"unknown method is Unimplemented", rt, call("/echo.v1.Echo2/Ping", nil), expect{Status: 404}},
		{"granted cross-namespace backend, ungranted share is a 500", rt, call("/shared.Svc/Get", nil), expect{
			Weighted: []evaluate.WeightedCluster{{Name: svc("backend", "shared", 9000), Weight: 1}, {Name: translate.InvalidBackendCluster, Weight: 1}},
			NotFound: 500,
		}},
		{"dropped rule is not programmed", rt, call("/ext.Svc/Get", nil), expect{Status: 404}},
		{"route without matches, on its hostname", "route/443/https", evaluate.Request{Method: "POST", Scheme: "https", Host: "api.grpc.example.com", Path: "/any.Svc/Any"}, expect{Cluster: svc("grpc", "both", 8000)}},
		{"route without matches, other hostname", "route/443/https", evaluate.Request{Method: "POST", Scheme: "https", Host: "x.grpc.example.com", Path: "/any.Svc/Any"}, expect{Status: 404}},
		{"listener admitting only HTTPRoutes does not serve the GRPCRoute", "route/8080", call("/any.Svc/Any", nil), expect{Status: 404}},
	})

	// Header modifiers of the rule reach the upstream request and response.
	d, err := evaluate.Evaluate(tables[rt], call("/echo.v1.Echo/Other", map[string]string{"x-canary": "yes", "x-tenant": "team-b", "x-debug": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.RequestHeaders["x-routed-by"]; got != "berth" {
		t.Errorf("x-routed-by = %q, want berth", got)
	}
	if _, ok := d.RequestHeaders["x-debug"]; ok {
		t.Errorf("x-debug was not removed: %v", d.RequestHeaders)
	}
	if got := d.ResponseHeadersToAdd["x-served-by"]; got != "canary" {
		t.Errorf("response x-served-by = %q, want canary", got)
	}
	// Streaming calls are not cut at Envoy's default 15 s.
	if d.Timeout == nil || *d.Timeout != 0 {
		t.Errorf("route timeout = %v, want 0 (disabled)", d.Timeout)
	}
}

// TestConformanceEdgeDefaults routes the requests issue 13 measured through
// a whole translated snapshot with berth's defaults: WebSocket upgrades
// reach the backend (other upgrades do not), "//example" is "/example",
// an escaped slash is redirected to the unescaped path, and a header name
// with an underscore is refused.
func TestConformanceEdgeDefaults(t *testing.T) {
	var gw translate.Result
	for _, r := range translate.Translate(loadInput(t, "testdata/seed.in.yaml"), translate.DefaultOptions()) {
		if r.Gateway.String() == "team-a/gateway-a" {
			gw = *r
		}
	}
	backend := svc("team-a", "team-a-backend", 3000)
	ws := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
	for _, tc := range []struct {
		name     string
		req      evaluate.Request
		status   int
		cluster  string
		path     string
		location string
		upgrade  string
	}{
		{name: "websocket upgrade", req: evaluate.Request{Path: "/example/chat", Headers: ws}, cluster: backend, path: "/example/chat", upgrade: "websocket"},
		{name: "other upgrades refused", req: evaluate.Request{Path: "/example", Headers: map[string]string{"Connection": "Upgrade", "Upgrade": "spdy/3.1"}}, status: 403},
		{name: "repeated slashes merged", req: evaluate.Request{Path: "//example//a"}, cluster: backend, path: "/example/a"},
		{name: "escaped slash redirected", req: evaluate.Request{Path: "/example%2Fa"}, status: 307, location: "/example/a"},
		{name: "underscore header refused", req: evaluate.Request{Path: "/example", Headers: map[string]string{"x_trace_id": "1"}}, status: 400},
		{name: "dashed header forwarded", req: evaluate.Request{Path: "/example", Headers: map[string]string{"x-trace-id": "1"}}, cluster: backend, path: "/example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Host = "www.team-a.com"
			d, err := evaluate.Snapshot(gw.Resources, evaluate.Connection{Port: 8080}, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.status || d.Cluster != tc.cluster || d.Location != tc.location || d.Upgrade != tc.upgrade || (tc.path != "" && d.Path != tc.path) {
				t.Errorf("got status %d cluster %q path %q location %q upgrade %q; want %d %q %q %q %q",
					d.Status, d.Cluster, d.Path, d.Location, d.Upgrade, tc.status, tc.cluster, tc.path, tc.location, tc.upgrade)
			}
		})
	}
}

// TestConformanceClientTrafficPolicy routes requests through the snapshot
// of testdata/clienttrafficfields.in.yaml, where ClientTrafficPolicy fields
// decide them: the HTTPS listener "secure" takes the client address from
// X-Real-IP and fails closed (403 without one), while plain HTTP, whose
// policy trusts X-Forwarded-For CIDRs instead, does not; the header size
// limit (90000 bytes, 88 KiB) answers 431 above it; underscore headers are
// still refused (the policies leave berth's default). A routed request gets
// 500 from its route: the input has no backend Service, which keeps the
// route and the decision apart from Envoy's own answers.
func TestConformanceClientTrafficPolicy(t *testing.T) {
	var gw translate.Result
	for _, r := range translate.Translate(loadInput(t, "testdata/clienttrafficfields.in.yaml"), translate.DefaultOptions()) {
		if r.Gateway.String() == "fields/edge" {
			gw = *r
		}
	}
	big := func(n int) map[string]string { return map[string]string{"x-big": strings.Repeat("b", n)} }
	for _, tc := range []struct {
		name   string
		conn   evaluate.Connection
		host   string
		req    evaluate.Request
		status int
		route  bool
	}{
		{"https without client address header", evaluate.Connection{Port: 10443, SNI: "secure.example.com"}, "secure.example.com", evaluate.Request{Scheme: "https", Path: "/"}, 403, false},
		{"https with client address header", evaluate.Connection{Port: 10443, SNI: "secure.example.com"}, "secure.example.com", evaluate.Request{Scheme: "https", Path: "/", Headers: map[string]string{"X-Real-IP": "198.51.100.4"}}, 500, true},
		{"http needs no client address header", evaluate.Connection{Port: 10080}, "www.example.com", evaluate.Request{Path: "/"}, 500, true},
		{"headers below the policy's limit", evaluate.Connection{Port: 10080}, "www.example.com", evaluate.Request{Path: "/", Headers: big(80 << 10)}, 500, true},
		{"headers above the policy's limit", evaluate.Connection{Port: 10080}, "www.example.com", evaluate.Request{Path: "/", Headers: big(89 << 10)}, 431, false},
		{"underscore header still refused", evaluate.Connection{Port: 10080}, "www.example.com", evaluate.Request{Path: "/", Headers: map[string]string{"x_id": "1"}}, 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Host = tc.host
			d, err := evaluate.Snapshot(gw.Resources, tc.conn, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.status || (d.Route != "") != tc.route {
				t.Errorf("got status %d route %q; want status %d, routed %v", d.Status, d.Route, tc.status, tc.route)
			}
		})
	}
}
