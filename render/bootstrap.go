package render

import (
	"fmt"
	"strings"
	"sync"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	overloadv3 "github.com/envoyproxy/go-control-plane/envoy/config/overload/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	credentialv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/credential_injector/v3"
	healthcheckv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	genericv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/injected_credentials/generic/v3"
	downstreamconnectionsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/downstream_connections/v3"
	fixedheapv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/resource_monitors/fixed_heap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"k8s.io/utils/lru"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/internal/envoyvalidate"
)

// The files Envoy reads from ConfigDir. The token and the CA each come
// through their own file-based SDS resource (Envoy accepts exactly one
// secret per SDS file): Envoy watches both the SDS files' directory and the
// files the secrets name, so a rotated token or CA is used without a
// restart.
const (
	// ConfigKeySDSToken and ConfigKeySDSCA are the ConfigMap keys of the
	// SDS files for the xDS token and the xDS CA.
	ConfigKeySDSToken = "xds-token-sds.yaml"
	ConfigKeySDSCA    = "xds-ca-sds.yaml"
)

// Bootstrap returns Envoy's bootstrap for Gateway ns/gw: delta ADS to the
// xDS server over TLS (server verified against the CA and its DNS name), the
// projected token injected as "authorization: Bearer <token>" by the
// credential_injector upstream filter, admin on 127.0.0.1 only, a ready
// listener for the readiness probe, and an overload manager (see
// overloadManager; memoryLimit is the envoy container's memory limit in
// bytes, 0 for none). The node id comes from the command line (the pod
// name); the node cluster is dataplane.NodeCluster(ns, gw).
// With prometheus the bootstrap also has the stats listener
// (telemetry.go).
func Bootstrap(namespace, gateway string, memoryLimit int64, prometheus bool, o Options) *bootstrapv3.Bootstrap {
	return bootstrapParamsOf(namespace, gateway, memoryLimit, prometheus, o).bootstrap()
}

// The overload manager's settings, after Envoy's "Configuring Envoy as an
// edge proxy" (docs/dataplane.md).
const (
	// HeapLimitPercent of the envoy container's memory limit is Envoy's
	// heap limit: the rest is left to what the heap does not count (the
	// binary, thread stacks, allocator overhead), so Envoy sheds load
	// before the kernel kills it.
	HeapLimitPercent = 80
	// MaxDownstreamConnections is the global limit of client connections
	// over all listeners (the edge example's 50,000; Envoy has none and
	// warns at start-up).
	MaxDownstreamConnections = 50000
	// shrinkHeapAt and stopAcceptingRequestsAt are heap pressures (used
	// over limit) at which Envoy returns free memory to the system and then
	// answers new requests with 503.
	shrinkHeapAt            = 0.95
	stopAcceptingRequestsAt = 0.98
)

// Resource monitor and overload action names.
const (
	fixedHeapMonitor             = "envoy.resource_monitors.fixed_heap"
	downstreamConnectionsMonitor = "envoy.resource_monitors.global_downstream_max_connections"
)

// bootstrapParams is everything a bootstrap depends on (and the key of
// bootstrapCache, so that nothing it depends on can be left out of the
// key).
type bootstrapParams struct {
	gatewayNamespace, gatewayName string
	nodeCluster                   string
	xdsHost                       string
	xdsPort                       int32
	xdsServerName                 string
	// maxHeapBytes is Envoy's heap limit (0: no heap monitor).
	maxHeapBytes uint64
	// prometheus adds the stats listener.
	prometheus bool
}

func bootstrapParamsOf(namespace, gateway string, memoryLimit int64, prometheus bool, o Options) bootstrapParams {
	o = o.withDefaults()
	p := bootstrapParams{
		gatewayNamespace: namespace,
		gatewayName:      gateway,
		prometheus:       prometheus,
		nodeCluster:      dataplane.NodeCluster(namespace, gateway),
		xdsHost:          o.XDSHost,
		xdsPort:          o.XDSPort,
		xdsServerName:    o.XDSServerName,
	}
	if memoryLimit > 0 {
		p.maxHeapBytes = uint64(memoryLimit) * HeapLimitPercent / 100
	}
	return p
}

// bootstrapCache holds encoded bootstraps by their parameters, with the
// parameters that differ per Gateway (its namespace and name, in the node
// cluster and the stats tags) left as placeholders: an entry serves every
// Gateway of the same options and memory limit, so the cache does not grow
// with the fleet. Encoding and validating a bootstrap costs several times
// rendering the rest of a bundle, and the controller renders the same
// Gateway again on every reconcile. A value is a pure function of its key,
// so the cache changes no output; it only holds bootstraps that validated.
var bootstrapCache = lru.New(64)

// The placeholders of a cached bootstrap: YAML plain scalars, as every
// namespace and name substituted for them, and found nowhere else in a
// bootstrap.
const (
	namespacePlaceholder = "berth-namespace-placeholder"
	gatewayPlaceholder   = "berth-gateway-placeholder"
)

// encodedBootstrap is the bootstrap file of p (marshalEnvoy): the cached
// encoding of p's options with p's namespace and name put in, when they and
// the node cluster encode as plain YAML scalars (Kubernetes names almost
// always do), so the text is the one marshalEnvoy gives; a full encoding
// otherwise.
func encodedBootstrap(p bootstrapParams) (string, error) {
	if !plainScalar(p.gatewayNamespace) || !plainScalar(p.gatewayName) || !plainScalar(p.nodeCluster) ||
		p.nodeCluster != dataplane.NodeCluster(p.gatewayNamespace, p.gatewayName) {
		return marshalEnvoy(p.bootstrap())
	}
	key := p
	key.gatewayNamespace, key.gatewayName = namespacePlaceholder, gatewayPlaceholder
	key.nodeCluster = dataplane.NodeCluster(namespacePlaceholder, gatewayPlaceholder)
	v, ok := bootstrapCache.Get(key)
	if !ok {
		s, err := marshalEnvoy(key.bootstrap())
		if err != nil {
			return "", err
		}
		bootstrapCache.Add(key, s)
		v = s
	}
	return strings.NewReplacer(namespacePlaceholder, p.gatewayNamespace, gatewayPlaceholder, p.gatewayName).Replace(v.(string)), nil
}

// plainScalar reports whether YAML writes s unquoted. Names made of
// lowercase letters, digits and dashes, starting with a letter and not a
// word YAML reads as a boolean or null, are answered without encoding (it
// runs three times per render).
func plainScalar(s string) bool {
	if plainName(s) {
		return true
	}
	y, err := yaml.Marshal(map[string]string{"k": s})
	return err == nil && string(y) == "k: "+s+"\n"
}

// yamlWords are the words YAML 1.1 reads as booleans or null.
var yamlWords = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true, "null": true}

// plainName reports whether s is a name YAML surely writes unquoted.
func plainName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || len(s) > 63 || yamlWords[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (p bootstrapParams) bootstrap() *bootstrapv3.Bootstrap {
	bs := &bootstrapv3.Bootstrap{
		Node: &corev3.Node{Cluster: p.nodeCluster},
		Admin: &bootstrapv3.Admin{
			Address: socketAddress("127.0.0.1", dataplane.AdminPort),
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			AdsConfig: &corev3.ApiConfigSource{
				ApiType:                   corev3.ApiConfigSource_DELTA_GRPC,
				TransportApiVersion:       corev3.ApiVersion_V3,
				SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*corev3.GrpcService{{
					TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: XDSClusterName}},
				}},
			},
			CdsConfig: adsSource(),
			LdsConfig: adsSource(),
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{
			Listeners: []*listenerv3.Listener{readyListener()},
			Clusters:  []*clusterv3.Cluster{p.xdsCluster()},
		},
		OverloadManager: p.overloadManager(),
		StatsConfig:     p.statsConfig(),
		LayeredRuntime:  regexRuntime(),
	}
	if p.prometheus {
		addStats(bs)
	}
	return bs
}

// overloadManager limits client connections over all listeners
// (MaxDownstreamConnections) and, when the container has a memory limit,
// watches the heap against HeapLimitPercent of it: at shrinkHeapAt Envoy
// returns free memory to the system, at stopAcceptingRequestsAt it answers
// new requests with 503 instead of growing until the kernel kills it.
// Without a memory limit there is no heap limit to derive (the node's
// memory is the bound), so there is no heap monitor.
func (p bootstrapParams) overloadManager() *overloadv3.OverloadManager {
	om := &overloadv3.OverloadManager{
		RefreshInterval: durationpb.New(250 * time.Millisecond),
		ResourceMonitors: []*overloadv3.ResourceMonitor{{
			Name: downstreamConnectionsMonitor,
			ConfigType: &overloadv3.ResourceMonitor_TypedConfig{TypedConfig: typed(&downstreamconnectionsv3.DownstreamConnectionsConfig{
				MaxActiveDownstreamConnections: MaxDownstreamConnections,
			})},
		}},
	}
	if p.maxHeapBytes == 0 {
		return om
	}
	om.ResourceMonitors = append(om.ResourceMonitors, &overloadv3.ResourceMonitor{
		Name:       fixedHeapMonitor,
		ConfigType: &overloadv3.ResourceMonitor_TypedConfig{TypedConfig: typed(&fixedheapv3.FixedHeapConfig{MaxHeapSizeBytes: p.maxHeapBytes})},
	})
	threshold := func(action string, v float64) *overloadv3.OverloadAction {
		return &overloadv3.OverloadAction{Name: action, Triggers: []*overloadv3.Trigger{{
			Name: fixedHeapMonitor, TriggerOneof: &overloadv3.Trigger_Threshold{Threshold: &overloadv3.ThresholdTrigger{Value: v}},
		}}}
	}
	om.Actions = []*overloadv3.OverloadAction{
		threshold("envoy.overload_actions.shrink_heap", shrinkHeapAt),
		threshold("envoy.overload_actions.stop_accepting_requests", stopAcceptingRequestsAt),
	}
	return om
}

// RuntimeRegexProgramSize is the runtime key of the RE2 program size above
// which Envoy refuses a regular expression.
const RuntimeRegexProgramSize = "re2.max_program_size.error_level"

// regexRuntime is a static runtime layer that raises Envoy's RE2 program
// size limit (default 100) to dataplane.MaxRegexProgramSize, the limit
// xds/translate checks regexes against (docs/dataplane.md, "Regular
// expressions").
func regexRuntime() *bootstrapv3.LayeredRuntime {
	return &bootstrapv3.LayeredRuntime{Layers: []*bootstrapv3.RuntimeLayer{{
		Name: "berth",
		LayerSpecifier: &bootstrapv3.RuntimeLayer_StaticLayer{StaticLayer: &structpb.Struct{Fields: map[string]*structpb.Value{
			RuntimeRegexProgramSize: structpb.NewNumberValue(dataplane.MaxRegexProgramSize),
		}}},
	}}}
}

// readyListener answers dataplane.ReadyPath on ReadyPort with the health_check
// filter: 200 while Envoy is initialised and not draining.
func readyListener() *listenerv3.Listener {
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:     "ready",
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{Name: "ready"}},
		HttpFilters: []*hcmv3.HttpFilter{
			httpFilter("envoy.filters.http.health_check", &healthcheckv3.HealthCheck{
				PassThroughMode: wrapperspb.Bool(false),
				Headers: []*routev3.HeaderMatcher{{
					Name:                 ":path",
					HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact(dataplane.ReadyPath)},
				}},
			}),
			httpFilter("envoy.filters.http.router", &routerv3.Router{}),
		},
	}
	return &listenerv3.Listener{
		Name:    "ready",
		Address: socketAddress("0.0.0.0", dataplane.ReadyPort),
		// Probes are answered even at the global connection limit: a
		// saturated proxy that turned unready would push its load onto the
		// other replicas until they all are.
		IgnoreGlobalConnLimit: true,
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: typed(hcm)},
			}},
		}},
	}
}

// xdsCluster is the static cluster of the xDS server: HTTP/2 with
// keepalives over TLS, the token injected into every request.
func (p bootstrapParams) xdsCluster() *clusterv3.Cluster {
	protocol := &upstreamhttpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{
						ConnectionKeepalive: &corev3.KeepaliveSettings{
							Interval: durationpb.New(30 * time.Second),
							Timeout:  durationpb.New(5 * time.Second),
						},
					},
				},
			},
		},
		HttpFilters: []*hcmv3.HttpFilter{
			httpFilter("envoy.filters.http.credential_injector", &credentialv3.CredentialInjector{
				Overwrite: true,
				Credential: &corev3.TypedExtensionConfig{
					Name: "envoy.http.injected_credentials.generic",
					TypedConfig: typed(&genericv3.Generic{
						Header:            "authorization",
						HeaderValuePrefix: "Bearer ",
						Credential:        sdsSecret(SDSSecretToken, ConfigKeySDSToken),
					}),
				},
			}),
			httpFilter("envoy.filters.http.upstream_codec", &upstreamcodecv3.UpstreamCodec{}),
		},
	}
	tls := &tlsv3.UpstreamTlsContext{
		Sni: p.xdsServerName,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsParams:     &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_2},
			AlpnProtocols: []string{"h2"},
			ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{
				CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
					DefaultValidationContext: &tlsv3.CertificateValidationContext{
						MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
							SanType: tlsv3.SubjectAltNameMatcher_DNS,
							Matcher: exact(p.xdsServerName),
						}},
					},
					ValidationContextSdsSecretConfig: sdsSecret(SDSSecretCA, ConfigKeySDSCA),
				},
			},
		},
	}
	return &clusterv3.Cluster{
		Name:                 XDSClusterName,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS},
		ConnectTimeout:       durationpb.New(10 * time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: XDSClusterName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress(p.xdsHost, uint32(p.xdsPort)),
					}},
				}},
			}},
		},
		TypedExtensionProtocolOptions: map[string]*anypb.Any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(protocol),
		},
		TransportSocket: &corev3.TransportSocket{
			Name:       "envoy.transport_sockets.tls",
			ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: typed(tls)},
		},
	}
}

// SDSToken is the file-based SDS resource (ConfigKeySDSToken) holding the
// projected token.
func SDSToken() *discoveryv3.DiscoveryResponse {
	return sdsFile(&tlsv3.Secret{
		Name: SDSSecretToken,
		Type: &tlsv3.Secret_GenericSecret{GenericSecret: &tlsv3.GenericSecret{
			Secret: file(TokenDir + "/" + TokenFile),
		}},
	})
}

// SDSCA is the file-based SDS resource (ConfigKeySDSCA) holding the CA that
// signs the xDS server certificate.
func SDSCA() *discoveryv3.DiscoveryResponse {
	return sdsFile(&tlsv3.Secret{
		Name: SDSSecretCA,
		Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: file(ConfigDir + "/" + ConfigKeyCA),
		}},
	})
}

// encodedSDSFiles are the two SDS files, encoded and validated once (they
// are the same in every bundle): ConfigKeySDSToken's and ConfigKeySDSCA's.
var encodedSDSFiles = sync.OnceValues(func() ([2]string, error) {
	var out [2]string
	for i, f := range []struct {
		key string
		res *discoveryv3.DiscoveryResponse
	}{{ConfigKeySDSToken, SDSToken()}, {ConfigKeySDSCA, SDSCA()}} {
		s, err := marshalEnvoy(f.res)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.key, err)
		}
		out[i] = s
	}
	return out, nil
})

// sdsFile is the content of a file-based SDS resource: a discovery response
// with exactly one secret.
func sdsFile(s *tlsv3.Secret) *discoveryv3.DiscoveryResponse {
	return &discoveryv3.DiscoveryResponse{Resources: []*anypb.Any{typed(s)}}
}

// sdsSecret names secret name of the SDS file at ConfigDir/key, which Envoy
// re-reads when the directory's projected volume is swapped.
func sdsSecret(name, key string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{
		Name: name,
		SdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_PathConfigSource{PathConfigSource: &corev3.PathConfigSource{
				Path:             ConfigDir + "/" + key,
				WatchedDirectory: &corev3.WatchedDirectory{Path: ConfigDir},
			}},
		},
	}
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		ResourceApiVersion:    corev3.ApiVersion_V3,
	}
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

func httpFilter(name string, config proto.Message) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: typed(config)}}
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func file(path string) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: path}}
}

// typed packs m deterministically; packing a generated message cannot fail.
func typed(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("pack %T: %v", m, err))
	}
	return a
}

// marshalEnvoy encodes m as Envoy reads it from a .yaml file: protojson
// with proto field names, as YAML with sorted keys (byte-identical for equal
// messages; protojson's own whitespace is not stable across builds). It
// refuses m unless the encoding decodes strictly back to m, as Envoy decodes
// it, and m passes Envoy's validation, recursively into every Any.
func marshalEnvoy(m proto.Message) (string, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return "", err
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		return "", err
	}
	back := m.ProtoReflect().New().Interface()
	if err := envoyvalidate.UnmarshalAndValidate(y, back); err != nil {
		return "", err
	}
	if !proto.Equal(back, m) {
		return "", fmt.Errorf("%s does not survive its own encoding", m.ProtoReflect().Descriptor().FullName())
	}
	return string(y), nil
}
