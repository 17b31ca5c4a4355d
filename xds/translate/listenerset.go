package translate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// This file holds what is particular to ListenerSets (GEP-1713): which
// ListenerSets a Gateway admits (spec.allowedListeners), their listeners
// merged into the Gateway's by precedence, the conflicts that precedence
// settles, and their status. Listener checks (gateway.go), attachment
// (attach.go) and the data plane (dataplane.go, l4.go) are shared with the
// Gateway's own listeners.

// KindListenerSet is the kind of a parentRef naming a ListenerSet.
const KindListenerSet gwv1.Kind = "ListenerSet"

// listenerSetState is one ListenerSet naming the translated Gateway.
type listenerSetState struct {
	obj *gwv1.ListenerSet
	// notAllowed says why the Gateway does not admit the ListenerSet (""
	// when it does).
	notAllowed string
	listeners  []*listenerState
}

func (s *listenerSetState) key() k8stypes.NamespacedName {
	return k8stypes.NamespacedName{Namespace: s.obj.Namespace, Name: s.obj.Name}
}

// namespace is the namespace of the listener's owner: the ListenerSet's,
// or the Gateway's for its own listeners. allowedRoutes from=Same and
// certificateRefs are relative to it.
func (ls *listenerState) namespace(gw *gwv1.Gateway) string {
	if ls.set != nil {
		return ls.set.obj.Namespace
	}
	return gw.Namespace
}

// ownerKind is the kind of the listener's owner, for ReferenceGrants.
func (ls *listenerState) ownerKind() gwv1.Kind {
	if ls.set != nil {
		return KindListenerSet
	}
	return "Gateway"
}

// envoyName names the listener in Envoy resources (filter chains, route
// tables, stat prefixes): its name for the Gateway's own listeners,
// ListenerSetListenerName for a ListenerSet's, whose names need not be
// unique across the Gateway and its ListenerSets.
func (ls *listenerState) envoyName() string {
	if ls.set != nil {
		return ListenerSetListenerName(ls.set.obj.Namespace, ls.set.obj.Name, string(ls.spec.Name))
	}
	return string(ls.spec.Name)
}

// indexListenerSets keys ListenerSets by the Gateway they name, in the
// spec's precedence: oldest first, then "{namespace}/{name}".
func (ix *Index) indexListenerSets(sets []*gwv1.ListenerSet) {
	ix.listenerSets = map[k8stypes.NamespacedName][]*gwv1.ListenerSet{}
	ix.setParent = map[k8stypes.NamespacedName]k8stypes.NamespacedName{}
	byKey := map[k8stypes.NamespacedName]*gwv1.ListenerSet{}
	for _, s := range sets {
		if s != nil {
			byKey[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
		}
	}
	ordered := make([]*gwv1.ListenerSet, 0, len(byKey))
	for _, s := range byKey {
		ordered = append(ordered, s)
	}
	sort.Slice(ordered, func(i, j int) bool {
		a, b := ordered[i], ordered[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return lessKey(k8stypes.NamespacedName{Namespace: a.Namespace, Name: a.Name}, k8stypes.NamespacedName{Namespace: b.Namespace, Name: b.Name})
	})
	for _, s := range ordered {
		gw, ok := ListenerSetParent(s)
		if !ok {
			continue
		}
		ix.listenerSets[gw] = append(ix.listenerSets[gw], s)
		ix.setParent[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = gw
	}
}

// ListenerSetParent is the Gateway a ListenerSet's parentRef names (false
// when it names another kind).
func ListenerSetParent(s *gwv1.ListenerSet) (k8stypes.NamespacedName, bool) {
	p := s.Spec.ParentRef
	if (p.Group != nil && *p.Group != gwv1.GroupName) || (p.Kind != nil && *p.Kind != "Gateway") {
		return k8stypes.NamespacedName{}, false
	}
	return k8stypes.NamespacedName{Namespace: nsOr(p.Namespace, s.Namespace), Name: string(p.Name)}, true
}

// isListenerSetRef reports whether a route's parentRef names a ListenerSet.
func isListenerSetRef(p gwv1.ParentReference) bool {
	return (p.Group == nil || *p.Group == gwv1.GroupName) && p.Kind != nil && *p.Kind == KindListenerSet
}

// parentGateway is the Gateway a route's parentRef leads to: the Gateway
// it names, or the parent of the ListenerSet it names (when that
// ListenerSet is in the input).
func (ix *Index) parentGateway(routeNS string, p gwv1.ParentReference) (k8stypes.NamespacedName, bool) {
	key := k8stypes.NamespacedName{Namespace: nsOr(p.Namespace, routeNS), Name: string(p.Name)}
	switch {
	case isGatewayRef(p):
		return key, true
	case isListenerSetRef(p):
		gw, ok := ix.setParent[key]
		return gw, ok
	}
	return k8stypes.NamespacedName{}, false
}

// processListenerSets adds the listeners of the ListenerSets the Gateway
// admits, after its own, in precedence order, and settles their conflicts.
func (t *gatewayTranslator) processListenerSets() {
	key := k8stypes.NamespacedName{Namespace: t.gw.Namespace, Name: t.gw.Name}
	for _, obj := range t.ix.listenerSets[key] {
		s := &listenerSetState{obj: obj}
		t.sets = append(t.sets, s)
		if s.notAllowed = t.listenerSetNotAllowed(obj.Namespace); s.notAllowed != "" {
			continue
		}
		for _, e := range obj.Spec.Listeners {
			s.listeners = append(s.listeners, t.addListener(gwv1.Listener{
				Name: e.Name, Hostname: e.Hostname, Port: e.Port, Protocol: e.Protocol, TLS: e.TLS, AllowedRoutes: e.AllowedRoutes,
			}, s))
		}
	}
	t.detectSetConflicts()
}

// listenerSetNotAllowed says why the Gateway's spec.allowedListeners do not
// admit ListenerSets of namespace ns ("" when they do). None is the default.
func (t *gatewayTranslator) listenerSetNotAllowed(ns string) string {
	from := gwv1.NamespacesFromNone
	var sel *metav1.LabelSelector
	if al := t.gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil {
		if al.Namespaces.From != nil {
			from = *al.Namespaces.From
		}
		sel = al.Namespaces.Selector
	}
	gw := t.gw.Namespace + "/" + t.gw.Name
	switch from {
	case gwv1.NamespacesFromAll:
		return ""
	case gwv1.NamespacesFromSame:
		if ns == t.gw.Namespace {
			return ""
		}
		return fmt.Sprintf("Gateway %s admits ListenerSets of its own namespace only (allowedListeners from=Same)", gw)
	case gwv1.NamespacesFromSelector:
		if sel == nil {
			return fmt.Sprintf("Gateway %s: allowedListeners.namespaces.selector is required when from is Selector", gw)
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return fmt.Sprintf("Gateway %s: allowedListeners.namespaces.selector: %v", gw, err)
		}
		t.deps.addNS(&t.deps.nses, ns)
		set := labels.Set{corev1.LabelMetadataName: ns}
		if n := t.ix.lookup.Namespace(ns); n != nil {
			set = labels.Merge(labels.Set(n.Labels), set)
		}
		if s.Matches(set) {
			return ""
		}
		return fmt.Sprintf("Gateway %s: namespace %s does not match allowedListeners.namespaces.selector", gw, ns)
	}
	return fmt.Sprintf("Gateway %s admits no ListenerSets (allowedListeners from=%s)", gw, from)
}

// detectSetConflicts settles the conflicts of ListenerSet listeners by the
// spec's precedence: each is checked, in order, against the listeners that
// precede it and were accepted (the Gateway's own, then earlier
// ListenerSets', then earlier ones of its own set); the later listener is
// the Conflicted one, the earlier keeps working. The rules are those of one
// Gateway's listeners (detectConflicts): on one port, a different protocol
// (or TLS mode) is a ProtocolConflict, the same hostname a
// HostnameConflict; a port binding the Envoy port of another is
// PortUnavailable.
func (t *gatewayTranslator) detectSetConflicts() {
	var winners []*listenerState
	for _, ls := range t.listeners {
		if ls.set == nil {
			if ls.accepted.ok {
				winners = append(winners, ls)
			}
			continue
		}
		if !ls.accepted.ok {
			continue
		}
		for _, w := range winners {
			owner := "Gateway " + t.gw.Namespace + "/" + t.gw.Name
			if w.set != nil {
				owner = "ListenerSet " + w.set.obj.Namespace + "/" + w.set.obj.Name
			}
			switch {
			case w.spec.Port != ls.spec.Port && w.envoyPort == ls.envoyPort:
				ls.accepted.fail(string(gwv1.ListenerReasonPortUnavailable), "ports %d and %d bind the same Envoy port %d (listener %s of %s)", w.spec.Port, ls.spec.Port, ls.envoyPort, w.spec.Name, owner)
			case w.spec.Port != ls.spec.Port:
				continue
			case w.spec.Protocol != ls.spec.Protocol:
				// TLS listeners of both modes share a port (TLSRouteModeMixed).
				ls.conflict(gwv1.ListenerReasonProtocolConflict, "port %d is served as %s by listener %s of %s, which takes precedence", ls.spec.Port, w.spec.Protocol, w.spec.Name, owner)
			case w.selectingHostname() == ls.selectingHostname():
				ls.conflict(gwv1.ListenerReasonHostnameConflict, "hostname %q on port %d is taken by listener %s of %s, which takes precedence", ls.selectingHostname(), ls.spec.Port, w.spec.Name, owner)
			}
			if !ls.accepted.ok {
				break
			}
		}
		if ls.accepted.ok {
			winners = append(winners, ls)
		}
	}
}

// listenerSetStatuses are the statuses of the ListenerSets naming the
// Gateway, and how many of them are attached (Accepted).
func (t *gatewayTranslator) listenerSetStatuses() ([]ListenerSetStatus, int32) {
	var out []ListenerSetStatus
	var attached int32
	for _, s := range t.sets {
		st := ListenerSetStatus{ListenerSet: s.key(), Listeners: []ListenerStatus{}}
		accepted := cond{ok: true}
		switch {
		case s.notAllowed != "":
			accepted.fail(string(gwv1.ListenerSetReasonNotAllowed), "%s", s.notAllowed)
		default:
			var invalid []string
			for _, ls := range s.listeners {
				st.Listeners = append(st.Listeners, ls.status())
				if !ls.programmed() {
					invalid = append(invalid, string(ls.spec.Name))
				}
			}
			if len(invalid) == len(s.listeners) {
				accepted.fail(string(gwv1.ListenerSetReasonListenersNotValid), "no listener is valid: %s", strings.Join(invalid, ", "))
			} else if len(invalid) > 0 {
				accepted.reason, accepted.message = string(gwv1.ListenerSetReasonListenersNotValid), "invalid listeners: "+strings.Join(invalid, ", ")
			}
		}
		okMsg := "ListenerSet attached to Gateway " + t.gw.Namespace + "/" + t.gw.Name
		if accepted.ok {
			attached++
			if accepted.message != "" {
				okMsg = accepted.message
			}
		}
		reason := string(gwv1.ListenerSetReasonAccepted)
		if accepted.ok && accepted.reason != "" {
			reason = accepted.reason
		}
		programmed := accepted
		programmed.message = "listeners are not programmed: " + accepted.message
		st.Conditions = []metav1.Condition{
			accepted.condition(string(gwv1.ListenerSetConditionAccepted), reason, okMsg),
			programmed.condition(string(gwv1.ListenerSetConditionProgrammed), string(gwv1.ListenerSetReasonProgrammed), "valid listeners are in the Gateway's configuration"),
		}
		out = append(out, st)
	}
	return out, attached
}
