package translate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// compiledRoute is a route checked and converted once per Gateway; the
// listener-specific parts (redirect ports, hostnames) are applied when its
// routes are placed in virtual hosts.
type compiledRoute struct {
	route        *route
	rank         int // precedence across routes
	rules        []*compiledRule
	valid        int      // rules that are programmed
	invalid      []string // "rule N: why", for dropped rules
	resolvedRefs cond
}

// compiledRule is one valid rule (of an HTTPRoute, or of a GRPCRoute
// expressed as an HTTPRoute rule, see grpcRule).
type compiledRule struct {
	index       int
	matches     []compiledMatch
	reqHeaders  *model.HeaderModifier
	respHeaders *model.HeaderModifier
	redirect    *gwv1.HTTPRequestRedirectFilter
	rewrite     *gwv1.HTTPURLRewriteFilter
	mirrors     []mirror
	backends    []backend // resolved, weight > 0
	// forward is the rule's model.Forward without a path rewrite and with
	// the backends' clusters (nil for a redirect or without backends);
	// forwardOf completes it per match.
	forward *model.Forward
	// invalidWeight is the weight of backendRefs that did not resolve:
	// that share of requests must get a 500.
	invalidWeight uint32
	timeout       *time.Duration
	perTryTimeout *time.Duration
	retry         *model.Retry
	// grpc: a GRPCRoute rule; its calls may stream for long, so Envoy's
	// default 15 s route timeout is off and the client's grpc-timeout
	// header bounds the call instead.
	grpc bool
}

// compiledMatch is one match of a rule with its precedence.
type compiledMatch struct {
	index int
	match model.Match
	key   precedence
	// forward is the rule's forward with this match's path rewrite, built
	// once (see forwardOf).
	forward *model.Forward
}

// precedence orders matches as the Gateway API requires (see less).
type precedence struct {
	pathRank  int // 0 Exact, 1 RegularExpression, 2 PathPrefix
	pathLen   int
	hasMethod bool
	headers   int
	queries   int
}

type backend struct {
	service *corev1.Service
	port    *corev1.ServicePort // in service.Spec.Ports
	cluster string
	// http2: the backend is referenced by a GRPCRoute, so it speaks
	// HTTP/2 (gRPC needs it end to end).
	http2       bool
	weight      uint32
	reqHeaders  *model.HeaderModifier
	respHeaders *model.HeaderModifier
	// tls is the upstream TLS of the Service port (BackendTLSPolicy; nil:
	// plain text).
	tls *model.UpstreamTLS
}

type mirror struct {
	backend  backend
	fraction *model.Fraction
}

// compile checks and converts r, once per Gateway. A GRPCRoute's rules are
// first expressed as HTTPRoute rules (grpcRule): a gRPC call is an HTTP/2
// POST to /service/method, so everything after that is shared.
func (t *gatewayTranslator) compile(r *route) *compiledRoute {
	if cr, ok := t.compiled[r]; ok {
		return cr
	}
	cr := &compiledRoute{route: r, rank: t.ix.routeRank[r], resolvedRefs: cond{ok: true}}
	t.compiled[r] = cr
	if isL4(r.kind) {
		t.compileL4(cr)
		return cr
	}
	var n int
	if r.http != nil {
		n = len(r.http.Spec.Rules)
	} else {
		n = len(r.grpc.Spec.Rules)
	}
	for i := 0; i < n; i++ {
		var in *gwv1.HTTPRouteRule
		var err error
		if r.http != nil {
			in = &r.http.Spec.Rules[i]
		} else {
			in, err = grpcRule(&r.grpc.Spec.Rules[i])
		}
		var rule *compiledRule
		if err == nil {
			rule, err = t.compileRule(cr, i, in)
		}
		if err == nil && r.grpc != nil {
			grpcPrecedence(rule, &r.grpc.Spec.Rules[i])
			rule.grpc = true
		}
		if err != nil {
			cr.invalid = append(cr.invalid, fmt.Sprintf("rule %d: %v", i, err))
			continue
		}
		cr.rules = append(cr.rules, rule)
		cr.valid++
	}
	return cr
}

func (t *gatewayTranslator) compileRule(cr *compiledRoute, index int, in *gwv1.HTTPRouteRule) (*compiledRule, error) {
	rule := &compiledRule{index: index}
	matches := in.Matches
	if len(matches) == 0 {
		matches = []gwv1.HTTPRouteMatch{{}}
	}
	for j, m := range matches {
		cm, err := compileMatch(m)
		if err != nil {
			return nil, fmt.Errorf("match %d: %w", j, err)
		}
		cm.index = j
		rule.matches = append(rule.matches, cm)
	}
	for _, f := range in.Filters {
		if err := t.compileFilter(cr, rule, f); err != nil {
			return nil, err
		}
	}
	if rule.redirect != nil && rule.rewrite != nil {
		return nil, fmt.Errorf("RequestRedirect and URLRewrite cannot be combined")
	}
	if err := checkPrefixModifier(rule); err != nil {
		return nil, err
	}
	if tm := in.Timeouts; tm != nil {
		var err error
		if rule.timeout, err = parseDuration("timeouts.request", tm.Request); err != nil {
			return nil, err
		}
		if rule.perTryTimeout, err = parseDuration("timeouts.backendRequest", tm.BackendRequest); err != nil {
			return nil, err
		}
		if rule.timeout != nil && rule.perTryTimeout != nil && *rule.timeout != 0 && (*rule.perTryTimeout == 0 || *rule.perTryTimeout > *rule.timeout) {
			return nil, fmt.Errorf("timeouts.backendRequest must not exceed timeouts.request")
		}
	}
	if in.SessionPersistence != nil {
		return nil, fmt.Errorf("sessionPersistence is not supported")
	}
	if in.Retry != nil {
		var err error
		if rule.retry, err = compileRetry(in.Retry); err != nil {
			return nil, err
		}
	}
	if rule.redirect != nil {
		return rule, nil // backendRefs are not used by a redirect
	}
	var total uint64
	rule.backends = make([]backend, 0, len(in.BackendRefs))
	for k, ref := range in.BackendRefs {
		weight, err := backendWeight(k, ref.Weight, &total)
		if err != nil {
			return nil, err
		}
		b, ok := t.resolveBackend(cr, ref.BackendObjectReference)
		if ok {
			b.weight = weight
			for _, f := range ref.Filters {
				switch f.Type {
				case gwv1.HTTPRouteFilterRequestHeaderModifier:
					if b.reqHeaders, ok = headerFilter(f.RequestHeaderModifier); !ok {
						return nil, fmt.Errorf("backendRef %d: invalid RequestHeaderModifier", k)
					}
				case gwv1.HTTPRouteFilterResponseHeaderModifier:
					if b.respHeaders, ok = headerFilter(f.ResponseHeaderModifier); !ok {
						return nil, fmt.Errorf("backendRef %d: invalid ResponseHeaderModifier", k)
					}
				default:
					return nil, fmt.Errorf("backendRef %d: filter type %q is not supported on backendRefs", k, f.Type)
				}
			}
			if weight > 0 {
				rule.backends = append(rule.backends, b)
			}
		} else {
			rule.invalidWeight += weight
		}
	}
	return rule, nil
}

// backendWeight is the weight of backendRef k (1 when unset), checked
// against the spec's range; total sums a rule's weights, which must fit
// Envoy's uint32 total weight.
func backendWeight(k int, w *int32, total *uint64) (uint32, error) {
	weight := uint32(1)
	if w != nil {
		if *w < 0 || *w > 1000000 {
			return 0, fmt.Errorf("backendRef %d: weight %d is out of range 0-1000000", k, *w)
		}
		weight = uint32(*w)
	}
	if *total += uint64(weight); *total > 0xffffffff {
		return 0, fmt.Errorf("the sum of backendRef weights is too large")
	}
	return weight, nil
}

// defaultRetryAttempts is used when a retry stanza does not say how often
// (the spec leaves it to the implementation; Envoy's own default is 1).
const defaultRetryAttempts = 1

func compileRetry(r *gwv1.HTTPRouteRetry) (*model.Retry, error) {
	out := &model.Retry{Attempts: defaultRetryAttempts}
	for _, c := range r.Codes {
		if c < 400 || c > 599 {
			return nil, fmt.Errorf("retry code %d is not in 400-599", c)
		}
		if !slices.Contains(out.Codes, uint32(c)) {
			out.Codes = append(out.Codes, uint32(c))
		}
	}
	if r.Attempts != nil {
		if *r.Attempts < 1 || *r.Attempts > 100 {
			return nil, fmt.Errorf("retry attempts %d is not in 1-100", *r.Attempts)
		}
		out.Attempts = uint32(*r.Attempts)
	}
	backoff, err := parseDuration("retry.backoff", r.Backoff)
	if err != nil {
		return nil, err
	}
	if backoff != nil && *backoff > 0 {
		out.Backoff = backoff
	}
	return out, nil
}

// checkPrefixModifier enforces that a ReplacePrefixMatch path modifier is
// only used with PathPrefix matches (it replaces the matched prefix).
func checkPrefixModifier(rule *compiledRule) error {
	var pm *gwv1.HTTPPathModifier
	switch {
	case rule.redirect != nil:
		pm = rule.redirect.Path
	case rule.rewrite != nil:
		pm = rule.rewrite.Path
	}
	if pm == nil {
		return nil
	}
	switch pm.Type {
	case gwv1.FullPathHTTPPathModifier:
		if pm.ReplaceFullPath == nil || !validPath(*pm.ReplaceFullPath) {
			return fmt.Errorf("path modifier: replaceFullPath must be a path starting with /")
		}
	case gwv1.PrefixMatchHTTPPathModifier:
		if pm.ReplacePrefixMatch == nil || !validPath(*pm.ReplacePrefixMatch) {
			return fmt.Errorf("path modifier: replacePrefixMatch must be a path starting with /")
		}
		for _, m := range rule.matches {
			if m.match.PathType != model.PathPrefix {
				return fmt.Errorf("path modifier ReplacePrefixMatch needs PathPrefix matches")
			}
		}
	default:
		return fmt.Errorf("path modifier type %q is not supported", pm.Type)
	}
	return nil
}

func parseDuration(field string, d *gwv1.Duration) (*time.Duration, error) {
	if d == nil {
		return nil, nil
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil || v < 0 {
		return nil, fmt.Errorf("%s %q is not a valid duration", field, *d)
	}
	return &v, nil
}

func (t *gatewayTranslator) compileFilter(cr *compiledRoute, rule *compiledRule, f gwv1.HTTPRouteFilter) error {
	var ok bool
	switch f.Type {
	case gwv1.HTTPRouteFilterRequestHeaderModifier:
		if rule.reqHeaders, ok = headerFilter(f.RequestHeaderModifier); !ok {
			return fmt.Errorf("invalid RequestHeaderModifier")
		}
	case gwv1.HTTPRouteFilterResponseHeaderModifier:
		if rule.respHeaders, ok = headerFilter(f.ResponseHeaderModifier); !ok {
			return fmt.Errorf("invalid ResponseHeaderModifier")
		}
	case gwv1.HTTPRouteFilterRequestRedirect:
		rd := f.RequestRedirect
		if rd == nil {
			return fmt.Errorf("RequestRedirect filter without requestRedirect")
		}
		if rd.Scheme != nil && *rd.Scheme != "http" && *rd.Scheme != "https" {
			return fmt.Errorf("redirect scheme %q is not supported", *rd.Scheme)
		}
		if rd.Hostname != nil && !validHostname(string(*rd.Hostname)) || rd.Hostname != nil && strings.HasPrefix(string(*rd.Hostname), "*") {
			return fmt.Errorf("redirect hostname %q is not valid", *rd.Hostname)
		}
		if rd.Port != nil && (*rd.Port < 1 || *rd.Port > 65535) {
			return fmt.Errorf("redirect port %d is not valid", *rd.Port)
		}
		if rd.StatusCode != nil && !slices.Contains(redirectStatusCodes, *rd.StatusCode) {
			return fmt.Errorf("redirect status code %d is not supported", *rd.StatusCode)
		}
		rule.redirect = rd
	case gwv1.HTTPRouteFilterURLRewrite:
		rw := f.URLRewrite
		if rw == nil {
			return fmt.Errorf("URLRewrite filter without urlRewrite")
		}
		if rw.Hostname != nil && (!validHostname(string(*rw.Hostname)) || strings.HasPrefix(string(*rw.Hostname), "*")) {
			return fmt.Errorf("rewrite hostname %q is not valid", *rw.Hostname)
		}
		rule.rewrite = rw
	case gwv1.HTTPRouteFilterRequestMirror:
		m := f.RequestMirror
		if m == nil {
			return fmt.Errorf("RequestMirror filter without requestMirror")
		}
		fraction, err := mirrorFraction(m)
		if err != nil {
			return err
		}
		b, ok := t.resolveBackend(cr, m.BackendRef)
		if ok { // an unresolved mirror is reported in ResolvedRefs and skipped
			rule.mirrors = append(rule.mirrors, mirror{backend: b, fraction: fraction})
		}
	default:
		return fmt.Errorf("filter type %q is not supported", f.Type)
	}
	return nil
}

// redirectStatusCodes are the redirect codes the spec allows (and Envoy
// supports); the default is 302.
var redirectStatusCodes = []int{301, 302, 303, 307, 308}

// Fraction denominators of a mirror.
const (
	hundred = 100
	million = 1000000
)

func mirrorFraction(m *gwv1.HTTPRequestMirrorFilter) (*model.Fraction, error) {
	switch {
	case m.Percent != nil && m.Fraction != nil:
		return nil, fmt.Errorf("RequestMirror: percent and fraction are exclusive")
	case m.Percent != nil:
		if *m.Percent < 0 || *m.Percent > 100 {
			return nil, fmt.Errorf("RequestMirror: percent %d is out of range 0-100", *m.Percent)
		}
		return &model.Fraction{Numerator: uint32(*m.Percent), Denominator: hundred}, nil
	case m.Fraction != nil:
		den := int64(100)
		if m.Fraction.Denominator != nil {
			den = int64(*m.Fraction.Denominator)
		}
		num := int64(m.Fraction.Numerator)
		if den < 1 || num < 0 || num > den {
			return nil, fmt.Errorf("RequestMirror: fraction %d/%d is not valid", num, den)
		}
		return &model.Fraction{Numerator: uint32(num * million / den), Denominator: million}, nil
	}
	return nil, nil
}

// resolveBackend resolves a backend reference of route cr to a Service
// port; failures are recorded in cr's ResolvedRefs condition.
func (t *gatewayTranslator) resolveBackend(cr *compiledRoute, ref gwv1.BackendObjectReference) (backend, bool) {
	r := cr.route.meta
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := nsOr(ref.Namespace, r.Namespace)
	key := k8stypes.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	if group != "" || kind != "Service" {
		cr.resolvedRefs.fail(string(gwv1.RouteReasonInvalidKind), "backendRef %s %s: only core Services are supported", kind, key)
		return backend{}, false
	}
	t.deps.add(&t.deps.services, key)
	if ns != r.Namespace {
		t.deps.addNS(&t.deps.grantNamespaces, ns)
	}
	if !t.ix.referenceAllowed(gwv1.GroupName, cr.route.kind, r.Namespace, "", "Service", ns, string(ref.Name)) {
		cr.resolvedRefs.fail(string(gwv1.RouteReasonRefNotPermitted), "backendRef Service %s is in another namespace and no ReferenceGrant allows it", key)
		return backend{}, false
	}
	svc := t.ix.lookup.Service(key)
	if svc == nil {
		cr.resolvedRefs.fail(string(gwv1.RouteReasonBackendNotFound), "backendRef Service %s not found", key)
		return backend{}, false
	}
	if ref.Port == nil {
		cr.resolvedRefs.fail(string(gwv1.RouteReasonBackendNotFound), "backendRef Service %s: port is required", key)
		return backend{}, false
	}
	// UDPRoutes forward to UDP Service ports, every other kind to TCP ones.
	protocol := backendProtocol(cr.route.kind)
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Port == int32(*ref.Port) && portProtocol(p.Protocol) == protocol {
			cluster := backendClusterName(ns, svc.Name, p.Port, protocol)
			if protocol == corev1.ProtocolUDP {
				return backend{service: svc, port: p, cluster: cluster}, true
			}
			// A port whose BackendTLSPolicy is unusable gets no traffic
			// (500), never plain text; the policy's status says why.
			tls, ok := t.upstreamTLS(svc, p)
			return backend{service: svc, port: p, cluster: cluster, http2: cr.route.kind == KindGRPCRoute, tls: tls}, ok
		}
	}
	cr.resolvedRefs.fail(string(gwv1.RouteReasonBackendNotFound), "backendRef Service %s has no %s port %d", key, protocol, *ref.Port)
	return backend{}, false
}

func compileMatch(m gwv1.HTTPRouteMatch) (compiledMatch, error) {
	var cm compiledMatch
	pathType, value := gwv1.PathMatchPathPrefix, "/"
	if m.Path != nil {
		if m.Path.Type != nil {
			pathType = *m.Path.Type
		}
		if m.Path.Value != nil {
			value = *m.Path.Value
		}
	}
	switch pathType {
	case gwv1.PathMatchExact:
		if !validPath(value) {
			return cm, fmt.Errorf("path %q is not a valid absolute path", value)
		}
		cm.match.PathType, cm.match.Path = model.PathExact, value
		cm.key = precedence{pathRank: 0, pathLen: len(value)}
	case gwv1.PathMatchPathPrefix:
		if !validPath(value) {
			return cm, fmt.Errorf("path prefix %q is not a valid absolute path", value)
		}
		// Gateway API prefixes match whole path elements: /foo matches
		// /foo and /foo/bar, never /foobar.
		cm.match.PathType, cm.match.Path = model.PathPrefix, strings.TrimRight(value, "/")
		cm.key = precedence{pathRank: 2, pathLen: len(cm.match.Path) + 1}
	case gwv1.PathMatchRegularExpression:
		if err := checkRegex(value); err != nil {
			return cm, fmt.Errorf("path regex: %w", err)
		}
		cm.match.PathType, cm.match.Path = model.PathRegex, value
		cm.key = precedence{pathRank: 1, pathLen: len(value)}
	default:
		return cm, fmt.Errorf("path match type %q is not supported", pathType)
	}
	for _, h := range m.Headers {
		name := strings.ToLower(string(h.Name))
		if !validToken(name) {
			return cm, fmt.Errorf("header name %q is not valid", h.Name)
		}
		if slices.ContainsFunc(cm.match.Headers, func(s model.StringMatch) bool { return s.Name == name }) {
			continue // the spec: only the first match of a name counts
		}
		sm, err := stringMatch(name, h.Type == nil || *h.Type == gwv1.HeaderMatchExact, h.Type != nil && *h.Type == gwv1.HeaderMatchRegularExpression, h.Value)
		if err != nil {
			return cm, fmt.Errorf("header %s: %w", h.Name, err)
		}
		cm.match.Headers = append(cm.match.Headers, sm)
	}
	cm.key.headers = len(cm.match.Headers)
	for _, q := range m.QueryParams {
		name := string(q.Name)
		if !validToken(name) || len(name) > 1024 {
			return cm, fmt.Errorf("query parameter name %q is not valid", q.Name)
		}
		if slices.ContainsFunc(cm.match.QueryParams, func(s model.StringMatch) bool { return s.Name == name }) {
			continue
		}
		sm, err := stringMatch(name, q.Type == nil || *q.Type == gwv1.QueryParamMatchExact, q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression, q.Value)
		if err != nil {
			return cm, fmt.Errorf("query parameter %s: %w", q.Name, err)
		}
		cm.match.QueryParams = append(cm.match.QueryParams, sm)
	}
	cm.key.queries = len(cm.match.QueryParams)
	if m.Method != nil {
		if !validToken(string(*m.Method)) {
			return cm, fmt.Errorf("method %q is not valid", *m.Method)
		}
		cm.key.hasMethod = true
		cm.match.Method = string(*m.Method)
	}
	return cm, nil
}

func stringMatch(name string, exact, regex bool, value string) (model.StringMatch, error) {
	if !validHeaderValue(value) {
		return model.StringMatch{}, fmt.Errorf("value %q contains a control character", value)
	}
	switch {
	case regex:
		if err := checkRegex(value); err != nil {
			return model.StringMatch{}, err
		}
		return model.StringMatch{Name: name, Value: value, Regex: true}, nil
	case exact:
		return model.StringMatch{Name: name, Value: value}, nil
	}
	return model.StringMatch{}, fmt.Errorf("match type is not supported")
}

// pathPattern is the Gateway API's pattern for Exact and PathPrefix values.
var pathPattern = regexp.MustCompile(`^/(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})*$`)

func validPath(p string) bool {
	return len(p) <= 1024 && pathPattern.MatchString(p) && !strings.Contains(p, "//")
}

// validToken reports whether s is an HTTP token (RFC 7230), as header and
// query parameter names must be.
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue accepts what Envoy accepts in a header value (and what
// a protobuf string can carry: valid UTF-8).
func validHeaderValue(s string) bool {
	return len(s) <= 4096 && !strings.ContainsAny(s, "\x00\r\n") && utf8.ValidString(s)
}

// headerFilter converts a header modifier; false when a name or value
// cannot be sent by Envoy (pseudo-headers and Host cannot be modified).
func headerFilter(f *gwv1.HTTPHeaderFilter) (*model.HeaderModifier, bool) {
	if f == nil {
		return nil, false
	}
	mods := &model.HeaderModifier{}
	ok := func(name string) bool {
		n := strings.ToLower(name)
		return validToken(n) && n != "host"
	}
	for _, h := range f.Set {
		n := strings.ToLower(string(h.Name))
		if !ok(n) || !validHeaderValue(h.Value) {
			return mods, false
		}
		if slices.ContainsFunc(mods.Set, func(s model.Header) bool { return s.Name == n }) {
			continue
		}
		mods.Set = append(mods.Set, model.Header{Name: n, Value: h.Value})
	}
	for _, h := range f.Add {
		n := strings.ToLower(string(h.Name))
		if !ok(n) || !validHeaderValue(h.Value) {
			return mods, false
		}
		mods.Add = append(mods.Add, model.Header{Name: n, Value: h.Value})
	}
	for _, name := range f.Remove {
		n := strings.ToLower(name)
		if !ok(n) {
			return mods, false
		}
		mods.Remove = append(mods.Remove, n)
	}
	return mods, true
}
