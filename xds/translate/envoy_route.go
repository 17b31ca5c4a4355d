package translate

import (
	"regexp"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// buildRouteConfiguration builds a route table: one virtual host per model
// virtual host, its routes in model order.
func buildRouteConfiguration(rt *model.RouteTable) *routev3.RouteConfiguration {
	rc := &routev3.RouteConfiguration{Name: rt.Name}
	for _, vh := range rt.VirtualHosts {
		out := &routev3.VirtualHost{Name: vh.Name, Domains: []string{vh.Hostname}}
		if len(vh.Routes) > 0 {
			out.Routes = make([]*routev3.Route, len(vh.Routes))
			for i, r := range vh.Routes {
				out.Routes[i] = buildRoute(r)
			}
		}
		rc.VirtualHosts = append(rc.VirtualHosts, out)
	}
	return rc
}

func buildRoute(r *model.Route) *routev3.Route {
	out := &routev3.Route{
		Name:                    r.Name,
		StatPrefix:              RouteStatPrefix(r.Name),
		Match:                   buildRouteMatch(r.Match),
		RequestHeadersToAdd:     headersToAdd(r.RequestHeaders),
		RequestHeadersToRemove:  headersToRemove(r.RequestHeaders),
		ResponseHeadersToAdd:    headersToAdd(r.ResponseHeaders),
		ResponseHeadersToRemove: headersToRemove(r.ResponseHeaders),
	}
	switch {
	case r.Redirect != nil:
		out.Action = &routev3.Route_Redirect{Redirect: buildRedirect(r.Redirect)}
	case r.Forward != nil:
		out.Action = &routev3.Route_Route{Route: buildRouteAction(r.Forward)}
	default:
		out.Action = &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: r.DirectResponse}}
	}
	return out
}

func buildRouteMatch(m model.Match) *routev3.RouteMatch {
	out := &routev3.RouteMatch{}
	switch m.PathType {
	case model.PathExact:
		out.PathSpecifier = &routev3.RouteMatch_Path{Path: m.Path}
	case model.PathRegex:
		out.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: m.Path}}
	default:
		if m.Path == "" {
			out.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/"}
		} else {
			out.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: m.Path}
		}
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, &routev3.HeaderMatcher{Name: h.Name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatcher(h)}})
	}
	for _, q := range m.QueryParams {
		out.QueryParameters = append(out.QueryParameters, &routev3.QueryParameterMatcher{Name: q.Name, QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: stringMatcher(q)}})
	}
	if m.Method != "" {
		out.Headers = append(out.Headers, &routev3.HeaderMatcher{Name: ":method",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: m.Method}}}})
	}
	return out
}

func stringMatcher(m model.StringMatch) *matcherv3.StringMatcher {
	if m.Regex {
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: m.Value}}}
	}
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: m.Value}}
}

// headersToAdd are the set (overwrite) then added (append) headers of m.
func headersToAdd(m *model.HeaderModifier) []*corev3.HeaderValueOption {
	if m == nil || len(m.Set)+len(m.Add) == 0 {
		return nil
	}
	out := make([]*corev3.HeaderValueOption, 0, len(m.Set)+len(m.Add))
	for _, h := range m.Set {
		out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Name, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD})
	}
	for _, h := range m.Add {
		out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Name, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD})
	}
	return out
}

// headersToRemove are the removed headers of m.
func headersToRemove(m *model.HeaderModifier) []string {
	if m == nil {
		return nil
	}
	return m.Remove
}

// buildRouteAction sends to one cluster when that is all the route does,
// else to weighted clusters; the weight of unresolved backendRefs goes to
// InvalidBackendCluster, which does not exist, so that Envoy answers it
// with cluster_not_found_response_code, the spec's 500.
func buildRouteAction(f *model.Forward) *routev3.RouteAction {
	ra := &routev3.RouteAction{}
	if len(f.Backends) == 1 && f.InvalidWeight == 0 && f.Backends[0].RequestHeaders.Empty() && f.Backends[0].ResponseHeaders.Empty() {
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: f.Backends[0].Cluster}
	} else {
		wc := &routev3.WeightedCluster{Clusters: make([]*routev3.WeightedCluster_ClusterWeight, 0, len(f.Backends)+1)}
		for _, b := range f.Backends {
			wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{
				Name:                    b.Cluster,
				Weight:                  wrapperspb.UInt32(b.Weight),
				RequestHeadersToAdd:     headersToAdd(b.RequestHeaders),
				RequestHeadersToRemove:  headersToRemove(b.RequestHeaders),
				ResponseHeadersToAdd:    headersToAdd(b.ResponseHeaders),
				ResponseHeadersToRemove: headersToRemove(b.ResponseHeaders),
			})
		}
		if f.InvalidWeight > 0 {
			wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{
				Name:   InvalidBackendCluster,
				Weight: wrapperspb.UInt32(f.InvalidWeight),
			})
			ra.ClusterNotFoundResponseCode = routev3.RouteAction_INTERNAL_SERVER_ERROR
		}
		ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	if f.HostRewrite != "" {
		ra.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: f.HostRewrite}
	}
	if pr := f.PathRewrite; pr != nil {
		if pr.Full != "" {
			ra.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^/.*$"}, Substitution: pr.Full}
		} else {
			ra.PrefixRewrite, ra.RegexRewrite = prefixRewrite(pr.MatchedPrefix, pr.Prefix)
		}
	}
	if f.Timeout != nil {
		ra.Timeout = durationpb.New(*f.Timeout)
	}
	if f.GRPC {
		// A streaming call outlives any fixed timeout: no route timeout;
		// the grpc-timeout header the client sends, if any, is the limit.
		ra.Timeout = durationpb.New(0)
		ra.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: durationpb.New(0)}
	}
	ra.RetryPolicy = buildRetryPolicy(f)
	if f.PerTryTimeout != nil && ra.RetryPolicy == nil {
		// Without retries the one backend request is the whole request.
		ra.Timeout = durationpb.New(*f.PerTryTimeout)
	}
	for _, m := range f.Mirrors {
		p := &routev3.RouteAction_RequestMirrorPolicy{Cluster: m.Cluster}
		if m.Fraction != nil {
			p.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: fractionalPercent(m.Fraction)}
		}
		ra.RequestMirrorPolicies = append(ra.RequestMirrorPolicies, p)
	}
	return ra
}

func fractionalPercent(f *model.Fraction) *typev3.FractionalPercent {
	den := typev3.FractionalPercent_HUNDRED
	if f.Denominator == million {
		den = typev3.FractionalPercent_MILLION
	}
	return &typev3.FractionalPercent{Numerator: f.Numerator, Denominator: den}
}

// buildRetryPolicy is the Envoy retry policy of a route: the spec's retry
// stanza (retrying on connection errors and the listed codes), and the
// backendRequest timeout as the per-try timeout when the request timeout
// bounds the whole. Nil when neither applies.
func buildRetryPolicy(f *model.Forward) *routev3.RetryPolicy {
	perTry := f.PerTryTimeout != nil && (f.Retry != nil || f.Timeout != nil)
	if f.Retry == nil && !perTry {
		return nil
	}
	rp := &routev3.RetryPolicy{NumRetries: wrapperspb.UInt32(0)}
	if r := f.Retry; r != nil {
		rp.RetryOn = "connect-failure,refused-stream,reset"
		if len(r.Codes) > 0 {
			rp.RetryOn += ",retriable-status-codes"
			rp.RetriableStatusCodes = r.Codes
		}
		rp.NumRetries = wrapperspb.UInt32(r.Attempts)
		if r.Backoff != nil {
			rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(*r.Backoff)}
		}
	}
	if perTry {
		rp.PerTryTimeout = durationpb.New(*f.PerTryTimeout)
	}
	return rp
}

// prefixRewrite replaces the matched prefix (without trailing slash, "" for
// "/") with replacement, keeping path elements intact: /foo/bar with
// prefix /foo and replacement / becomes /bar, not //bar.
func prefixRewrite(prefix, replacement string) (string, *matcherv3.RegexMatchAndSubstitute) {
	repl := strings.TrimRight(replacement, "/")
	switch {
	case prefix == "":
		// Every path starts with the matched "/": put the replacement in front.
		if repl == "" {
			return "", nil
		}
		return "", &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^/"}, Substitution: repl + "/"}
	case repl == "":
		return "", &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^" + regexp.QuoteMeta(prefix) + "/*"}, Substitution: "/"}
	}
	return repl, nil
}

// redirectCodes are Envoy's codes for the redirect status codes the model
// allows (redirectStatusCodes).
var redirectCodes = map[int]routev3.RedirectAction_RedirectResponseCode{
	301: routev3.RedirectAction_MOVED_PERMANENTLY,
	302: routev3.RedirectAction_FOUND,
	303: routev3.RedirectAction_SEE_OTHER,
	307: routev3.RedirectAction_TEMPORARY_REDIRECT,
	308: routev3.RedirectAction_PERMANENT_REDIRECT,
}

func buildRedirect(rd *model.Redirect) *routev3.RedirectAction {
	ra := &routev3.RedirectAction{ResponseCode: redirectCodes[rd.StatusCode], HostRedirect: rd.Hostname, PortRedirect: rd.Port}
	if rd.Scheme != "" {
		ra.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: rd.Scheme}
	}
	if pr := rd.Path; pr != nil {
		if pr.Full != "" {
			ra.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: pr.Full}
		} else {
			prefix, regex := prefixRewrite(pr.MatchedPrefix, pr.Prefix)
			switch {
			case regex != nil:
				ra.PathRewriteSpecifier = &routev3.RedirectAction_RegexRewrite{RegexRewrite: regex}
			case prefix != "":
				ra.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: prefix}
			}
		}
	}
	return ra
}
