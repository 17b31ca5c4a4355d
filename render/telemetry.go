package render

import (
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-gateway/berth/internal/dataplane"
)

// The data plane's metrics (docs/dataplane.md, "Metrics"): a stats
// listener on dataplane.StatsPort answers GET dataplane.StatsPath from the
// admin API (nothing else of the admin API is reachable from outside the
// pod), the pod carries the prometheus.io scrape annotations and a
// container port named dataplane.StatsPortName, and the bootstrap's tag
// extractors turn the Gateway and the backend Service that berth's names
// encode into Prometheus labels. An EnvoyProxy's
// spec.telemetry.metrics.prometheus.disable removes the listener, the port
// and the annotations (the stats tags stay: they cost nothing and serve
// any other reader of the admin API).

// The pod annotations Prometheus' Kubernetes service discovery follows
// (the convention of its example configuration).
const (
	AnnotationPrometheusScrape = "prometheus.io/scrape"
	AnnotationPrometheusPort   = "prometheus.io/port"
	AnnotationPrometheusPath   = "prometheus.io/path"
)

// The stats tags every metric of a Gateway's Envoy carries, and the tags
// extracted from the names of berth's Service clusters
// (service/<namespace>/<name>/<port>, xds/translate/names.go).
const (
	StatsTagGatewayNamespace = "gateway_namespace"
	StatsTagGatewayName      = "gateway_name"
	StatsTagBackendNamespace = "backend_namespace"
	StatsTagBackendName      = "backend_name"
	StatsTagBackendPort      = "backend_port"
	StatsTagRouteKind        = "route_kind"
	StatsTagRouteNamespace   = "route_namespace"
	StatsTagRouteName        = "route_name"
)

// adminClusterName is the static cluster of the admin API that the stats
// listener routes to.
const adminClusterName = "admin"

// backendTagRegexes extract the parts of a Service cluster's name from its
// cluster stats ("cluster.service/team-a/web/8080.upstream_rq_total"). As
// Envoy's tag extractors require, the first group is the part removed from
// the name and the second the tag's value; each removed part lies inside
// the cluster name that Envoy's default envoy.cluster_name extractor
// removes anyway, so the tag-extracted name stays "cluster.<stat>". The
// expressions use only syntax that ECMAScript (Envoy's std::regex) and RE2
// read alike; stats_test.go applies them the way Envoy does.
var backendTagRegexes = []struct{ tag, regex string }{
	{StatsTagBackendNamespace, `^cluster\.service/(([^/.]+)/)[^/.]+/[0-9]+\.`},
	{StatsTagBackendName, `^cluster\.service/[^/.]+/(([^/.]+)/)[0-9]+\.`},
	{StatsTagBackendPort, `^cluster\.service/[^/.]+/[^/.]+/(([0-9]+))\.`},
}

// routeTagRegexes extract the Gateway API route of a per-route stat
// ("vhost.vhost/www_example_com.route.httproute/team-a/web/rule/0/match/0.upstream_rq_total":
// the route's stat_prefix is its name, translate.RouteStatPrefix, and
// virtual host names have no dots), as backendTagRegexes do for clusters.
var routeTagRegexes = []struct{ tag, regex string }{
	{StatsTagRouteKind, `^vhost\.[^.]+\.route\.(([a-z]+)/)[^/.]+/[^/.]+/rule/`},
	{StatsTagRouteNamespace, `^vhost\.[^.]+\.route\.[a-z]+/(([^/.]+)/)[^/.]+/rule/`},
	{StatsTagRouteName, `^vhost\.[^.]+\.route\.[a-z]+/[^/.]+/(([^/.]+)/)rule/`},
}

// statsConfig tags every metric with the Gateway, cluster metrics with
// their backend Service and per-route metrics with their route; Envoy's default tags (cluster name, listener
// address, connection manager prefix, response code, ...) stay on.
func (p bootstrapParams) statsConfig() *metricsv3.StatsConfig {
	tags := []*metricsv3.TagSpecifier{
		{TagName: StatsTagGatewayNamespace, TagValue: &metricsv3.TagSpecifier_FixedValue{FixedValue: p.gatewayNamespace}},
		{TagName: StatsTagGatewayName, TagValue: &metricsv3.TagSpecifier_FixedValue{FixedValue: p.gatewayName}},
	}
	for _, t := range append(backendTagRegexes, routeTagRegexes...) {
		tags = append(tags, &metricsv3.TagSpecifier{TagName: t.tag, TagValue: &metricsv3.TagSpecifier_Regex{Regex: t.regex}})
	}
	return &metricsv3.StatsConfig{StatsTags: tags}
}

// addStats adds the stats listener and the admin cluster to bs.
func addStats(bs *bootstrapv3.Bootstrap) {
	bs.StaticResources.Listeners = append(bs.StaticResources.Listeners, statsListener())
	bs.StaticResources.Clusters = append(bs.StaticResources.Clusters, adminCluster())
}

// statsListener answers GET dataplane.StatsPath on dataplane.StatsPort from
// the admin API; every other request gets 404.
func statsListener() *listenerv3.Listener {
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "stats",
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: "stats",
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    "stats",
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match: &routev3.RouteMatch{
						PathSpecifier: &routev3.RouteMatch_Path{Path: dataplane.StatsPath},
						Headers: []*routev3.HeaderMatcher{{
							Name:                 ":method",
							HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact("GET")},
						}},
					},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{
						ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: adminClusterName},
					}},
				}},
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{httpFilter("envoy.filters.http.router", &routerv3.Router{})},
	}
	return &listenerv3.Listener{
		Name:    "stats",
		Address: socketAddress("0.0.0.0", dataplane.StatsPort),
		// A saturated proxy is the one whose metrics matter most.
		IgnoreGlobalConnLimit: true,
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: typed(hcm)},
			}},
		}},
	}
}

// adminCluster is the admin API on the loopback address.
func adminCluster() *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 adminClusterName,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(250 * time.Millisecond),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: adminClusterName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress("127.0.0.1", dataplane.AdminPort),
					}},
				}},
			}},
		},
	}
}

// prometheus reports whether the bundle serves Prometheus metrics.
func (b *builder) prometheus() bool { return !b.spec.Telemetry.PrometheusDisabled() }

// statsPodAnnotations adds the scrape annotations to a pod's annotations,
// keeping the ones the user set (prometheus.io/scrape: "false" turns
// scraping off without turning the endpoint off).
func (b *builder) statsPodAnnotations(a map[string]string) {
	if !b.prometheus() {
		return
	}
	for k, v := range map[string]string{
		AnnotationPrometheusScrape: "true",
		AnnotationPrometheusPort:   strconv.Itoa(dataplane.StatsPort),
		AnnotationPrometheusPath:   dataplane.StatsPath,
	} {
		if _, ok := a[k]; !ok {
			a[k] = v
		}
	}
}

// statsContainerPorts is the named stats port of the envoy container.
func (b *builder) statsContainerPorts() []corev1.ContainerPort {
	if !b.prometheus() {
		return nil
	}
	return []corev1.ContainerPort{{Name: dataplane.StatsPortName, ContainerPort: dataplane.StatsPort, Protocol: corev1.ProtocolTCP}}
}
