package translate

import (
	"errors"
	"sort"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	xffv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/xff/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// validResources is a small valid snapshot built by the translator.
func validResources(t *testing.T) map[string][]types.Resource {
	t.Helper()
	in := Input{
		GatewayClasses: []*gwv1.GatewayClass{{}},
	}
	in.GatewayClasses[0].Name = "eg"
	in.GatewayClasses[0].Spec.ControllerName = DefaultOptions().ControllerName
	gw := &gwv1.Gateway{}
	gw.Name, gw.Namespace = "gw", "ns"
	gw.Spec.GatewayClassName = "eg"
	gw.Spec.Listeners = []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}}
	in.Gateways = []*gwv1.Gateway{gw}
	r := &gwv1.HTTPRoute{}
	r.Name, r.Namespace = "r", "ns"
	r.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw"}}
	r.Spec.Rules = []gwv1.HTTPRouteRule{{}}
	in.HTTPRoutes = []*gwv1.HTTPRoute{r}
	res := Translate(in, DefaultOptions())[0].Resources
	if err := Validate(res); err != nil {
		t.Fatalf("baseline does not validate: %v", err)
	}
	return res
}

func routeConfig(res map[string][]types.Resource) *routev3.RouteConfiguration {
	return res[resourcev3.RouteType][0].(*routev3.RouteConfiguration)
}

// TestValidateCatches breaks a valid snapshot in the ways Envoy would
// reject and checks that Validate says so.
func TestValidateCatches(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(map[string][]types.Resource)
		want   string
	}{
		{"duplicate route configuration", func(res map[string][]types.Resource) {
			res[resourcev3.RouteType] = append(res[resourcev3.RouteType], proto.Clone(routeConfig(res)))
		}, "duplicate name"},
		{"route to a missing cluster", func(res map[string][]types.Resource) {
			routeConfig(res).VirtualHosts[0].Routes[0].Action = &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "nope"}}}
		}, `cluster "nope", which does not exist`},
		{"invalid backend cluster without the 500", func(res map[string][]types.Resource) {
			routeConfig(res).VirtualHosts[0].Routes[0].Action = &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: InvalidBackendCluster}}}
		}, "does not exist"},
		{"duplicate domain", func(res map[string][]types.Resource) {
			rc := routeConfig(res)
			vh := proto.Clone(rc.VirtualHosts[0]).(*routev3.VirtualHost)
			vh.Name = "other"
			rc.VirtualHosts = append(rc.VirtualHosts, vh)
		}, "is already in"},
		{"bad regex", func(res map[string][]types.Resource) {
			routeConfig(res).VirtualHosts[0].Routes[0].Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(x"}}}
		}, "invalid regular expression"},
		{"missing route configuration", func(res map[string][]types.Resource) {
			res[resourcev3.RouteType] = nil
		}, "route configuration \"route/8080\" does not exist"},
		{"invalid field inside an Any", func(res map[string][]types.Resource) {
			l := res[resourcev3.ListenerType][0].(*listenerv3.Listener)
			hcm := &hcmv3.HttpConnectionManager{}
			if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
				panic(err)
			}
			hcm.StatPrefix = "" // required (min_len 1)
			l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)}
		}, "StatPrefix"},
		{"original IP detection mixed with use_remote_address", func(res map[string][]types.Resource) {
			l := res[resourcev3.ListenerType][0].(*listenerv3.Listener)
			hcm := &hcmv3.HttpConnectionManager{}
			if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
				panic(err)
			}
			hcm.UseRemoteAddress = wrapperspb.Bool(true)
			hcm.OriginalIpDetectionExtensions = []*corev3.TypedExtensionConfig{{Name: xffDetectionName, TypedConfig: mustAny(&xffv3.XffConfig{XffNumTrustedHops: 1})}}
			l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)}
		}, "original IP detection extensions and use_remote_address may not be mixed"},
		{"TLS minimum above maximum", func(res map[string][]types.Resource) {
			l := res[resourcev3.ListenerType][0].(*listenerv3.Listener)
			l.FilterChains[0].TransportSocket = &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{
				TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
					TlsParams: &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_3, TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_2},
				}}),
			}}
		}, "TLS minimum version TLSv1_3 above maximum TLSv1_2"},
		{"eds cluster without endpoints", func(res map[string][]types.Resource) {
			res[resourcev3.ClusterType] = append(res[resourcev3.ClusterType], &clusterv3.Cluster{Name: "lonely", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}})
		}, `endpoints "lonely" do not exist`},
		{"listener secret missing", func(res map[string][]types.Resource) {
			l := res[resourcev3.ListenerType][0].(*listenerv3.Listener)
			l.FilterChains[0].TransportSocket = &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{
				TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
					TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: "secret/ns/gone", SdsConfig: adsConfigSource()}},
				}}),
			}}
		}, `listener "listener/8080": secret "secret/ns/gone" does not exist`},
		{"cluster validation secret missing", func(res map[string][]types.Resource) {
			res[resourcev3.ClusterType] = append(res[resourcev3.ClusterType], &clusterv3.Cluster{
				Name: "upstream-tls", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
				TransportSocket: &corev3.TransportSocket{Name: tlsTransportSocketName, ConfigType: &corev3.TransportSocket_TypedConfig{
					TypedConfig: mustAny(&tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
						ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
							ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "ca/ns/gone", SdsConfig: adsConfigSource()},
						},
					}}),
				}},
			})
		}, `cluster "upstream-tls": secret "ca/ns/gone" does not exist`},
		// What a strict decode of each resource's JSON form, compared with
		// the resource, used to catch: it is now caught without the round
		// trip (validateOne).
		{"unknown field in a resource", func(res map[string][]types.Resource) {
			rc := routeConfig(res)
			rc.VirtualHosts[0].Routes[0].ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 9999, protowire.VarintType), 1))
		}, "unknown fields in envoy.config.route.v3.Route"},
		{"unknown field inside an Any", func(res map[string][]types.Resource) {
			a := res[resourcev3.ListenerType][0].(*listenerv3.Listener).FilterChains[0].Filters[0].GetTypedConfig()
			a.Value = protowire.AppendVarint(protowire.AppendTag(a.Value, 9999, protowire.VarintType), 1)
		}, "typed_config(envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager): unknown fields"},
		{"invalid UTF-8", func(res map[string][]types.Resource) {
			routeConfig(res).VirtualHosts[0].Routes[0].Name = "bad\xff"
		}, "encode: "},
		{"Any of a type not linked in", func(res map[string][]types.Resource) {
			l := res[resourcev3.ListenerType][0].(*listenerv3.Listener)
			l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: "type.googleapis.com/not.linked"}}
		}, "not.linked"},
		{"bad regex inside an Any", func(res map[string][]types.Resource) {
			l := res[resourcev3.ListenerType][0].(*listenerv3.Listener)
			hcm := &hcmv3.HttpConnectionManager{}
			if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
				panic(err)
			}
			hcm.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{Name: "inline", VirtualHosts: []*routev3.VirtualHost{{
				Name: "vh", Domains: []string{"*"}, Routes: []*routev3.Route{{
					Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "[z-a]"}}},
					Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 404}},
				}},
			}}}}
			l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(hcm)}
		}, "route_config.virtual_hosts[0].routes[0].match.safe_regex: invalid regular expression"},
		{"resource under the wrong type", func(res map[string][]types.Resource) {
			res[resourcev3.ClusterType] = append(res[resourcev3.ClusterType], routeConfig(res))
		}, "listed under"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := validResources(t)
			tc.mutate(res)
			err := Validate(res)
			if err == nil || !errors.Is(err, ErrInvalidResources) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an ErrInvalidResources mentioning %q", err, tc.want)
			}
			// MarshalValid refuses alike, with Validate's words (YAML
			// checks without encoding and writes straight from the
			// messages; a failure to write is reported as Validate
			// reports it). The errors of a resource set come in map
			// order: compared as sets of lines.
			r := &Result{Gateway: k8stypes.NamespacedName{Namespace: "ns", Name: "gw"}, Resources: res}
			want := errorLines("gateway ns/gw: " + err.Error())
			for _, f := range []Format{FormatYAML, FormatJSON} {
				out, merr := MarshalValid([]*Result{r}, f)
				if merr == nil || out != nil || !errors.Is(merr, ErrInvalidResources) || errorLines(merr.Error()) != want {
					t.Errorf("MarshalValid %s = %v, want %q", f, merr, want)
				}
			}
		})
	}
}

// errorLines is an error message's lines, sorted.
func errorLines(s string) string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestIntersectHostnames(t *testing.T) {
	for _, tc := range []struct {
		listener string
		route    []gwv1.Hostname
		want     string
	}{
		{"", nil, "*"},
		{"a.example.com", nil, "a.example.com"},
		{"", []gwv1.Hostname{"b.test", "A.test"}, "a.test,b.test"},
		{"*.example.com", []gwv1.Hostname{"x.example.com", "example.com", "*.y.example.com", "*.com", "other.org"}, "*.example.com,*.y.example.com,x.example.com"},
		{"x.example.com", []gwv1.Hostname{"*.example.com", "y.example.com"}, "x.example.com"},
		{"x.example.com", []gwv1.Hostname{"*.x.example.com"}, ""},
		{"", []gwv1.Hostname{"bad_host", "-x.test", "1.2.3.4.test"}, "1.2.3.4.test"},
	} {
		got := strings.Join(intersectHostnames(tc.listener, tc.route), ",")
		if got != tc.want {
			t.Errorf("intersect(%q, %v) = %q, want %q", tc.listener, tc.route, got, tc.want)
		}
	}
}

func TestValidPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/a/b.c-d_e~f": true, "/%2F": true, "/a:b@c!$&'()*+,;=": true,
		"": false, "a": false, "/a b": false, "/a?b": false, "/a#b": false, "//a": false, "/%2": false, "/%zz": false, "/\x00": false,
	} {
		if got := validPath(p); got != want {
			t.Errorf("validPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// ValidateChange skips the single-resource checks of unchanged types only:
// the checks across resources still run.
func TestValidateChangeSkipsOnlyUnchangedTypes(t *testing.T) {
	res := validResources(t)
	routeConfig(res).VirtualHosts[0].Routes[0].Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(x"}}}
	if err := ValidateChange(res, map[string]bool{resourcev3.ClusterType: true}); err == nil || !strings.Contains(err.Error(), "invalid regular expression") {
		t.Errorf("changed route table: ValidateChange = %v, want the regex error", err)
	}
	if err := ValidateChange(res, map[string]bool{resourcev3.RouteType: true}); err != nil {
		t.Errorf("route table marked unchanged: ValidateChange = %v, want its resources not checked again", err)
	}
	res[resourcev3.RouteType] = nil
	if err := ValidateChange(res, map[string]bool{resourcev3.RouteType: true, resourcev3.ListenerType: true}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing route table: ValidateChange = %v, want the cross-resource error", err)
	}
}
