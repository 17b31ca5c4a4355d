// Package evaluate answers "what would Envoy do with this request" from a
// RouteConfiguration, so tests can state routing behaviour as request →
// backend, the way the Gateway API conformance tests do, without an Envoy
// binary.
//
// It follows Envoy's documented semantics for the subset berth generates:
// virtual host selection by domain (exact, then the longest suffix
// wildcard "*.example.com", then the longest prefix wildcard "example.*",
// then "*"), routes in order with the first match winning, path matches
// (path, prefix, path_separated_prefix, safe_regex as a full match on the
// path without query), header matches (exact, safe_regex, present) with
// ":method", query parameter matches, and the route's action: cluster or
// weighted clusters, redirect (Location computed as Envoy builds it),
// direct response, prefix/regex path rewrites, host rewrite, header
// mutations and mirrors. Snapshot goes one step further out: from a port
// and TLS server name through a Gateway's whole snapshot (listener, filter
// chain, connection manager with its header, path and upgrade handling, RDS
// table, cluster existence). It is for
// tests: features berth never emits are reported as errors, not guessed.
package evaluate

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Request is an HTTP request as it reaches the route table.
type Request struct {
	// Method defaults to GET.
	Method string
	// Scheme is "http" or "https" (default "http"); used for redirects.
	Scheme string
	// Host is the Host (:authority) header; a port is stripped, as the
	// connection manager berth generates does (strip_any_host_port).
	Host string
	// Path is the request path, optionally with a query string.
	Path string
	// Headers are further request headers (names are case-insensitive).
	Headers map[string]string
}

// Decision is what Envoy does with a request.
type Decision struct {
	// Listener and RouteConfiguration name the listener and route table
	// that took the request (set by Snapshot only).
	Listener, RouteConfiguration string
	// VirtualHost is the name of the selected virtual host ("" if none).
	VirtualHost string
	// Route is the name of the matched route ("" if none matched).
	Route string
	// Status is the HTTP status Envoy answers itself with: 404 when no
	// virtual host or route matches, the redirect or direct response code;
	// 0 when the request is forwarded upstream.
	Status int
	// Cluster is the upstream cluster of a single-cluster route.
	Cluster string
	// WeightedClusters are the clusters of a weighted route, in order.
	WeightedClusters []WeightedCluster
	// ClusterNotFoundStatus is what Envoy answers when the chosen cluster
	// does not exist (the route's cluster_not_found_response_code).
	ClusterNotFoundStatus int
	// Location is the Location header of a redirect.
	Location string
	// Host and Path are the :authority and path sent upstream (after
	// rewrites; Path keeps the query).
	Host, Path string
	// RequestHeaders are the request headers sent upstream after the
	// route's header mutations (lower-case names; for weighted routes only
	// route-level mutations are applied).
	RequestHeaders map[string]string
	// ResponseHeadersToAdd and ResponseHeadersToRemove are the route's
	// response header mutations.
	ResponseHeadersToAdd    map[string]string
	ResponseHeadersToRemove []string
	// Mirrors are the clusters requests are mirrored to.
	Mirrors []Mirror
	// Timeout is the route timeout (nil: Envoy's default of 15s).
	Timeout *time.Duration
	// Upgrade is the connection upgrade (such as "websocket") forwarded
	// upstream (set by Snapshot only).
	Upgrade string
}

// WeightedCluster is one entry of a weighted route.
type WeightedCluster struct {
	Name   string
	Weight uint32
}

// Mirror is one mirror policy.
type Mirror struct {
	Cluster string
	// Percent of requests mirrored (100 when unset).
	Percent float64
}

// Evaluate routes req through rc.
func Evaluate(rc *routev3.RouteConfiguration, req Request) (Decision, error) {
	if req.Method == "" {
		req.Method = "GET"
	}
	if req.Scheme == "" {
		req.Scheme = "http"
	}
	host := strings.ToLower(stripPort(req.Host))
	d := Decision{Status: 404}
	vh := selectVirtualHost(rc.GetVirtualHosts(), host)
	if vh == nil {
		return d, nil
	}
	d.VirtualHost = vh.GetName()
	path, rawQuery, _ := strings.Cut(req.Path, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		query = url.Values{}
	}
	headers := map[string]string{":method": req.Method, ":authority": host, ":path": req.Path, ":scheme": req.Scheme}
	for k, v := range req.Headers {
		headers[strings.ToLower(k)] = v
	}
	for _, r := range vh.GetRoutes() {
		ok, err := matches(r.GetMatch(), path, headers, query)
		if err != nil {
			return d, fmt.Errorf("route %q: %w", r.GetName(), err)
		}
		if !ok {
			continue
		}
		d.Route = r.GetName()
		return act(d, r, req, host, path, rawQuery, headers)
	}
	return d, nil
}

func stripPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}

// selectVirtualHost is Envoy's domain search order.
func selectVirtualHost(vhs []*routev3.VirtualHost, host string) *routev3.VirtualHost {
	var best *routev3.VirtualHost
	bestKind, bestLen := 5, -1
	for _, vh := range vhs {
		for _, dom := range vh.GetDomains() {
			d := strings.ToLower(dom)
			kind, n := 5, 0
			switch {
			case d == host:
				kind, n = 0, len(d)
			case d == "*":
				kind = 3
			case strings.HasPrefix(d, "*") && len(host) > len(d)-1 && strings.HasSuffix(host, d[1:]):
				kind, n = 1, len(d)-1
			case strings.HasSuffix(d, "*") && len(host) > len(d)-1 && strings.HasPrefix(host, d[:len(d)-1]):
				kind, n = 2, len(d)-1
			default:
				continue
			}
			if kind < bestKind || kind == bestKind && n > bestLen {
				best, bestKind, bestLen = vh, kind, n
			}
		}
	}
	return best
}

func matches(m *routev3.RouteMatch, path string, headers map[string]string, query url.Values) (bool, error) {
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		if !strings.HasPrefix(path, ps.Prefix) {
			return false, nil
		}
	case *routev3.RouteMatch_Path:
		if path != ps.Path {
			return false, nil
		}
	case *routev3.RouteMatch_PathSeparatedPrefix:
		p := ps.PathSeparatedPrefix
		if path != p && !strings.HasPrefix(path, p+"/") {
			return false, nil
		}
	case *routev3.RouteMatch_SafeRegex:
		ok, err := fullMatch(ps.SafeRegex.GetRegex(), path)
		if err != nil || !ok {
			return false, err
		}
	default:
		return false, fmt.Errorf("unsupported path specifier %T", ps)
	}
	if m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue() {
		return false, fmt.Errorf("case-insensitive matching is not supported")
	}
	for _, h := range m.GetHeaders() {
		v, present := headers[strings.ToLower(h.GetName())]
		var ok bool
		switch s := h.GetHeaderMatchSpecifier().(type) {
		case *routev3.HeaderMatcher_PresentMatch:
			ok = present == s.PresentMatch
		case *routev3.HeaderMatcher_StringMatch:
			if present {
				var err error
				if ok, err = stringMatches(s.StringMatch, v); err != nil {
					return false, err
				}
			}
		default:
			return false, fmt.Errorf("unsupported header matcher %T", s)
		}
		if ok == h.GetInvertMatch() {
			return false, nil
		}
	}
	for _, q := range m.GetQueryParameters() {
		vs, present := query[q.GetName()]
		switch s := q.GetQueryParameterMatchSpecifier().(type) {
		case *routev3.QueryParameterMatcher_PresentMatch:
			if present != s.PresentMatch {
				return false, nil
			}
		case *routev3.QueryParameterMatcher_StringMatch:
			if !present {
				return false, nil
			}
			ok, err := stringMatches(s.StringMatch, vs[0])
			if err != nil || !ok {
				return false, err
			}
		default:
			return false, fmt.Errorf("unsupported query parameter matcher %T", s)
		}
	}
	return true, nil
}

func stringMatches(sm *matcherv3.StringMatcher, v string) (bool, error) {
	if sm.GetIgnoreCase() {
		return false, fmt.Errorf("ignore_case is not supported")
	}
	switch p := sm.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return v == p.Exact, nil
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(v, p.Prefix), nil
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(v, p.Suffix), nil
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(v, p.Contains), nil
	case *matcherv3.StringMatcher_SafeRegex:
		return fullMatch(p.SafeRegex.GetRegex(), v)
	}
	return false, fmt.Errorf("unsupported string matcher %T", sm.GetMatchPattern())
}

// fullMatch is RE2::FullMatch, which Envoy's safe_regex uses.
func fullMatch(expr, s string) (bool, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return false, fmt.Errorf("regex %q: %w", expr, err)
	}
	return re.MatchString(s), nil
}

func act(d Decision, r *routev3.Route, req Request, host, path, rawQuery string, headers map[string]string) (Decision, error) {
	withQuery := func(p string) string {
		if rawQuery == "" {
			return p
		}
		return p + "?" + rawQuery
	}
	switch a := r.GetAction().(type) {
	case *routev3.Route_DirectResponse:
		d.Status = int(a.DirectResponse.GetStatus())
		return d, nil
	case *routev3.Route_Redirect:
		rd := a.Redirect
		d.Status = redirectStatus(rd.GetResponseCode())
		scheme := req.Scheme
		if s := rd.GetSchemeRedirect(); s != "" {
			scheme = s
		}
		if rd.GetHttpsRedirect() {
			scheme = "https"
		}
		h := host
		if rd.GetHostRedirect() != "" {
			h = rd.GetHostRedirect()
		}
		if p := rd.GetPortRedirect(); p != 0 {
			h += ":" + strconv.Itoa(int(p))
		}
		newPath := path
		switch ps := rd.GetPathRewriteSpecifier().(type) {
		case *routev3.RedirectAction_PathRedirect:
			newPath = ps.PathRedirect
		case *routev3.RedirectAction_PrefixRewrite:
			newPath = rewritePrefix(r.GetMatch(), path, ps.PrefixRewrite)
		case *routev3.RedirectAction_RegexRewrite:
			var err error
			if newPath, err = rewriteRegex(ps.RegexRewrite, path); err != nil {
				return d, err
			}
		case nil:
		default:
			return d, fmt.Errorf("unsupported redirect path rewrite %T", ps)
		}
		if !rd.GetStripQuery() {
			newPath = withQuery(newPath)
		}
		d.Location = scheme + "://" + h + newPath
		return d, nil
	case *routev3.Route_Route:
		ra := a.Route
		d.Status = 0
		switch cs := ra.GetClusterSpecifier().(type) {
		case *routev3.RouteAction_Cluster:
			d.Cluster = cs.Cluster
		case *routev3.RouteAction_WeightedClusters:
			for _, c := range cs.WeightedClusters.GetClusters() {
				d.WeightedClusters = append(d.WeightedClusters, WeightedCluster{Name: c.GetName(), Weight: c.GetWeight().GetValue()})
			}
		default:
			return d, fmt.Errorf("unsupported cluster specifier %T", cs)
		}
		switch ra.GetClusterNotFoundResponseCode() {
		case routev3.RouteAction_SERVICE_UNAVAILABLE:
			d.ClusterNotFoundStatus = 503
		case routev3.RouteAction_NOT_FOUND:
			d.ClusterNotFoundStatus = 404
		case routev3.RouteAction_INTERNAL_SERVER_ERROR:
			d.ClusterNotFoundStatus = 500
		}
		d.Host = host
		if l := ra.GetHostRewriteLiteral(); l != "" {
			d.Host = l
		}
		newPath := path
		switch {
		case ra.GetRegexRewrite() != nil:
			var err error
			if newPath, err = rewriteRegex(ra.GetRegexRewrite(), path); err != nil {
				return d, err
			}
		case ra.GetPrefixRewrite() != "":
			newPath = rewritePrefix(r.GetMatch(), path, ra.GetPrefixRewrite())
		}
		d.Path = withQuery(newPath)
		if ra.GetTimeout() != nil {
			t := ra.GetTimeout().AsDuration()
			d.Timeout = &t
		}
		for _, m := range ra.GetRequestMirrorPolicies() {
			d.Mirrors = append(d.Mirrors, Mirror{Cluster: m.GetCluster(), Percent: percent(m.GetRuntimeFraction().GetDefaultValue())})
		}
		d.RequestHeaders = map[string]string{}
		for k, v := range headers {
			if !strings.HasPrefix(k, ":") {
				d.RequestHeaders[k] = v
			}
		}
		applyHeaders(d.RequestHeaders, r.GetRequestHeadersToRemove(), r.GetRequestHeadersToAdd())
		d.ResponseHeadersToAdd = map[string]string{}
		applyHeaders(d.ResponseHeadersToAdd, nil, r.GetResponseHeadersToAdd())
		d.ResponseHeadersToRemove = append([]string(nil), r.GetResponseHeadersToRemove()...)
		sort.Strings(d.ResponseHeadersToRemove)
		return d, nil
	}
	return d, fmt.Errorf("route %q: unsupported action %T", r.GetName(), r.GetAction())
}

func applyHeaders(h map[string]string, remove []string, add []*corev3.HeaderValueOption) {
	for _, n := range remove {
		delete(h, strings.ToLower(n))
	}
	for _, o := range add {
		k, v := strings.ToLower(o.GetHeader().GetKey()), o.GetHeader().GetValue()
		switch o.GetAppendAction() {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
			if old, ok := h[k]; ok {
				v = old + "," + v
			}
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			if _, ok := h[k]; ok {
				continue
			}
		}
		h[k] = v
	}
}

// rewritePrefix replaces the matched prefix, as Envoy's prefix_rewrite.
func rewritePrefix(m *routev3.RouteMatch, path, repl string) string {
	var n int
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		n = len(ps.Prefix)
	case *routev3.RouteMatch_PathSeparatedPrefix:
		n = len(ps.PathSeparatedPrefix)
	case *routev3.RouteMatch_Path:
		n = len(ps.Path)
	}
	if n > len(path) {
		n = len(path)
	}
	return repl + path[n:]
}

// rewriteRegex replaces every match, as RE2::GlobalReplace (Envoy writes
// capture groups as \1; berth emits none).
func rewriteRegex(rs *matcherv3.RegexMatchAndSubstitute, path string) (string, error) {
	re, err := regexp.Compile(rs.GetPattern().GetRegex())
	if err != nil {
		return "", fmt.Errorf("regex rewrite: %w", err)
	}
	if strings.Contains(rs.GetSubstitution(), `\`) {
		return "", fmt.Errorf("regex rewrite substitutions with capture groups are not supported")
	}
	return re.ReplaceAllLiteralString(path, rs.GetSubstitution()), nil
}

func redirectStatus(c routev3.RedirectAction_RedirectResponseCode) int {
	switch c {
	case routev3.RedirectAction_MOVED_PERMANENTLY:
		return 301
	case routev3.RedirectAction_FOUND:
		return 302
	case routev3.RedirectAction_SEE_OTHER:
		return 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		return 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		return 308
	}
	return 0
}

func percent(f *typev3.FractionalPercent) float64 {
	if f == nil {
		return 100
	}
	den := 100.0
	switch f.GetDenominator() {
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10000
	case typev3.FractionalPercent_MILLION:
		den = 1000000
	}
	return float64(f.GetNumerator()) * 100 / den
}
