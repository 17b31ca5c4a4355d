package translate

import (
	"fmt"
	"sort"
	"strings"

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
// (Conflicted) and the Gateway must be targeted instead.

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
}

func (t *gatewayTranslator) clientTraffic() clientTraffic {
	out := clientTraffic{listeners: map[string]*v1alpha1.ClientTrafficPolicy{}}
	key := k8stypes.NamespacedName{Namespace: t.gw.Namespace, Name: t.gw.Name}
	policies := t.ix.ctps[key]
	if len(policies) == 0 {
		return out
	}
	// Listeners by name, and the number of HTTP listeners on each port.
	byName := map[string]*listenerState{}
	httpOnPort := map[gwv1.PortNumber]int{}
	for _, ls := range t.listeners {
		if ls.set == nil {
			// A sectionName of a policy targeting the Gateway names one
			// of the Gateway's own listeners.
			byName[string(ls.spec.Name)] = ls
		}
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
		}
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

// settingsFor returns the settings of a connection manager serving the
// Gateway listener named listener ("" for the HTTP chain of a port, which
// takes the listener-level policy of its only listener, if any): base with
// the Gateway-level policy, then the listener-level one, applied.
func (c clientTraffic) settingsFor(base model.HTTPSettings, listener string) model.HTTPSettings {
	s := base
	if c.gateway != nil {
		applyClientTraffic(&s, &c.gateway.Spec)
	}
	if p := c.listeners[listener]; p != nil {
		applyClientTraffic(&s, &p.Spec)
	}
	return s
}

// applyClientTraffic overrides the settings a (validated) policy sets.
func applyClientTraffic(s *model.HTTPSettings, p *v1alpha1.ClientTrafficPolicySpec) {
	if t := p.Timeout; t != nil && t.HTTP != nil {
		if d := t.HTTP.RequestReceivedTimeout; d != nil {
			s.RequestTimeout, _ = v1alpha1.ParseDuration(*d)
		}
		if d := t.HTTP.StreamIdleTimeout; d != nil {
			s.StreamIdleTimeout, _ = v1alpha1.ParseDuration(*d)
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
	}
	if h := p.Headers; h != nil && h.WithUnderscoresAction != nil {
		s.HeadersWithUnderscores = model.UnderscoreAction(*h.WithUnderscoresAction)
	}
	if c := p.ClientIPDetection; c != nil && c.XForwardedFor != nil && c.XForwardedFor.NumTrustedHops != nil {
		s.XffNumTrustedHops = *c.XForwardedFor.NumTrustedHops
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
