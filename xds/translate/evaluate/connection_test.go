package evaluate

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	customheaderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/custom_header/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// snapshotWith is one listener on 8080 whose connection manager is base
// changed by edit, routing everything under /a to cluster "a" and the rest
// to "root".
func snapshotWith(t *testing.T, edit func(*hcmv3.HttpConnectionManager)) map[string][]types.Resource {
	t.Helper()
	m := &hcmv3.HttpConnectionManager{
		StatPrefix:     "x",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "rc"}},
		StripPortMode:  &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true},
		NormalizePath:  wrapperspb.Bool(true),
	}
	if edit != nil {
		edit(m)
	}
	hcm, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	route := func(name, prefix string) *routev3.Route {
		return &routev3.Route{
			Name:   name,
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: prefix}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name}}},
		}
	}
	rc := &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: []*routev3.Route{
		route("a", "/a"),
		{Name: "root", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "root"}}}},
	}}}}
	l := &listenerv3.Listener{
		Name:         "l",
		Address:      &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{Name: "hcm", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm}}}}},
	}
	return map[string][]types.Resource{resourcev3.ListenerType: {l}, resourcev3.RouteType: {rc}}
}

// TestConnectionManager decides underscore headers, escaped and repeated
// slashes, dot segments and upgrades as Envoy's connection manager does.
func TestConnectionManager(t *testing.T) {
	underscores := func(a corev3.HttpProtocolOptions_HeadersWithUnderscoresAction) func(*hcmv3.HttpConnectionManager) {
		return func(m *hcmv3.HttpConnectionManager) {
			m.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{HeadersWithUnderscoresAction: a}
		}
	}
	slashes := func(a hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction, merge bool) func(*hcmv3.HttpConnectionManager) {
		return func(m *hcmv3.HttpConnectionManager) { m.PathWithEscapedSlashesAction, m.MergeSlashes = a, merge }
	}
	websocket := func(m *hcmv3.HttpConnectionManager) {
		m.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket"}}
	}
	upgrade := func(kind string) map[string]string {
		return map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": kind}
	}
	headerLimit := func(kb uint32) func(*hcmv3.HttpConnectionManager) {
		return func(m *hcmv3.HttpConnectionManager) { m.MaxRequestHeadersKb = wrapperspb.UInt32(kb) }
	}
	clientIPHeader := func(m *hcmv3.HttpConnectionManager) {
		cfg, err := anypb.New(&customheaderv3.CustomHeaderConfig{HeaderName: "X-Real-IP", RejectWithStatus: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}})
		if err != nil {
			panic(err)
		}
		m.OriginalIpDetectionExtensions = []*corev3.TypedExtensionConfig{{Name: "custom_header", TypedConfig: cfg}}
	}
	// big is a header value that, with the request's other bytes, passes
	// 1 KiB but not 60 KiB.
	big := map[string]string{"x-big": strings.Repeat("b", 1000)}
	for _, c := range []struct {
		name    string
		edit    func(*hcmv3.HttpConnectionManager)
		req     Request
		status  int
		cluster string
		path    string // sent upstream
		extra   string // a header that must (not) reach the route table
		kept    bool
		loc     string
		upgrade string
	}{
		{name: "underscore header allowed by default", req: Request{Path: "/a", Headers: map[string]string{"x_trace_id": "1"}}, cluster: "a", extra: "x_trace_id", kept: true},
		{name: "underscore header rejected", edit: underscores(corev3.HttpProtocolOptions_REJECT_REQUEST), req: Request{Path: "/a", Headers: map[string]string{"X_Trace_Id": "1"}}, status: 400},
		{name: "dashes are not underscores", edit: underscores(corev3.HttpProtocolOptions_REJECT_REQUEST), req: Request{Path: "/a", Headers: map[string]string{"x-trace-id": "1"}}, cluster: "a", extra: "x-trace-id", kept: true},
		{name: "underscore header dropped", edit: underscores(corev3.HttpProtocolOptions_DROP_HEADER), req: Request{Path: "/a", Headers: map[string]string{"x_trace_id": "1"}}, cluster: "a", extra: "x_trace_id", kept: false},

		{name: "repeated slashes kept by default", req: Request{Path: "//a"}, cluster: "root", path: "//a"},
		{name: "repeated slashes merged", edit: slashes(hcmv3.HttpConnectionManager_KEEP_UNCHANGED, true), req: Request{Path: "//a//b?x=//y"}, cluster: "a", path: "/a/b?x=//y"},
		{name: "dot segments removed", req: Request{Path: "/x/../a/./b"}, cluster: "a", path: "/a/b"},
		{name: "dot segments do not climb above the root", req: Request{Path: "/../../a"}, cluster: "a", path: "/a"},
		{name: "escaped slash kept", edit: slashes(hcmv3.HttpConnectionManager_KEEP_UNCHANGED, true), req: Request{Path: "/a%2Fb"}, cluster: "root", path: "/a%2Fb"},
		{name: "escaped slash rejected", edit: slashes(hcmv3.HttpConnectionManager_REJECT_REQUEST, true), req: Request{Path: "/a%2fb"}, status: 400},
		{name: "escaped slash redirected after merging", edit: slashes(hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT, true), req: Request{Path: "/a%2F%2Fb?q=1"}, status: 307, loc: "/a/b?q=1"},
		{name: "redirect refused for gRPC", edit: slashes(hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT, true), req: Request{Path: "/a%2Fb", Headers: map[string]string{"content-type": "application/grpc"}}, status: 400},
		{name: "no escaped slash, no redirect", edit: slashes(hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT, true), req: Request{Path: "/a//b"}, cluster: "a", path: "/a/b"},
		{name: "escaped slash forwarded unescaped", edit: slashes(hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD, false), req: Request{Path: "/x%2F..%2Fa"}, cluster: "a", path: "/a"},

		{name: "large headers within Envoy's default 60 KiB", req: Request{Path: "/a", Headers: big}, cluster: "a", path: "/a"},
		{name: "headers above max_request_headers_kb", edit: headerLimit(1), req: Request{Path: "/a", Headers: big}, status: 431},
		{name: "headers within max_request_headers_kb", edit: headerLimit(2), req: Request{Path: "/a", Headers: big}, cluster: "a", path: "/a"},

		{name: "client address header missing: fail closed", edit: clientIPHeader, req: Request{Path: "/a"}, status: 403},
		{name: "client address header not an address: fail closed", edit: clientIPHeader, req: Request{Path: "/a", Headers: map[string]string{"x-real-ip": "somebody"}}, status: 403},
		{name: "client address header with an address", edit: clientIPHeader, req: Request{Path: "/a", Headers: map[string]string{"X-Real-IP": "203.0.113.7"}}, cluster: "a", path: "/a"},

		{name: "upgrade refused without upgrade configs", req: Request{Path: "/a", Headers: upgrade("websocket")}, status: 403},
		{name: "refused upgrade answers before routing", req: Request{Path: "/nothing", Headers: upgrade("websocket")}, status: 403},
		{name: "websocket upgrade allowed", edit: websocket, req: Request{Path: "/a", Headers: upgrade("WebSocket")}, cluster: "a", path: "/a", upgrade: "WebSocket"},
		{name: "other upgrade refused", edit: websocket, req: Request{Path: "/a", Headers: upgrade("h2c")}, status: 403},
		{name: "Upgrade header without Connection: upgrade is no upgrade", req: Request{Path: "/a", Headers: map[string]string{"Upgrade": "websocket"}}, cluster: "a", path: "/a"},
		{name: "disabled upgrade refused", edit: func(m *hcmv3.HttpConnectionManager) {
			m.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket", Enabled: wrapperspb.Bool(false)}}
		}, req: Request{Path: "/a", Headers: upgrade("websocket")}, status: 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.req.Host = "h.test"
			d, err := Snapshot(snapshotWith(t, c.edit), Connection{Port: 8080}, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if c.status != 0 {
				if d.Status != c.status || d.Location != c.loc || d.Route != "" {
					t.Fatalf("got status %d location %q route %q, want %d %q and no route", d.Status, d.Location, d.Route, c.status, c.loc)
				}
				return
			}
			if d.Cluster != c.cluster || d.Upgrade != c.upgrade {
				t.Fatalf("got cluster %q upgrade %q (status %d), want %q %q", d.Cluster, d.Upgrade, d.Status, c.cluster, c.upgrade)
			}
			if c.path != "" && d.Path != c.path {
				t.Errorf("upstream path %q, want %q", d.Path, c.path)
			}
			if c.extra != "" {
				if _, ok := d.RequestHeaders[c.extra]; ok != c.kept {
					t.Errorf("header %q upstream: %v, want %v", c.extra, ok, c.kept)
				}
			}
		})
	}
}

// TestConnectionManagerUnmodelled refuses paths whose canonical form is not
// modelled rather than guessing.
func TestConnectionManagerUnmodelled(t *testing.T) {
	res := snapshotWith(t, func(m *hcmv3.HttpConnectionManager) {
		m.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD
	})
	for _, p := range []string{"/a%41", `/a\b`, "/a%5Cb"} {
		if _, err := Snapshot(res, Connection{Port: 8080}, Request{Host: "h", Path: p}); err == nil {
			t.Errorf("path %q: no error", p)
		}
	}
}
