package translate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/xds/translate/model"
)

// ClientTrafficPolicy (gateway.envoyproxy.io/v1alpha1, the reference's
// API) changes a Gateway's edge settings (model.HTTPSettings) for the
// whole Gateway or for one listener (sectionName), with the reference's
// precedence: a listener's policy beats its Gateway's (the Gateway's then
// says Overridden), and of two policies on the same target the older
// applies (then the first by namespace/name); the other is Conflicted.
// targetRefs are local: a policy attaches to Gateways of its own
// namespace only. A policy setting a field berth does not implement, or an
// invalid value, is refused (Accepted=False, reason Invalid) and changes
// nothing. Plain HTTP listeners sharing a port share one connection
// manager, so a policy on one of them cannot apply alone: it is refused
// (Conflicted) and the Gateway must be targeted instead; likewise a policy
// on one listener setting what Envoy configures per port (tcpKeepalive,
// connection.bufferLimit and maxAcceptPerSocketEvent,
// timeout.tcp.connectionInspectionTimeout) when other listeners share its
// port.
//
// What a policy configures lands at three levels of the model: the port
// (model.Listener), the filter chain of a Gateway listener (TLS, connection
// limit, TLS handshake and TCP idle timeouts) and its HTTP connection
// manager (model.HTTPSettings). Client certificate validation reads the CA
// bundles of spec.tls.clientValidation.caCertificateRefs (ConfigMaps or
// Secrets, key ca.crt; another namespace's with a ReferenceGrant from
// ClientTrafficPolicy); a reference that does not resolve refuses the
// policy (Invalid), so a listener never serves without the validation
// asked for. The policy's validation replaces the Gateway's
// spec.tls.frontend validation on the listeners it applies to.

// The policy condition types and reasons of the Gateway API and the
// reference (Overridden).
const (
	PolicyConditionOverridden = "Overridden"
)

// PolicyStatus is the status of one ClientTrafficPolicy towards one
// Gateway it targets (its ancestor, with the sectionName of a listener
// target).
type PolicyStatus struct {
	// Policy is the ClientTrafficPolicy.
	Policy k8stypes.NamespacedName
	// Ancestor is the Gateway, with the targeted listener's sectionName.
	Ancestor gwv1.ParentReference
	// Conditions: Accepted, and Overridden for a Gateway-level policy that
	// listener-level policies override; no timestamps.
	Conditions []metav1.Condition
}

// policyTarget is one targetRef of a policy that names the translated
// Gateway.
type policyTarget struct {
	policy  *v1alpha1.ClientTrafficPolicy
	section string // "" for the Gateway
}

// clientTrafficPolicies indexes policies by the Gateways they target.
func (ix *Index) indexClientTrafficPolicies(ps []*v1alpha1.ClientTrafficPolicy) {
	ix.ctps = map[k8stypes.NamespacedName][]*v1alpha1.ClientTrafficPolicy{}
	for _, p := range ps {
		if p == nil {
			continue
		}
		seen := map[k8stypes.NamespacedName]bool{}
		for _, r := range p.Spec.TargetRefs {
			key := k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(r.Name)}
			if r.Kind == "Gateway" && r.Group == gwv1.GroupName && !seen[key] {
				seen[key] = true
				ix.ctps[key] = append(ix.ctps[key], p)
			}
		}
	}
	for _, list := range ix.ctps {
		sort.Slice(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
				return a.CreationTimestamp.Before(&b.CreationTimestamp)
			}
			if a.Namespace != b.Namespace {
				return a.Namespace < b.Namespace
			}
			return a.Name < b.Name
		})
	}
}

// clientTraffic decides which policies apply to the Gateway: the winning
// Gateway-level policy, the winning policy per listener name, and the
// status of every targetRef naming the Gateway.
type clientTraffic struct {
	gateway   *v1alpha1.ClientTrafficPolicy
	listeners map[string]*v1alpha1.ClientTrafficPolicy
	status    []PolicyStatus
	// caBundles are the client validation CAs of the applied policies.
	caBundles map[*v1alpha1.ClientTrafficPolicy][]byte
}

func (t *gatewayTranslator) clientTraffic() clientTraffic {
	out := clientTraffic{listeners: map[string]*v1alpha1.ClientTrafficPolicy{}, caBundles: map[*v1alpha1.ClientTrafficPolicy][]byte{}}
	key := k8stypes.NamespacedName{Namespace: t.gw.Namespace, Name: t.gw.Name}
	policies := t.ix.ctps[key]
	if len(policies) == 0 {
		return out
	}
	// Listeners by name, and the number of HTTP listeners on each port.
	byName := map[string]*listenerState{}
	httpOnPort := map[gwv1.PortNumber]int{}
	onPort := map[gwv1.PortNumber]int{}
	for _, ls := range t.listeners {
		if ls.set == nil {
			// A sectionName of a policy targeting the Gateway names one
			// of the Gateway's own listeners.
			byName[string(ls.spec.Name)] = ls
		}
		onPort[ls.spec.Port]++
		if ls.spec.Protocol == gwv1.HTTPProtocolType {
			httpOnPort[ls.spec.Port]++
		}
	}
	type entry struct {
		target   policyTarget
		accepted cond
	}
	var entries []*entry
	for _, p := range policies {
		var invalid string
		if err := p.Spec.Validate(); err != nil {
			invalid = err.Error()
		} else if u := p.Spec.Unsupported(); len(u) > 0 {
			invalid = "not implemented by berth: " + strings.Join(u, ", ")
		} else if msg := t.clientTrafficCA(p, out.caBundles); msg != "" {
			invalid = msg
		}
		portWide := portWideFields(&p.Spec)
		seen := map[string]bool{}
		for _, r := range p.Spec.TargetRefs {
			if r.Kind != "Gateway" || r.Group != gwv1.GroupName || string(r.Name) != t.gw.Name {
				continue
			}
			section := ""
			if r.SectionName != nil {
				section = string(*r.SectionName)
			}
			if seen[section] {
				continue
			}
			seen[section] = true
			e := &entry{target: policyTarget{policy: p, section: section}, accepted: cond{ok: true}}
			entries = append(entries, e)
			switch {
			case invalid != "":
				e.accepted.fail(string(gwv1.PolicyReasonInvalid), "%s", invalid)
			case section == "":
				if out.gateway != nil {
					e.accepted.fail(string(gwv1.PolicyReasonConflicted), "ClientTrafficPolicy %s/%s, which is older, already applies to Gateway %s", out.gateway.Namespace, out.gateway.Name, key)
				} else if bad := t.withoutDefaultHost(&p.Spec); len(bad) > 0 {
					e.accepted.fail(string(gwv1.PolicyReasonInvalid), "spec.http1.http10.useDefaultHost: listeners %s have no hostname (or a wildcard, or share an HTTP port) to use", strings.Join(bad, ", "))
				} else {
					out.gateway = p
				}
			default:
				ls, ok := byName[section]
				switch {
				case !ok:
					e.accepted.fail(string(gwv1.PolicyReasonTargetNotFound), "Gateway %s has no listener %q", key, section)
				case ls.spec.Protocol == gwv1.HTTPProtocolType && httpOnPort[ls.spec.Port] > 1:
					e.accepted.fail(string(gwv1.PolicyReasonConflicted), "listener %q shares port %d and its HTTP connection manager with other listeners: target the Gateway instead", section, ls.spec.Port)
				case len(portWide) > 0 && onPort[ls.spec.Port] > 1:
					e.accepted.fail(string(gwv1.PolicyReasonConflicted), "listener %q shares port %d with other listeners, and %s apply to the whole port: target the Gateway instead", section, ls.spec.Port, strings.Join(portWide, ", "))
				case !defaultHostOK(&p.Spec, ls):
					e.accepted.fail(string(gwv1.PolicyReasonInvalid), "spec.http1.http10.useDefaultHost: listener %q has no hostname (or a wildcard) to use", section)
				case out.listeners[section] != nil:
					o := out.listeners[section]
					e.accepted.fail(string(gwv1.PolicyReasonConflicted), "ClientTrafficPolicy %s/%s, which is older, already applies to listener %q", o.Namespace, o.Name, section)
				default:
					out.listeners[section] = p
				}
			}
		}
	}
	var overriding []string
	for name := range out.listeners {
		overriding = append(overriding, name)
	}
	sort.Strings(overriding)
	for _, e := range entries {
		ref := gwv1.ParentReference{
			Group: ptrTo(gwv1.Group(gwv1.GroupName)), Kind: ptrTo(gwv1.Kind("Gateway")),
			Namespace: ptrTo(gwv1.Namespace(t.gw.Namespace)), Name: gwv1.ObjectName(t.gw.Name),
		}
		if e.target.section != "" {
			ref.SectionName = ptrTo(gwv1.SectionName(e.target.section))
		}
		st := PolicyStatus{
			Policy:     k8stypes.NamespacedName{Namespace: e.target.policy.Namespace, Name: e.target.policy.Name},
			Ancestor:   ref,
			Conditions: []metav1.Condition{e.accepted.condition(string(gwv1.PolicyConditionAccepted), string(gwv1.PolicyReasonAccepted), "Policy has been accepted")},
		}
		if e.accepted.ok && e.target.section == "" && len(overriding) > 0 {
			st.Conditions = append(st.Conditions, metav1.Condition{
				Type: PolicyConditionOverridden, Status: metav1.ConditionTrue, Reason: PolicyConditionOverridden,
				Message: fmt.Sprintf("listener-level ClientTrafficPolicies override this policy for listeners %s", strings.Join(overriding, ", ")),
			})
		}
		out.status = append(out.status, st)
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// specs are the policies that apply to Gateway listener name, Gateway
// level first (the later overrides).
func (c clientTraffic) specs(listener string) []*v1alpha1.ClientTrafficPolicy {
	var out []*v1alpha1.ClientTrafficPolicy
	if c.gateway != nil {
		out = append(out, c.gateway)
	}
	if p := c.listeners[listener]; p != nil {
		out = append(out, p)
	}
	return out
}

// settingsFor returns the settings of a connection manager serving the
// Gateway listener named listener ("" for the HTTP chain of a port, which
// takes the listener-level policy of its only listener, if any): base with
// the Gateway-level policy, then the listener-level one, applied. host is
// the hostname HTTP/1.0 requests without Host get (useDefaultHost).
func (c clientTraffic) settingsFor(base model.HTTPSettings, listener, host string) model.HTTPSettings {
	s := base
	for _, p := range c.specs(listener) {
		applyClientTraffic(&s, &p.Spec, host)
	}
	return s
}

// applyPort applies the port-wide settings of the policies of a port's
// listeners: the Gateway's, and a listener's when it is alone on the port
// (otherwise its policy was refused if it set any).
func (c clientTraffic) applyPort(l *model.Listener, g *portGroup) {
	var ps []*v1alpha1.ClientTrafficPolicy
	if len(g.listeners) == 1 {
		ps = c.specs(g.listeners[0].envoyName())
	} else {
		ps = c.specs("")
	}
	for _, p := range ps {
		if k := p.Spec.TCPKeepalive; k != nil {
			l.Keepalive = &model.TCPKeepalive{}
			if k.Probes != nil {
				l.Keepalive.Probes = *k.Probes
			}
			l.Keepalive.Idle = parsedDuration(k.IdleTime)
			l.Keepalive.Interval = parsedDuration(k.Interval)
		}
		if cn := p.Spec.Connection; cn != nil {
			if q := cn.BufferLimit; q != nil && l.Protocol != model.ProtocolUDP {
				l.BufferLimitBytes = uint32(q.Value())
			}
			if n := cn.MaxAcceptPerSocketEvent; n != nil {
				l.MaxAcceptPerSocketEvent = *n
			}
		}
		if t := p.Spec.Timeout; t != nil && t.TCP != nil && t.TCP.ConnectionInspectionTimeout != nil {
			l.InspectionTimeout = parsedDuration(t.TCP.ConnectionInspectionTimeout)
		}
	}
}

// applyChain applies the per-listener settings of the policies of
// Gateway listener listener to its filter chain: TLS (when the chain
// terminates it), the connection limit and the TLS handshake and TCP idle
// timeouts.
func (c clientTraffic) applyChain(fc *model.FilterChain, listener string) {
	for _, p := range c.specs(listener) {
		if cn := p.Spec.Connection; cn != nil && cn.ConnectionLimit != nil && cn.ConnectionLimit.Value != nil {
			fc.ConnectionLimit = &model.ConnectionLimit{Max: uint64(*cn.ConnectionLimit.Value), Delay: parsedDuration(cn.ConnectionLimit.CloseDelay)}
		}
		if t := p.Spec.Timeout; t != nil && t.TCP != nil {
			if fc.TLS != nil && t.TCP.TLSHandshakeTimeout != nil {
				fc.HandshakeTimeout = parsedDuration(t.TCP.TLSHandshakeTimeout)
			}
			if fc.TCP != nil && t.TCP.IdleTimeout != nil {
				fc.TCP.IdleTimeout = parsedDuration(t.TCP.IdleTimeout)
			}
		}
		if tl := p.Spec.TLS; tl != nil && fc.TLS != nil {
			c.applyTLS(fc.TLS, p)
		}
	}
	if fc.ConnectionLimit != nil {
		switch {
		case fc.HTTP != nil:
			fc.ConnectionLimit.StatPrefix = fc.HTTP.StatPrefix
		case fc.TCP != nil:
			fc.ConnectionLimit.StatPrefix = fc.TCP.StatPrefix
		}
	}
}

// applyTLS applies a policy's spec.tls to a terminating chain (each chain
// has a DownstreamTLS of its own).
func (c clientTraffic) applyTLS(d *model.DownstreamTLS, p *v1alpha1.ClientTrafficPolicy) {
	tl := p.Spec.TLS
	if tl.MinVersion != nil {
		d.MinVersion = string(*tl.MinVersion)
	}
	if tl.MaxVersion != nil {
		d.MaxVersion = string(*tl.MaxVersion)
	}
	if tl.Ciphers != nil {
		d.Ciphers = tl.Ciphers
	}
	if tl.ECDHCurves != nil {
		d.ECDHCurves = tl.ECDHCurves
	}
	if tl.SignatureAlgorithms != nil {
		d.SignatureAlgorithms = tl.SignatureAlgorithms
	}
	if tl.ALPNProtocols != nil {
		d.ALPN = tl.ALPNProtocols
	}
	if v := tl.ClientValidation; v != nil {
		d.ClientValidation = &model.ClientValidation{TrustedCA: c.caBundles[p], Optional: v.Optional}
	}
}

// clientTrafficCA reads the client validation CAs of p into bundles and
// returns why they cannot be used ("" when they can).
func (t *gatewayTranslator) clientTrafficCA(p *v1alpha1.ClientTrafficPolicy, bundles map[*v1alpha1.ClientTrafficPolicy][]byte) string {
	if p.Spec.TLS == nil || p.Spec.TLS.ClientValidation == nil {
		return ""
	}
	var bundle []byte
	for i, ref := range p.Spec.TLS.ClientValidation.CACertificateRefs {
		kind := "Secret"
		if ref.Kind != nil {
			kind = string(*ref.Kind)
		}
		group := ""
		if ref.Group != nil {
			group = string(*ref.Group)
		}
		ca, reason, msg := t.caCertificate(v1alpha1.GroupVersion.Group, v1alpha1.KindClientTrafficPolicy, p.Namespace, group, kind, nsOr(ref.Namespace, p.Namespace), string(ref.Name))
		if reason != caRefOK {
			return fmt.Sprintf("spec.tls.clientValidation.caCertificateRefs[%d]: %s", i, msg)
		}
		bundle = append(bundle, ca...)
	}
	bundles[p] = bundle
	return ""
}

// portWideFields are the set fields of a policy that Envoy configures per
// port (listener), not per filter chain.
func portWideFields(p *v1alpha1.ClientTrafficPolicySpec) []string {
	var out []string
	if p.TCPKeepalive != nil {
		out = append(out, "spec.tcpKeepalive")
	}
	if c := p.Connection; c != nil {
		if c.BufferLimit != nil {
			out = append(out, "spec.connection.bufferLimit")
		}
		if c.MaxAcceptPerSocketEvent != nil {
			out = append(out, "spec.connection.maxAcceptPerSocketEvent")
		}
	}
	if t := p.Timeout; t != nil && t.TCP != nil && t.TCP.ConnectionInspectionTimeout != nil {
		out = append(out, "spec.timeout.tcp.connectionInspectionTimeout")
	}
	return out
}

func useDefaultHost(p *v1alpha1.ClientTrafficPolicySpec) bool {
	return p.HTTP1 != nil && p.HTTP1.HTTP10 != nil && p.HTTP1.HTTP10.UseDefaultHost != nil && *p.HTTP1.HTTP10.UseDefaultHost
}

// defaultHost is the hostname HTTP/1.0 requests without Host get on a
// chain serving listeners: the hostname of its only listener, unless a
// wildcard ("": none).
func defaultHost(listeners []*listenerState) string {
	if len(listeners) != 1 {
		return ""
	}
	h := hostnameOf(listeners[0].spec.Hostname)
	if strings.HasPrefix(h, "*") {
		return ""
	}
	return h
}

// defaultHostOK: a listener-level policy asking for useDefaultHost needs
// a listener with a hostname.
func defaultHostOK(p *v1alpha1.ClientTrafficPolicySpec, ls *listenerState) bool {
	return !useDefaultHost(p) || !isHTTPProtocol(ls.spec.Protocol) || defaultHost([]*listenerState{ls}) != ""
}

// withoutDefaultHost: the HTTP and HTTPS listeners a Gateway-level policy
// asking for useDefaultHost finds no hostname for (an HTTP listener
// sharing its port has none: the port has one connection manager).
func (t *gatewayTranslator) withoutDefaultHost(p *v1alpha1.ClientTrafficPolicySpec) []string {
	if !useDefaultHost(p) {
		return nil
	}
	onPort := map[gwv1.PortNumber]int{}
	for _, ls := range t.listeners {
		onPort[ls.spec.Port]++
	}
	var out []string
	for _, ls := range t.listeners {
		if !isHTTPProtocol(ls.spec.Protocol) {
			continue
		}
		if defaultHost([]*listenerState{ls}) == "" || (ls.spec.Protocol == gwv1.HTTPProtocolType && onPort[ls.spec.Port] > 1) {
			out = append(out, ls.envoyName())
		}
	}
	sort.Strings(out)
	return out
}

func isHTTPProtocol(p gwv1.ProtocolType) bool {
	return p == gwv1.HTTPProtocolType || p == gwv1.HTTPSProtocolType
}

// parsedDuration is a validated duration (0 when nil).
func parsedDuration(d *gwv1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	x, _ := v1alpha1.ParseDuration(*d)
	return x
}

// applyClientTraffic overrides the connection manager settings a
// (validated) policy sets.
func applyClientTraffic(s *model.HTTPSettings, p *v1alpha1.ClientTrafficPolicySpec, host string) {
	if t := p.Timeout; t != nil && t.HTTP != nil {
		h := t.HTTP
		if h.RequestReceivedTimeout != nil {
			s.RequestTimeout = parsedDuration(h.RequestReceivedTimeout)
		}
		if h.StreamIdleTimeout != nil {
			s.StreamIdleTimeout = parsedDuration(h.StreamIdleTimeout)
		}
		if h.RequestHeadersReceivedTimeout != nil {
			s.RequestHeadersTimeout = parsedDuration(h.RequestHeadersReceivedTimeout)
		}
		if h.IdleTimeout != nil {
			s.IdleTimeout = parsedDuration(h.IdleTimeout)
		}
	}
	if h := p.HTTP2; h != nil {
		if q := h.InitialStreamWindowSize; q != nil {
			s.HTTP2.InitialStreamWindowSize = uint32(q.Value())
		}
		if q := h.InitialConnectionWindowSize; q != nil {
			s.HTTP2.InitialConnectionWindowSize = uint32(q.Value())
		}
		if n := h.MaxConcurrentStreams; n != nil {
			s.HTTP2.MaxConcurrentStreams = *n
		}
		if a := h.OnInvalidMessage; a != nil {
			s.HTTP2.TerminateStreamOnInvalidMessage = *a == "TerminateStream"
		}
	}
	if h := p.HTTP1; h != nil {
		if h.EnableTrailers != nil {
			s.HTTP1.EnableTrailers = *h.EnableTrailers
		}
		if h.PreserveHeaderCase != nil {
			s.HTTP1.PreserveHeaderCase = *h.PreserveHeaderCase
		}
		if h.HTTP10 != nil {
			s.HTTP1.AcceptHTTP10, s.HTTP1.DefaultHost = true, ""
			if useDefaultHost(p) {
				s.HTTP1.DefaultHost = host
			}
		}
		if h.DisableSafeMaxConnectionDuration != nil {
			s.HTTP1SafeMaxConnectionDuration = !*h.DisableSafeMaxConnectionDuration
		}
	}
	if c := p.Connection; c != nil && c.ConnectionLimit != nil {
		l := c.ConnectionLimit
		if l.MaxConnectionDuration != nil {
			s.MaxConnectionDuration = parsedDuration(l.MaxConnectionDuration)
		}
		if l.MaxStreamDuration != nil {
			s.MaxStreamDuration = parsedDuration(l.MaxStreamDuration)
		}
		if l.MaxRequestsPerConnection != nil {
			s.MaxRequestsPerConnection = *l.MaxRequestsPerConnection
		}
	}
	if h := p.Headers; h != nil {
		if h.WithUnderscoresAction != nil {
			s.HeadersWithUnderscores = model.UnderscoreAction(*h.WithUnderscoresAction)
		}
		if h.EnableEnvoyHeaders != nil {
			s.EnvoyHeaders = *h.EnableEnvoyHeaders
		}
		if h.PreserveXRequestID != nil {
			s.RequestID = model.RequestIDGenerate
			if *h.PreserveXRequestID {
				s.RequestID = model.RequestIDPreserveOrGenerate
			}
		}
		if h.RequestID != nil {
			s.RequestID = model.RequestIDAction(*h.RequestID)
		}
		if x := h.XForwardedClientCert; x != nil {
			s.ForwardClientCert = model.ForwardClientCert{Mode: "Sanitize", Details: x.CertDetailsToAdd}
			if x.Mode != nil {
				s.ForwardClientCert.Mode = *x.Mode
			}
		}
		if q := h.MaxRequestHeaderLimit; q != nil {
			s.MaxRequestHeadersKB = uint32((q.Value() + 1023) / 1024)
		}
	}
	if c := p.ClientIPDetection; c != nil {
		if x := c.XForwardedFor; x != nil {
			if x.NumTrustedHops != nil {
				s.XffNumTrustedHops, s.XffTrustedCIDRs = *x.NumTrustedHops, nil
			}
			if len(x.TrustedCIDRs) > 0 {
				s.XffTrustedCIDRs = x.TrustedCIDRs
			}
			if x.DisableXForwardedForAppend != nil {
				s.SkipXffAppend = *x.DisableXForwardedForAppend
			}
			s.ClientIPHeader = nil
		}
		if h := c.CustomHeader; h != nil {
			s.ClientIPHeader = &model.ClientIPHeader{Name: h.Name, FailClosed: h.FailClosed != nil && *h.FailClosed}
			s.XffTrustedCIDRs = nil
		}
	}
	if pa := p.Path; pa != nil {
		if pa.EscapedSlashesAction != nil {
			s.EscapedSlashes = model.EscapedSlashAction(*pa.EscapedSlashesAction)
		}
		if pa.DisableMergeSlashes != nil {
			s.MergeSlashes = !*pa.DisableMergeSlashes
		}
	}
}
