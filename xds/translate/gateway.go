package translate

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/xds/translate/model"
)

// gatewayTranslator holds the state of one Gateway's translation: the
// Gateway API side (listeners, compiled routes, status) and the model's
// clusters and secrets as they are found.
type gatewayTranslator struct {
	ix        *Index
	gw        *gwv1.Gateway
	listeners []*listenerState // the Gateway's own, then its ListenerSets' in precedence order
	sets      []*listenerSetState
	compiled  map[*route]*compiledRoute

	clusters     map[string]*model.Cluster // by name, as routes are placed
	secrets      map[string]*model.Secret  // by name, of resolved certificateRefs
	routeStatus  []RouteParentStatus
	deps         deps
	backendTLS   backendTLSState // backendtls.go
	policyStatus []PolicyStatus  // ClientTrafficPolicies (clienttraffic.go)
	ctp          clientTraffic   // the policies that apply (clienttraffic.go)
}

// deps collects the Dependencies of a translation.
type deps struct {
	services, secrets     map[k8stypes.NamespacedName]bool
	proxies               map[k8stypes.NamespacedName]bool
	grantNamespaces, nses map[string]bool
	configMaps, policies  map[k8stypes.NamespacedName]bool
}

func (d *deps) add(set *map[k8stypes.NamespacedName]bool, key k8stypes.NamespacedName) {
	if *set == nil {
		*set = map[k8stypes.NamespacedName]bool{}
	}
	(*set)[key] = true
}

func (d *deps) addNS(set *map[string]bool, ns string) {
	if *set == nil {
		*set = map[string]bool{}
	}
	(*set)[ns] = true
}

func sortedKeys(set map[k8stypes.NamespacedName]bool) []k8stypes.NamespacedName {
	out := make([]k8stypes.NamespacedName, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return lessKey(out[i], out[j]) })
	return out
}

func keySet(keys []k8stypes.NamespacedName) map[k8stypes.NamespacedName]bool {
	out := make(map[k8stypes.NamespacedName]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}

func sortedStrings(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listenerState is one Gateway listener while it is being translated.
type listenerState struct {
	spec gwv1.Listener
	// set is the ListenerSet the listener comes from; nil for the
	// Gateway's own listeners.
	set       *listenerSetState
	envoyPort uint32
	kinds     []gwv1.RouteGroupKind
	selector  labels.Selector // for allowedRoutes from=Selector
	secret    string          // SDS secret name (HTTPS or TLS Terminate with a usable certificate)
	// clientValidation validates client certificates (spec.tls.frontend;
	// nil: none).
	clientValidation *model.ClientValidation
	// passthrough: a TLS listener in mode Passthrough (its connections
	// are forwarded by SNI without terminating TLS).
	passthrough bool

	accepted     cond
	resolvedRefs cond
	conflicted   cond

	attachedRoutes map[*route]bool
	attachments    []attachment
}

// attachment is a route attached to a listener under the hostnames both
// allow.
type attachment struct {
	route     *compiledRoute
	hostnames []string
}

// cond is a condition's status, reason and message.
type cond struct {
	ok      bool
	reason  string
	message string
}

func (c *cond) fail(reason, format string, args ...any) {
	if !c.ok && c.reason != "" {
		return // keep the first failure
	}
	*c = cond{ok: false, reason: reason, message: fmt.Sprintf(format, args...)}
}

func (c cond) condition(t string, okReason, okMessage string) metav1.Condition {
	if c.ok {
		return metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: okReason, Message: okMessage}
	}
	return metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: c.reason, Message: c.message}
}

func newGatewayTranslator(ix *Index, gw *gwv1.Gateway) *gatewayTranslator {
	return &gatewayTranslator{
		ix:       ix,
		gw:       gw,
		compiled: map[*route]*compiledRoute{},
		clusters: map[string]*model.Cluster{},
		secrets:  map[string]*model.Secret{},
	}
}

func (t *gatewayTranslator) translate() *Result {
	t.processBackendClientCertificate()
	t.processListeners()
	t.attachRoutes()
	res := &Result{
		Gateway: k8stypes.NamespacedName{Namespace: t.gw.Namespace, Name: t.gw.Name},
		Routes:  t.routeStatus,
	}
	res.Model = t.buildModel()
	res.ClientTrafficPolicies = t.policyStatus
	res.Resources = buildResources(res.Model)
	res.Version = Version(res.Resources)
	for _, ls := range t.listeners {
		if ls.set == nil {
			res.Listeners = append(res.Listeners, ls.status())
		}
	}
	res.ListenerSets, res.AttachedListenerSets = t.listenerSetStatuses()
	var sets []k8stypes.NamespacedName
	for _, s := range t.sets {
		sets = append(sets, s.key())
	}
	routes := map[gwv1.Kind]map[k8stypes.NamespacedName]bool{KindHTTPRoute: {}, KindGRPCRoute: {}, KindTCPRoute: {}, KindTLSRoute: {}, KindUDPRoute: {}}
	for _, r := range t.ix.routes[res.Gateway] {
		routes[r.kind][r.key()] = true
	}
	res.Dependencies = Dependencies{
		HTTPRoutes:               sortedKeys(routes[KindHTTPRoute]),
		GRPCRoutes:               sortedKeys(routes[KindGRPCRoute]),
		TCPRoutes:                sortedKeys(routes[KindTCPRoute]),
		TLSRoutes:                sortedKeys(routes[KindTLSRoute]),
		UDPRoutes:                sortedKeys(routes[KindUDPRoute]),
		ListenerSets:             sortedKeys(keySet(sets)),
		Services:                 sortedKeys(t.deps.services),
		Secrets:                  sortedKeys(t.deps.secrets),
		ReferenceGrantNamespaces: sortedStrings(t.deps.grantNamespaces),
		Namespaces:               sortedStrings(t.deps.nses),
		ConfigMaps:               sortedKeys(t.deps.configMaps),
		BackendTLSPolicies:       sortedKeys(t.deps.policies),
		EnvoyProxies:             sortedKeys(t.deps.proxies),
	}
	res.Conditions = t.gatewayConditions()
	res.Policies = t.policyStatuses()
	return res
}

// usable reports whether routes may attach to the listener.
func (ls *listenerState) usable() bool { return ls.accepted.ok && ls.conflicted.ok }

// programmed reports whether the listener is part of the Envoy config.
func (ls *listenerState) programmed() bool {
	return ls.usable() && (!ls.terminatesTLS() || ls.secret != "")
}

// terminatesTLS reports whether the listener terminates TLS with its own
// certificate (HTTPS, and TLS in mode Terminate).
func (ls *listenerState) terminatesTLS() bool {
	return ls.spec.Protocol == gwv1.HTTPSProtocolType || ls.spec.Protocol == gwv1.TLSProtocolType && !ls.passthrough
}

func (ls *listenerState) status() ListenerStatus {
	programmed := cond{ok: true}
	if !ls.programmed() {
		reason := string(gwv1.ListenerReasonInvalid)
		if !ls.conflicted.ok {
			reason = ls.conflicted.reason
		}
		programmed = cond{reason: reason, message: "listener is not programmed: " + firstMessage(ls.accepted, ls.conflicted, ls.resolvedRefs)}
	}
	conflicted := metav1.Condition{Type: string(gwv1.ListenerConditionConflicted), Status: metav1.ConditionFalse,
		Reason: string(gwv1.ListenerReasonNoConflicts), Message: "no conflicts"}
	if !ls.conflicted.ok {
		conflicted = metav1.Condition{Type: string(gwv1.ListenerConditionConflicted), Status: metav1.ConditionTrue,
			Reason: ls.conflicted.reason, Message: ls.conflicted.message}
	}
	return ListenerStatus{
		Name:           ls.spec.Name,
		SupportedKinds: ls.kinds,
		AttachedRoutes: int32(len(ls.attachedRoutes)),
		Conditions: []metav1.Condition{
			ls.accepted.condition(string(gwv1.ListenerConditionAccepted), string(gwv1.ListenerReasonAccepted), "listener is valid"),
			conflicted,
			programmed.condition(string(gwv1.ListenerConditionProgrammed), string(gwv1.ListenerReasonProgrammed), "listener is programmed"),
			ls.resolvedRefs.condition(string(gwv1.ListenerConditionResolvedRefs), string(gwv1.ListenerReasonResolvedRefs), "all references are resolved"),
		},
	}
}

func firstMessage(cs ...cond) string {
	for _, c := range cs {
		if !c.ok {
			return c.message
		}
	}
	return "no usable certificate"
}

// envoyPort is the port Envoy binds for a Gateway listener port.
func (t *gatewayTranslator) envoyPort(p gwv1.PortNumber) uint32 {
	if p < 1024 {
		return uint32(int32(p) + t.ix.opts.PrivilegedPortOffset)
	}
	return uint32(p)
}

func (t *gatewayTranslator) processListeners() {
	for _, l := range t.gw.Spec.Listeners {
		t.addListener(l, nil)
	}
	t.detectConflicts()
	t.processListenerSets()
}

// addListener checks one listener of the Gateway (set nil) or of one of
// its ListenerSets, and adds it to the translation.
func (t *gatewayTranslator) addListener(l gwv1.Listener, set *listenerSetState) *listenerState {
	ls := &listenerState{
		spec:           l,
		set:            set,
		envoyPort:      t.envoyPort(l.Port),
		accepted:       cond{ok: true},
		resolvedRefs:   cond{ok: true},
		conflicted:     cond{ok: true},
		attachedRoutes: map[*route]bool{},
	}
	t.listeners = append(t.listeners, ls)
	if !dataplane.Serves(string(l.Protocol)) {
		ls.accepted.fail(string(gwv1.ListenerReasonUnsupportedProtocol), "protocol %q is not supported (%s are)", l.Protocol, strings.Join(dataplane.ServedProtocols, ", "))
		ls.kinds = []gwv1.RouteGroupKind{}
		return ls
	}
	if l.Port < 1 || l.Port > 65535 || t.envoyPort(l.Port) > 65535 {
		ls.accepted.fail(string(gwv1.ListenerReasonPortUnavailable), "port %d cannot be bound", l.Port)
	}
	if l.Hostname != nil && *l.Hostname != "" && !validHostname(hostnameOf(l.Hostname)) {
		ls.accepted.fail(string(gwv1.ListenerReasonUnsupportedValue), "hostname %q is not a valid DNS name", *l.Hostname)
	}
	t.processKinds(ls)
	t.processNamespaces(ls)
	if l.Protocol == gwv1.HTTPSProtocolType || l.Protocol == gwv1.TLSProtocolType {
		t.processTLS(ls)
	}
	return ls
}

// processKinds decides the route kinds a listener accepts: those its
// protocol serves (routeKindsOf), in that order, unless allowedRoutes.kinds
// narrows them.
func (t *gatewayTranslator) processKinds(ls *listenerState) {
	ls.kinds = []gwv1.RouteGroupKind{}
	supported := routeKindsOf(ls.spec.Protocol)
	if ls.spec.AllowedRoutes == nil || len(ls.spec.AllowedRoutes.Kinds) == 0 {
		ls.kinds = append(ls.kinds, supported...)
		return
	}
	var invalid []string
	want := map[gwv1.Kind]bool{}
	for _, k := range ls.spec.AllowedRoutes.Kinds {
		if (k.Group == nil || *k.Group == gwv1.GroupName) && slices.ContainsFunc(supported, func(s gwv1.RouteGroupKind) bool { return s.Kind == k.Kind }) {
			want[k.Kind] = true
			continue
		}
		invalid = append(invalid, string(k.Kind))
	}
	for _, k := range supported {
		if want[k.Kind] {
			ls.kinds = append(ls.kinds, k)
		}
	}
	if len(invalid) > 0 {
		ls.resolvedRefs.fail(string(gwv1.ListenerReasonInvalidRouteKinds), "route kinds %s are not supported on %s listeners", strings.Join(invalid, ", "), ls.spec.Protocol)
	}
}

func (t *gatewayTranslator) processNamespaces(ls *listenerState) {
	ar := ls.spec.AllowedRoutes
	if ar == nil || ar.Namespaces == nil || ar.Namespaces.From == nil || *ar.Namespaces.From != gwv1.NamespacesFromSelector {
		return
	}
	if ar.Namespaces.Selector == nil {
		ls.accepted.fail(string(gwv1.ListenerReasonUnsupportedValue), "allowedRoutes.namespaces.selector is required when from is Selector")
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(ar.Namespaces.Selector)
	if err != nil {
		ls.accepted.fail(string(gwv1.ListenerReasonUnsupportedValue), "allowedRoutes.namespaces.selector: %v", err)
		return
	}
	ls.selector = sel
}

func (t *gatewayTranslator) processTLS(ls *listenerState) {
	cfg := ls.spec.TLS
	if cfg == nil {
		ls.resolvedRefs.fail(string(gwv1.ListenerReasonInvalidCertificateRef), "%s listener has no tls configuration", ls.spec.Protocol)
		return
	}
	if cfg.Mode != nil && *cfg.Mode == gwv1.TLSModePassthrough && ls.spec.Protocol == gwv1.TLSProtocolType {
		// Forwarded by SNI as it is: no certificate of berth's is involved.
		ls.passthrough = true
		return
	}
	if cfg.Mode != nil && *cfg.Mode != gwv1.TLSModeTerminate {
		ls.accepted.fail(string(gwv1.ListenerReasonUnsupportedValue), "tls mode %q is not supported on %s listeners (Terminate is)", *cfg.Mode, ls.spec.Protocol)
		return
	}
	if len(cfg.CertificateRefs) == 0 {
		ls.resolvedRefs.fail(string(gwv1.ListenerReasonInvalidCertificateRef), "%s listener has no certificateRefs", ls.spec.Protocol)
		return
	}
	for _, ref := range cfg.CertificateRefs {
		name, reason, msg := t.resolveCertificate(ls.ownerKind(), ls.namespace(t.gw), ref)
		if reason != "" {
			ls.resolvedRefs.fail(reason, "%s", msg)
			continue
		}
		if ls.secret == "" {
			// One certificate per listener: Envoy serves the first usable one.
			ls.secret = name
		}
	}
	t.processFrontendValidation(ls)
}

// resolveCertificate resolves a certificateRef to an SDS secret name, or
// returns a listener condition reason and message. The reference is
// relative to its owner (a Gateway, or a ListenerSet for its listeners, of
// ownerKind in namespace owner): that namespace by default, a
// ReferenceGrant to the owner's kind otherwise.
func (t *gatewayTranslator) resolveCertificate(ownerKind gwv1.Kind, owner string, ref gwv1.SecretObjectReference) (name, reason, msg string) {
	group, kind := "", "Secret"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := nsOr(ref.Namespace, owner)
	key := k8stypes.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	if group != "" || kind != "Secret" {
		return "", string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s %s: only core Secrets are supported", kind, key)
	}
	t.deps.add(&t.deps.secrets, key)
	if ns != owner {
		t.deps.addNS(&t.deps.grantNamespaces, ns)
	}
	if !t.ix.referenceAllowed(gwv1.GroupName, ownerKind, owner, "", "Secret", ns, string(ref.Name)) {
		return "", string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("certificateRef Secret %s is in another namespace and no ReferenceGrant allows it", key)
	}
	s := t.ix.lookup.Secret(key)
	if s == nil {
		return "", string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef Secret %s not found", key)
	}
	cert, key2 := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if _, err := tls.X509KeyPair(cert, key2); err != nil {
		return "", string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef Secret %s: invalid tls.crt/tls.key: %v", key, err)
	}
	name = SecretName(ns, string(ref.Name))
	if _, done := t.secrets[name]; !done {
		t.secrets[name] = &model.Secret{Name: name, Certificate: cert, PrivateKey: key2}
	}
	return name, "", ""
}

// detectConflicts marks listeners that cannot share a port, as the spec
// requires: no conflicting listener wins, all of them are Conflicted and not
// Accepted. On one port, listeners of different protocols all conflict
// (ProtocolConflict); listeners of one protocol conflict when they share a
// hostname (HostnameConflict). Accepted and Programmed are False with the
// same reason. Listeners with an unsupported protocol are
// already rejected and take no part. Two ports that bind the same Envoy
// port (80 and 10080 with the default offset) are both PortUnavailable.
func (t *gatewayTranslator) detectConflicts() {
	var ports []gwv1.PortNumber
	byPort := map[gwv1.PortNumber][]*listenerState{}
	envoyPorts := map[uint32]map[gwv1.PortNumber]bool{}
	for _, ls := range t.listeners {
		if !ls.accepted.ok || ls.set != nil {
			continue
		}
		if _, ok := byPort[ls.spec.Port]; !ok {
			ports = append(ports, ls.spec.Port)
		}
		byPort[ls.spec.Port] = append(byPort[ls.spec.Port], ls)
		if envoyPorts[ls.envoyPort] == nil {
			envoyPorts[ls.envoyPort] = map[gwv1.PortNumber]bool{}
		}
		envoyPorts[ls.envoyPort][ls.spec.Port] = true
	}
	for _, port := range ports {
		group := byPort[port]
		protocols := map[string]bool{}
		hostnames := map[string]int{}
		for _, ls := range group {
			// TLS listeners of both modes share a port (TLSRouteModeMixed):
			// each server name's filter chain terminates or passes through.
			protocols[string(ls.spec.Protocol)] = true
			hostnames[ls.selectingHostname()]++
		}
		for _, ls := range group {
			switch {
			case len(protocols) > 1:
				ls.conflict(gwv1.ListenerReasonProtocolConflict, "listeners on port %d use different protocols (%s)", port, strings.Join(sortedStrings(protocols), ", "))
			case hostnames[ls.selectingHostname()] > 1:
				ls.conflict(gwv1.ListenerReasonHostnameConflict, "listeners on port %d share hostname %q", port, ls.selectingHostname())
			}
		}
	}
	for _, ls := range t.listeners {
		if ls.accepted.ok && ls.set == nil && len(envoyPorts[ls.envoyPort]) > 1 {
			ls.accepted.fail(string(gwv1.ListenerReasonPortUnavailable), "ports %s bind the same Envoy port %d", portList(envoyPorts[ls.envoyPort]), ls.envoyPort)
		}
	}
}

// conflict marks the listener Conflicted; Accepted and Programmed say the
// conflict too, as the conformance suite expects of conflicted listeners.
func (ls *listenerState) conflict(reason gwv1.ListenerConditionReason, format string, args ...any) {
	ls.conflicted.fail(string(reason), format, args...)
	ls.accepted.fail(string(reason), format, args...)
}

func portList(ps map[gwv1.PortNumber]bool) string {
	var out []string
	for p := range ps {
		out = append(out, strconv.Itoa(int(p)))
	}
	sort.Strings(out)
	return strings.Join(out, " and ")
}

// allowsRoute reports whether the listener's allowedRoutes admit a route
// of the given kind from namespace ns.
func (t *gatewayTranslator) allowsRoute(ls *listenerState, kind gwv1.Kind, ns string) bool {
	kindOK := false
	for _, k := range ls.kinds {
		kindOK = kindOK || k.Kind == kind
	}
	if !kindOK {
		return false
	}
	from := gwv1.NamespacesFromSame
	if ar := ls.spec.AllowedRoutes; ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil {
		from = *ar.Namespaces.From
	}
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return ns == ls.namespace(t.gw)
	case gwv1.NamespacesFromSelector:
		if ls.selector == nil {
			return false
		}
		t.deps.addNS(&t.deps.nses, ns)
		set := labels.Set{corev1.LabelMetadataName: ns}
		if n := t.ix.lookup.Namespace(ns); n != nil {
			set = labels.Merge(labels.Set(n.Labels), set)
		}
		return ls.selector.Matches(set)
	}
	return false
}

func hostnameOf(h *gwv1.Hostname) string {
	if h == nil {
		return ""
	}
	return strings.ToLower(string(*h))
}

// intersectHostnames returns the hostnames a route serves on a listener
// (sorted, unique): the route's hostnames that the listener's hostname
// admits, narrowed to the more specific of the two; "*" when neither names
// one; nil when they do not meet.
func intersectHostnames(listener string, route []gwv1.Hostname) []string {
	if len(route) == 0 {
		if listener == "" {
			return []string{"*"}
		}
		return []string{listener}
	}
	seen := map[string]bool{}
	var out []string
	for _, rh := range route {
		r := strings.ToLower(string(rh))
		if !validHostname(r) {
			continue
		}
		h := ""
		switch {
		case listener == "" || r == listener:
			h = r
		case matchesWildcard(r, listener):
			h = r // the route's name is within the listener's wildcard
		case matchesWildcard(listener, r):
			h = listener
		}
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

// matchesWildcard reports whether host (exact or wildcard) lies within
// pattern "*.suffix" with at least one more label.
func matchesWildcard(host, pattern string) bool {
	if !strings.HasPrefix(pattern, "*.") {
		return false
	}
	suffix := pattern[1:] // ".example.com"
	h := strings.TrimPrefix(host, "*")
	return len(h) > len(suffix) && strings.HasSuffix(h, suffix) && h[len(h)-len(suffix)-1] != '.'
}

// validHostname accepts a DNS name, optionally starting with "*.", as the
// Gateway API's Hostname type does (no IP addresses, no port).
func validHostname(h string) bool {
	if strings.HasPrefix(h, "*.") {
		h = h[2:]
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }
