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

// ListenerSetReasonParentNotProgrammed is the reason of a ListenerSet's
// Programmed=False when its parent Gateway is not Programmed (named by the
// ListenerSet API's Programmed condition; the API declares no constant).
const ListenerSetReasonParentNotProgrammed gwv1.ListenerSetConditionReason = "ParentNotProgrammed"

// ListenerSetParentState is what a ListenerSet's status takes from its
// parent Gateway beyond the translation (GEP-1713: Accepted is False,
// ParentNotAccepted, when the parent is not accepted; Programmed means what
// the Gateway's Programmed means, for the ListenerSet's listeners).
type ListenerSetParentState struct {
	// Gateway is the parent the ListenerSet's parentRef names.
	Gateway k8stypes.NamespacedName
	// Absent says the Gateway does not exist; Deleting that it is being
	// deleted. Either way nothing of the ListenerSet is served.
	Absent, Deleting bool
	// Accepted and Programmed are the Gateway's own conditions for its
	// current generation (nil when its status has none for it yet).
	Accepted, Programmed *metav1.Condition
	// Current says the Gateway's Programmed verdict was computed from the
	// inputs of the translation the ListenerSet's facts come from (its
	// routes and ListenerSets at the same generations: the
	// readiness.InputsCondition's xds-inputs digest is the translation's),
	// so a Programmed=True covers this ListenerSet's listeners.
	Current bool
}

// ListenerSetStatusOf is the status of ListenerSet s: the translation's
// facts f (nil when there are none: the parent is absent) folded with its
// parent's state p. In order:
//   - parent absent or being deleted, or parent not Accepted: Accepted and
//     Programmed False with reason ParentNotAccepted, and so is every
//     listener's Accepted and Programmed (a ListenerSet the Gateway does not
//     admit stays NotAllowed: that holds whatever the parent's state);
//   - otherwise the translation's Accepted; Programmed True only when the
//     translation programs its listeners and the parent Gateway is
//     Programmed on the inputs of that translation (its data plane is ready
//     and has the configuration with these listeners); False,
//     ParentNotProgrammed when the parent is not Programmed; Unknown, Pending
//     until the parent's verdict covers this translation. Listeners the
//     translation programmed follow (False or Unknown, reason Pending).
//
// Messages name the parent and its reason, never its messages or its other
// listeners (GEP-1713: a ListenerSet's owner need not see the parent's).
func ListenerSetStatusOf(s *gwv1.ListenerSet, f *ListenerSetStatus, p ListenerSetParentState) ListenerSetStatus {
	out := ListenerSetStatus{ListenerSet: k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}, Listeners: []ListenerStatus{}}
	if f != nil {
		out.Conditions = append([]metav1.Condition(nil), f.Conditions...)
		for _, l := range f.Listeners {
			l.Conditions = append([]metav1.Condition(nil), l.Conditions...)
			out.Listeners = append(out.Listeners, l)
		}
	}
	gw := p.Gateway.String()
	notAccepted := ""
	switch {
	case p.Absent:
		notAccepted = "parent Gateway " + gw + " does not exist"
	case p.Deleting:
		notAccepted = "parent Gateway " + gw + " is being deleted"
	case p.Accepted != nil && p.Accepted.Status != metav1.ConditionTrue:
		notAccepted = fmt.Sprintf("parent Gateway %s is not accepted (%s)", gw, p.Accepted.Reason)
	}
	if a := out.Condition(gwv1.ListenerSetConditionAccepted); a != nil && a.Status == metav1.ConditionFalse && a.Reason == string(gwv1.ListenerSetReasonNotAllowed) {
		return out
	}
	if notAccepted != "" {
		reason := string(gwv1.ListenerSetReasonParentNotAccepted)
		out.Conditions = []metav1.Condition{
			{Type: string(gwv1.ListenerSetConditionAccepted), Status: metav1.ConditionFalse, Reason: reason, Message: notAccepted},
			{Type: string(gwv1.ListenerSetConditionProgrammed), Status: metav1.ConditionFalse, Reason: reason, Message: notAccepted},
		}
		if f == nil {
			for _, e := range s.Spec.Listeners {
				out.Listeners = append(out.Listeners, ListenerStatus{Name: e.Name})
			}
		}
		for i := range out.Listeners {
			l := &out.Listeners[i]
			l.AttachedRoutes = 0
			setStatusCondition(&l.Conditions, metav1.Condition{Type: string(gwv1.ListenerEntryConditionAccepted), Status: metav1.ConditionFalse, Reason: reason, Message: notAccepted})
			setStatusCondition(&l.Conditions, metav1.Condition{Type: string(gwv1.ListenerEntryConditionProgrammed), Status: metav1.ConditionFalse, Reason: reason, Message: notAccepted})
		}
		return out
	}
	prog := out.Condition(gwv1.ListenerSetConditionProgrammed)
	if prog == nil || prog.Status != metav1.ConditionTrue {
		return out
	}
	var entry metav1.Condition
	switch {
	case p.Programmed != nil && p.Programmed.Status == metav1.ConditionTrue && p.Current:
		prog.Message = "listeners are in the configuration the ready data plane of Gateway " + gw + " serves"
		return out
	case p.Programmed != nil && p.Programmed.Status == metav1.ConditionFalse:
		msg := fmt.Sprintf("parent Gateway %s is not programmed (%s)", gw, p.Programmed.Reason)
		*prog = metav1.Condition{Type: prog.Type, Status: metav1.ConditionFalse, Reason: string(ListenerSetReasonParentNotProgrammed), Message: msg}
		entry = metav1.Condition{Status: metav1.ConditionFalse, Reason: string(gwv1.ListenerEntryReasonPending), Message: msg}
	default:
		msg := "waiting for parent Gateway " + gw + " to be programmed with this ListenerSet's listeners"
		*prog = metav1.Condition{Type: prog.Type, Status: metav1.ConditionUnknown, Reason: string(gwv1.ListenerSetReasonPending), Message: msg}
		entry = metav1.Condition{Status: metav1.ConditionUnknown, Reason: string(gwv1.ListenerEntryReasonPending), Message: msg}
	}
	entry.Type = string(gwv1.ListenerEntryConditionProgrammed)
	for i := range out.Listeners {
		if c := findCondition(out.Listeners[i].Conditions, entry.Type); c != nil && c.Status == metav1.ConditionTrue {
			*c = entry
		}
	}
	return out
}

// setStatusCondition replaces the condition of c's type in conds, or
// appends c.
func setStatusCondition(conds *[]metav1.Condition, c metav1.Condition) {
	if old := findCondition(*conds, c.Type); old != nil {
		*old = c
		return
	}
	*conds = append(*conds, c)
}
