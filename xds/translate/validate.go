package translate

import (
	"errors"
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/berth-gateway/berth/internal/envoyvalidate"
)

// ErrInvalidResources is wrapped by every error of Validate.
var ErrInvalidResources = errors.New("invalid xds resources")

// Validate checks one Gateway's resources as Envoy would before accepting
// them: each resource encodes to JSON, has no unknown fields (so it
// decodes strictly from that JSON back to itself) and passes its
// generated validation, recursively into every Any; and across resources,
// names are unique per type, every route, weighted cluster and mirror
// names an existing cluster (except InvalidBackendCluster in a route that
// answers a missing cluster with 500), so does every TCP and UDP proxy
// (except InvalidBackendCluster, whose connections are closed), every RDS
// name exists, every secret
// a listener or cluster asks for over ADS exists, every
// EDS cluster has its endpoints, virtual host domains are unique within a
// route table, listener addresses are unique, and every regex compiles
// under RE2 rules within Envoy's program size limit.
func Validate(resources map[string][]types.Resource) error {
	return ValidateChange(resources, nil)
}

// ValidateChange is Validate for resources that replace a set that passed
// it: for the types marked unchanged (their ResourceVersions type version
// equals the one that passed, so their content is the same) the checks of
// single resources, the costly part, are not repeated; the checks across
// resources always run. The xDS server uses it so that, say, an endpoint
// change does not re-validate a large route table.
func ValidateChange(resources map[string][]types.Resource, unchanged map[string]bool) error {
	return validateChange(resources, unchanged, nil, FormatYAML, true)
}

// validateChange is ValidateChange; encoded, when set, receives the value
// protoToValue makes of every resource checked on its own for format, for
// MarshalValid to reuse. Without encode, resources are not encoded (the
// caller encodes them and reports a failure with validateChange).
func validateChange(resources map[string][]types.Resource, unchanged map[string]bool, encoded map[types.Resource]any, format Format, encode bool) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	names := map[string]map[string]bool{}
	for _, ot := range outputTypes {
		names[ot.typeURL] = map[string]bool{}
	}
	for typ, list := range resources {
		seen, ok := names[typ]
		if !ok {
			fail("unexpected resource type %s", typ)
			continue
		}
		for _, r := range list {
			if r == nil {
				fail("%s: nil resource", typ)
				continue
			}
			if got := resourcev3.APITypePrefix + string(r.ProtoReflect().Descriptor().FullName()); got != typ {
				fail("%s %q listed under %s", got, resourceName(r), typ)
				continue
			}
			name := resourceName(r)
			if name == "" {
				fail("%s without a name", typ)
			}
			if seen[name] {
				fail("%s %q: duplicate name", typ, name)
			}
			seen[name] = true
			if unchanged[typ] {
				continue
			}
			v, err := validateOne(r, format, encode)
			if err != nil {
				fail("%s %q: %w", typ, name, err)
			} else if encoded != nil {
				encoded[r] = v
			}
		}
	}
	addresses := map[string]string{}
	for _, r := range resources[resourcev3.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue // reported above
		}
		addr := l.GetAddress().GetSocketAddress()
		a := fmt.Sprintf("%s %s:%d", addr.GetProtocol(), addr.GetAddress(), addr.GetPortValue())
		if other, dup := addresses[a]; dup {
			fail("listener %q: address %s already used by listener %q", l.Name, a, other)
		}
		addresses[a] = l.Name
		if len(l.FilterChains) == 0 && !isUDPListener(l) {
			fail("listener %q: no filter chains", l.Name)
		}
		matches := map[string]bool{}
		for _, fc := range l.FilterChains {
			key := prototext(fc.GetFilterChainMatch())
			if matches[key] {
				fail("listener %q: filter chain %q has the same match as another", l.Name, fc.Name)
			}
			matches[key] = true
			for _, f := range fc.Filters {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().MessageIs(hcm) && f.GetTypedConfig().UnmarshalTo(hcm) == nil {
					if rn := hcm.GetRds().GetRouteConfigName(); rn != "" && !names[resourcev3.RouteType][rn] {
						fail("listener %q: route configuration %q does not exist", l.Name, rn)
					}
					for _, err := range checkConnectionManager(hcm) {
						fail("listener %q: %v", l.Name, err)
					}
				}
			}
		}
	}
	errs = append(errs, secretsExist(resources, names[resourcev3.SecretType])...)
	errs = append(errs, proxyClustersExist(resources, names[resourcev3.ClusterType])...)
	clusters := names[resourcev3.ClusterType]
	for _, r := range resources[resourcev3.RouteType] {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok {
			continue
		}
		domains, vhosts := map[string]string{}, map[string]bool{}
		for _, vh := range rc.VirtualHosts {
			if vhosts[vh.Name] {
				fail("route configuration %q: duplicate virtual host %q", rc.Name, vh.Name)
			}
			vhosts[vh.Name] = true
			for _, d := range vh.Domains {
				if other, dup := domains[strings.ToLower(d)]; dup {
					fail("route configuration %q: domain %q of virtual host %q is already in %q", rc.Name, d, vh.Name, other)
				}
				domains[strings.ToLower(d)] = vh.Name
				if strings.Count(d, "*") > 1 || strings.Contains(d, "*") && d != "*" && !strings.HasPrefix(d, "*") && !strings.HasSuffix(d, "*") {
					fail("route configuration %q: domain %q has a misplaced wildcard", rc.Name, d)
				}
			}
			for _, rt := range vh.Routes {
				for _, c := range routeClusters(rt) {
					if c == InvalidBackendCluster && rt.GetRoute().GetClusterNotFoundResponseCode() == routev3.RouteAction_INTERNAL_SERVER_ERROR {
						continue // deliberately missing: the 500 of invalid backendRefs
					}
					if !clusters[c] {
						fail("route configuration %q: route %q sends to cluster %q, which does not exist", rc.Name, rt.Name, c)
					}
				}
			}
		}
	}
	endpoints := names[resourcev3.EndpointType]
	for _, r := range resources[resourcev3.ClusterType] {
		c, ok := r.(*clusterv3.Cluster)
		if ok && c.GetType() == clusterv3.Cluster_EDS {
			n := c.GetEdsClusterConfig().GetServiceName()
			if n == "" {
				n = c.Name
			}
			if !endpoints[n] {
				fail("cluster %q: endpoints %q do not exist", c.Name, n)
			}
		}
	}
	for _, r := range resources[resourcev3.EndpointType] {
		if cla, ok := r.(*endpointv3.ClusterLoadAssignment); ok && !clusters[cla.ClusterName] {
			fail("endpoints %q: no cluster uses them", cla.ClusterName)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidResources, errors.Join(errs...))
}

// validateOne checks r as Envoy would load it and returns its JSON form
// (jsonOptions) as protoToValue's value for format, which the output
// reuses. Encoding fails on what no JSON
// form can carry (invalid UTF-8, out-of-range durations and timestamps,
// Any types not linked in); envoyvalidate refuses unknown fields anywhere
// (a JSON form would drop them, so what is printed would not be what
// Envoy receives) and runs the generated validation, into every Any; and
// every regex must compile under RE2 rules within Envoy's limit. Together
// these keep what a strict decode of the JSON form compared with r
// (TestResourcesSurviveJSONRoundTrip) guaranteed, in one walk.
func validateOne(r types.Resource, format Format, encode bool) (any, error) {
	var v any
	if encode {
		var err error
		if v, err = protoToValue(r, format); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
	}
	if err := envoyvalidate.ValidateFunc(r, checkRegexMatcher); err != nil {
		return nil, err
	}
	return v, nil
}

// checkRegexMatcher checks the regex of a RegexMatcher (checkRegex); other
// messages pass.
func checkRegexMatcher(m protoreflect.Message) error {
	if rm, ok := m.Interface().(*matcherv3.RegexMatcher); ok {
		return checkRegex(rm.GetRegex())
	}
	return nil
}

// routeClusters lists the clusters a route sends to (or mirrors to).
func routeClusters(rt *routev3.Route) []string {
	ra := rt.GetRoute()
	if ra == nil {
		return nil
	}
	var out []string
	if c := ra.GetCluster(); c != "" {
		out = append(out, c)
	}
	for _, w := range ra.GetWeightedClusters().GetClusters() {
		out = append(out, w.Name)
	}
	for _, m := range ra.RequestMirrorPolicies {
		out = append(out, m.Cluster)
	}
	return out
}

func prototext(m proto.Message) string {
	if m == nil {
		return ""
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	return string(b)
}

// checkConnectionManager checks what Envoy refuses in a connection
// manager beyond its generated validation: original IP detection
// extensions mixed with use_remote_address or xff_num_trusted_hops.
func checkConnectionManager(hcm *hcmv3.HttpConnectionManager) []error {
	if len(hcm.GetOriginalIpDetectionExtensions()) == 0 {
		return nil
	}
	var errs []error
	if hcm.GetUseRemoteAddress().GetValue() {
		errs = append(errs, errors.New("original IP detection extensions and use_remote_address may not be mixed"))
	}
	if hcm.GetXffNumTrustedHops() > 0 {
		errs = append(errs, errors.New("original IP detection extensions and xff_num_trusted_hops may not be mixed"))
	}
	return errs
}

// secretsExist checks that every secret a listener or cluster asks for over
// ADS (an SDS config with ads) is among the secrets: otherwise Envoy would
// keep that listener or cluster warming forever. It also checks the TLS
// contexts it unpacks as Envoy does (checkDownstreamTLS, checkUpstreamTLS).
func secretsExist(resources map[string][]types.Resource, have map[string]bool) []error {
	var errs []error
	want := func(where string, sds *tlsv3.SdsSecretConfig) {
		if sds == nil || sds.GetSdsConfig().GetAds() == nil {
			return // inline, file-based or another source: not served over ADS
		}
		if !have[sds.GetName()] {
			errs = append(errs, fmt.Errorf("%s: secret %q does not exist", where, sds.GetName()))
		}
	}
	common := func(where string, c *tlsv3.CommonTlsContext) {
		for _, s := range c.GetTlsCertificateSdsSecretConfigs() {
			want(where, s)
		}
		want(where, c.GetValidationContextSdsSecretConfig())
		want(where, c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig())
	}
	socket := func(where string, ts *corev3.TransportSocket) {
		tc := ts.GetTypedConfig()
		if tc == nil {
			return
		}
		msg, err := tc.UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: transport socket: %w", where, err))
			return
		}
		switch t := msg.(type) {
		case *tlsv3.DownstreamTlsContext:
			common(where, t.GetCommonTlsContext())
			errs = append(errs, checkDownstreamTLS(where, t)...)
		case *tlsv3.UpstreamTlsContext:
			common(where, t.GetCommonTlsContext())
			errs = append(errs, checkUpstreamTLS(where, t)...)
		}
	}
	for _, r := range resources[resourcev3.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue // reported elsewhere
		}
		where := fmt.Sprintf("listener %q", l.GetName())
		for _, fc := range l.GetFilterChains() {
			socket(where, fc.GetTransportSocket())
		}
		if fc := l.GetDefaultFilterChain(); fc != nil {
			socket(where, fc.GetTransportSocket())
		}
	}
	for _, r := range resources[resourcev3.ClusterType] {
		c, ok := r.(*clusterv3.Cluster)
		if !ok {
			continue
		}
		where := fmt.Sprintf("cluster %q", c.GetName())
		socket(where, c.GetTransportSocket())
		for _, m := range c.GetTransportSocketMatches() {
			socket(where, m.GetTransportSocket())
		}
	}
	return errs
}
