package evaluate

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

func vh(name string, domains ...string) *routev3.VirtualHost {
	return &routev3.VirtualHost{Name: name, Domains: domains, Routes: []*routev3.Route{{
		Name:   name,
		Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name}}},
	}}}
}

// TestVirtualHostSelection checks Envoy's domain search order: exact, then
// the longest suffix wildcard, then the longest prefix wildcard, then "*".
func TestVirtualHostSelection(t *testing.T) {
	rc := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{
		vh("default", "*"),
		vh("suffix-short", "*.com"),
		vh("suffix-long", "*.example.com"),
		vh("prefix-short", "api.*"),
		vh("prefix-long", "api.example.*"),
		vh("exact", "www.example.com", "alias.test"),
	}}
	for host, want := range map[string]string{
		"www.example.com":   "exact",
		"alias.test:8080":   "exact",
		"WWW.Example.COM":   "exact",
		"api.example.com":   "suffix-long",
		"foo.com":           "suffix-short",
		"api.example.org":   "prefix-long",
		"api.other.org":     "prefix-short",
		"unrelated.net":     "default",
		".example.com":      "suffix-short", // "*" must match at least one character
		"[2001:db8::1]:443": "default",
	} {
		d, err := Evaluate(rc, Request{Host: host, Path: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if d.VirtualHost != want {
			t.Errorf("host %q: virtual host %q, want %q", host, d.VirtualHost, want)
		}
	}
	d, err := Evaluate(&routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{vh("only", "a.test")}}, Request{Host: "b.test", Path: "/"})
	if err != nil || d.Status != 404 || d.VirtualHost != "" {
		t.Errorf("no virtual host: got %+v, %v; want 404", d, err)
	}
}

// TestFirstMatchWins checks that routes are tried in order and that the
// matchers behave as Envoy's.
func TestFirstMatchWins(t *testing.T) {
	route := func(name string, m *routev3.RouteMatch) *routev3.Route {
		return &routev3.Route{Name: name, Match: m, Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name}}}}
	}
	exact := func(s string) *matcherv3.StringMatcher {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
	}
	rc := &routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{{Name: "v", Domains: []string{"*"}, Routes: []*routev3.Route{
		route("absent-header", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: []*routev3.HeaderMatcher{{Name: "x-skip", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}, InvertMatch: true}, {Name: "x-go", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}}),
		route("exact", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/a"}}),
		route("separated", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/a"}}),
		route("method", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: []*routev3.HeaderMatcher{{Name: ":method", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact("PUT")}}}}),
		route("query", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, QueryParameters: []*routev3.QueryParameterMatcher{{Name: "q", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: exact("1")}}}}),
		route("raw-prefix", &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/ab"}}),
	}}}}
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{Path: "/a", Headers: map[string]string{"X-Go": "1"}}, "absent-header"},
		{Request{Path: "/a", Headers: map[string]string{"X-Go": "1", "x-skip": ""}}, "exact"},
		{Request{Path: "/a?q=1"}, "exact"},
		{Request{Path: "/a/b"}, "separated"},
		{Request{Path: "/abc", Method: "PUT"}, "method"},
		{Request{Path: "/abc?q=1"}, "query"},
		{Request{Path: "/abc?q=2"}, "raw-prefix"},
		{Request{Path: "/zzz"}, ""},
	} {
		d, err := Evaluate(rc, c.req)
		if err != nil {
			t.Fatal(err)
		}
		if d.Route != c.want {
			t.Errorf("%+v: route %q, want %q", c.req, d.Route, c.want)
		}
	}
}

// TestSnapshotMissingCluster checks that a route to a cluster the snapshot
// lacks answers Envoy's cluster_not_found_response_code (503 by default).
func TestSnapshotMissingCluster(t *testing.T) {
	rc := &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{vh("gone", "*")}}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix:     "x",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "rc"}},
		StripPortMode:  &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	l := &listenerv3.Listener{
		Name:         "l",
		Address:      &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{Name: "hcm", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm}}}}},
	}
	res := map[string][]types.Resource{resourcev3.ListenerType: {l}, resourcev3.RouteType: {rc}}
	d, err := Snapshot(res, Connection{Port: 8080}, Request{Host: "a.test", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != 503 || d.Cluster != "gone" || d.Listener != "l" || d.RouteConfiguration != "rc" {
		t.Errorf("got %+v, want 503 for missing cluster gone via l/rc", d)
	}
	res[resourcev3.ClusterType] = []types.Resource{&clusterv3.Cluster{Name: "gone"}}
	if d, _ := Snapshot(res, Connection{Port: 8080}, Request{Host: "a.test", Path: "/"}); d.Status != 0 {
		t.Errorf("existing cluster: status %d, want 0 (forwarded)", d.Status)
	}
}
