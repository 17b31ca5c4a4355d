package translate

import (
	"fmt"
	"regexp"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A gRPC call is an HTTP/2 POST to /<package.Service>/<Method>, so a
// GRPCRoute rule is expressed as the HTTPRoute rule that routes the same
// requests, and compiled by compileRule: precedence, header matches,
// header modifiers, mirrors, weights, ReferenceGrants and status reasons
// are then the HTTPRoute ones. A method match becomes a path match:
//
//   - Exact service and method: Exact path /service/method.
//   - Exact service only: PathPrefix /service (every method of it).
//   - Exact method only: RegularExpression /[^/]+/method.
//   - RegularExpression: /(?:service)/(?:method), an omitted part matching
//     any name ([^/]+).
//   - No method match: every request (PathPrefix /), as the spec says.
//
// Routes match on the path only, not on content-type: a non-gRPC request
// to a matching path reaches the gRPC backend (which answers it), as in
// other Envoy-based implementations.

// grpcPrecedence adjusts the precedence of a compiled GRPCRoute rule's
// matches to the spec's order for GRPCRoute (characters in a matching
// service, then in a matching method, then header matches): an Exact
// method-only match (regex /[^/]+/method) names no service, so it ranks
// after every service match, as a "/" prefix that has a method match, just
// above a rule without method match. Exact service+method (an Exact path)
// and service-only (a prefix as long as the service) already rank as the
// spec says; RegularExpression matches rank between the two, as
// RegularExpression paths do.
func grpcPrecedence(rule *compiledRule, in *gwv1.GRPCRouteRule) {
	for i := range rule.matches {
		m := &rule.matches[i]
		if m.index >= len(in.Matches) || in.Matches[m.index].Method == nil {
			continue
		}
		mm := in.Matches[m.index].Method
		exact := mm.Type == nil || *mm.Type == gwv1.GRPCMethodMatchExact
		if exact && (mm.Service == nil || *mm.Service == "") {
			m.key.pathRank, m.key.pathLen, m.key.hasMethod = 2, 1, true
		}
	}
}

// The Gateway API's validation patterns for GRPCMethodMatch Exact values.
var (
	grpcServicePattern = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// grpcRule expresses a GRPCRoute rule as the equivalent HTTPRoute rule.
func grpcRule(in *gwv1.GRPCRouteRule) (*gwv1.HTTPRouteRule, error) {
	out := &gwv1.HTTPRouteRule{Name: in.Name, SessionPersistence: in.SessionPersistence}
	for j, m := range in.Matches {
		hm, err := grpcMatch(m)
		if err != nil {
			return nil, fmt.Errorf("match %d: %w", j, err)
		}
		out.Matches = append(out.Matches, hm)
	}
	for _, f := range in.Filters {
		hf, err := grpcFilter(f)
		if err != nil {
			return nil, err
		}
		out.Filters = append(out.Filters, hf)
	}
	for k, b := range in.BackendRefs {
		hb := gwv1.HTTPBackendRef{BackendRef: b.BackendRef}
		for _, f := range b.Filters {
			hf, err := grpcFilter(f)
			if err != nil {
				return nil, fmt.Errorf("backendRef %d: %w", k, err)
			}
			hb.Filters = append(hb.Filters, hf)
		}
		out.BackendRefs = append(out.BackendRefs, hb)
	}
	return out, nil
}

func grpcMatch(m gwv1.GRPCRouteMatch) (gwv1.HTTPRouteMatch, error) {
	var out gwv1.HTTPRouteMatch
	if mm := m.Method; mm != nil {
		svc, method := "", ""
		if mm.Service != nil {
			svc = *mm.Service
		}
		if mm.Method != nil {
			method = *mm.Method
		}
		if svc == "" && method == "" {
			return out, fmt.Errorf("method match needs a service or a method")
		}
		typ := gwv1.GRPCMethodMatchExact
		if mm.Type != nil {
			typ = *mm.Type
		}
		var pathType gwv1.PathMatchType
		var value string
		switch typ {
		case gwv1.GRPCMethodMatchExact:
			if svc != "" && !grpcServicePattern.MatchString(svc) {
				return out, fmt.Errorf("service %q is not a valid gRPC service name", svc)
			}
			if method != "" && !grpcMethodPattern.MatchString(method) {
				return out, fmt.Errorf("method %q is not a valid gRPC method name", method)
			}
			switch {
			case svc != "" && method != "":
				pathType, value = gwv1.PathMatchExact, "/"+svc+"/"+method
			case svc != "":
				pathType, value = gwv1.PathMatchPathPrefix, "/"+svc
			default:
				pathType, value = gwv1.PathMatchRegularExpression, "/[^/]+/"+regexp.QuoteMeta(method)
			}
		case gwv1.GRPCMethodMatchRegularExpression:
			part := func(what, re string) (string, error) {
				if re == "" {
					return "[^/]+", nil
				}
				if err := checkRegex(re); err != nil {
					return "", fmt.Errorf("%s regex: %w", what, err)
				}
				return "(?:" + re + ")", nil
			}
			s, err := part("service", svc)
			if err != nil {
				return out, err
			}
			me, err := part("method", method)
			if err != nil {
				return out, err
			}
			pathType, value = gwv1.PathMatchRegularExpression, "/"+s+"/"+me
		default:
			return out, fmt.Errorf("method match type %q is not supported", typ)
		}
		out.Path = &gwv1.HTTPPathMatch{Type: &pathType, Value: &value}
	}
	for _, h := range m.Headers {
		typ := gwv1.HeaderMatchExact
		if h.Type != nil {
			switch *h.Type {
			case gwv1.GRPCHeaderMatchExact:
			case gwv1.GRPCHeaderMatchRegularExpression:
				typ = gwv1.HeaderMatchRegularExpression
			default:
				return out, fmt.Errorf("header %s: match type %q is not supported", h.Name, *h.Type)
			}
		}
		out.Headers = append(out.Headers, gwv1.HTTPHeaderMatch{Type: &typ, Name: gwv1.HTTPHeaderName(h.Name), Value: h.Value})
	}
	return out, nil
}

// grpcFilter expresses a GRPCRoute filter as the HTTPRoute filter of the
// same type; GRPCRoute has no redirects or rewrites.
func grpcFilter(f gwv1.GRPCRouteFilter) (gwv1.HTTPRouteFilter, error) {
	switch f.Type {
	case gwv1.GRPCRouteFilterRequestHeaderModifier:
		return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: f.RequestHeaderModifier}, nil
	case gwv1.GRPCRouteFilterResponseHeaderModifier:
		return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: f.ResponseHeaderModifier}, nil
	case gwv1.GRPCRouteFilterRequestMirror:
		return gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: f.RequestMirror}, nil
	}
	return gwv1.HTTPRouteFilter{}, fmt.Errorf("filter type %q is not supported", f.Type)
}
