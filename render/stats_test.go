package render_test

import (
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

// envoyDefaultTags are the default tag extractors of Envoy
// (source/common/config/well_known_names.cc) whose names overlap the ones
// berth adds: they run beside berth's.
var envoyDefaultTags = map[string]string{
	"envoy.cluster_name":             `^cluster\.((.*?)\.)`,
	"envoy.http_conn_manager_prefix": `^http\.((.*?)\.)`,
}

// extractTags applies tag extractors to a stat name the way Envoy's
// TagProducerImpl does: every extractor whose regex matches the name adds
// a tag (value: the second group, else the first) and marks its first
// group for removal; the tag-extracted name is the name without the marked
// characters.
func extractTags(t *testing.T, name string, regexes map[string]string) (map[string]string, string) {
	t.Helper()
	tags := map[string]string{}
	remove := make([]bool, len(name))
	for tag, expr := range regexes {
		m := regexp.MustCompile(expr).FindStringSubmatchIndex(name)
		if m == nil {
			continue
		}
		if len(m) < 4 {
			t.Fatalf("tag %s: regex %q has no capture group", tag, expr)
		}
		v := name[m[2]:m[3]]
		if len(m) >= 6 && m[4] >= 0 {
			v = name[m[4]:m[5]]
		}
		tags[tag] = v
		for i := m[2]; i < m[3]; i++ {
			remove[i] = true
		}
	}
	var b strings.Builder
	for i := range name {
		if !remove[i] {
			b.WriteByte(name[i])
		}
	}
	return tags, b.String()
}

// TestStatsTags applies the bootstrap's stats tags, beside Envoy's
// defaults, to the stat names berth's resources produce: every metric
// carries the Gateway, cluster metrics of a Service cluster carry its
// namespace, name and port, and the tag-extracted names are those of
// Envoy's own dashboards (cluster.<stat>, http.<stat>).
func TestStatsTags(t *testing.T) {
	regexes := map[string]string{}
	fixed := map[string]string{}
	for _, s := range render.Bootstrap("team-a", "gw", 0, true, render.DefaultOptions()).GetStatsConfig().GetStatsTags() {
		if s.GetRegex() != "" {
			regexes[s.GetTagName()] = s.GetRegex()
		} else {
			fixed[s.GetTagName()] = s.GetFixedValue()
		}
	}
	if want := map[string]string{render.StatsTagGatewayNamespace: "team-a", render.StatsTagGatewayName: "gw"}; !maps.Equal(fixed, want) {
		t.Fatalf("fixed tags %v, want %v", fixed, want)
	}
	for k, v := range envoyDefaultTags {
		regexes[k] = v
	}
	cluster := translate.ServiceClusterName("team-b", "web-api", 8080)
	for _, tc := range []struct {
		stat      string
		want      map[string]string
		extracted string
	}{
		{"cluster." + cluster + ".upstream_rq_total", map[string]string{
			"envoy.cluster_name":            cluster,
			render.StatsTagBackendNamespace: "team-b",
			render.StatsTagBackendName:      "web-api",
			render.StatsTagBackendPort:      "8080",
		}, "cluster.upstream_rq_total"},
		{"cluster." + cluster + ".circuit_breakers.default.cx_open", map[string]string{
			"envoy.cluster_name":            cluster,
			render.StatsTagBackendNamespace: "team-b",
			render.StatsTagBackendName:      "web-api",
			render.StatsTagBackendPort:      "8080",
		}, "cluster.circuit_breakers.default.cx_open"},
		// The xDS cluster is no backend.
		{"cluster." + render.XDSClusterName + ".upstream_cx_total", map[string]string{"envoy.cluster_name": render.XDSClusterName}, "cluster.upstream_cx_total"},
		// A route's own metrics (its stat_prefix is its name).
		{"vhost.vhost/www_example_com.route." + translate.RouteStatPrefix("httproute/team-a/web.v2/rule/0/match/1") + ".upstream_rq_total", map[string]string{
			render.StatsTagRouteKind:      "httproute",
			render.StatsTagRouteNamespace: "team-a",
			render.StatsTagRouteName:      "web_v2",
		}, "vhost.vhost/www_example_com.route.rule/0/match/1.upstream_rq_total"},
		{"vhost.vhost/*_example_com.route.grpcroute/team-b/rpc/rule/2/match/0.upstream_rq_time", map[string]string{
			render.StatsTagRouteKind:      "grpcroute",
			render.StatsTagRouteNamespace: "team-b",
			render.StatsTagRouteName:      "rpc",
		}, "vhost.vhost/*_example_com.route.rule/2/match/0.upstream_rq_time"},
		// A connection manager of a Gateway listener.
		{"http.https-443-web.downstream_rq_total", map[string]string{"envoy.http_conn_manager_prefix": "https-443-web"}, "http.downstream_rq_total"},
		// A Service named like the prefix of another stat is still no
		// backend outside cluster stats.
		{"listener.0.0.0.0_8080.downstream_cx_total", map[string]string{}, "listener.0.0.0.0_8080.downstream_cx_total"},
	} {
		got, extracted := extractTags(t, tc.stat, regexes)
		if !maps.Equal(got, tc.want) || extracted != tc.extracted {
			t.Errorf("%s: tags %v, name %q; want %v, %q", tc.stat, got, extracted, tc.want, tc.extracted)
		}
	}
	// The expressions must mean the same to Envoy's std::regex
	// (ECMAScript): no RE2-only syntax.
	for tag, expr := range regexes {
		for _, re2only := range []string{`(?P<`, `(?i`, `\z`, `\A`, `[[:`} {
			if strings.Contains(expr, re2only) {
				t.Errorf("tag %s: %q uses RE2-only syntax %s", tag, expr, re2only)
			}
		}
	}
}
