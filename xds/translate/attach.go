package translate

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// attachRoutes decides, for every parentRef of every route that names
// this Gateway or one of its ListenerSets, which listeners the route
// attaches to and under which hostnames, and records the route's status
// towards that parentRef. A parentRef attaches only to the listeners of
// the object it names (GEP-1713): a Gateway's own, or the ListenerSet's.
func (t *gatewayTranslator) attachRoutes() {
	key := k8stypes.NamespacedName{Namespace: t.gw.Namespace, Name: t.gw.Name}
	for _, r := range t.ix.routes[key] {
		for _, ref := range r.parentRefs {
			parent, listeners, notAttached, ok := t.parentListeners(r, ref)
			if !ok {
				continue
			}
			conds := t.attach(r, ref, parent, listeners)
			if notAttached != "" {
				conds = t.notAccepted(r, gwv1.RouteReasonNotAllowedByListeners, "%s", notAttached)
			}
			t.routeStatus = append(t.routeStatus, RouteParentStatus{
				Kind:       r.kind,
				Route:      r.key(),
				ParentRef:  ref,
				Conditions: conds,
			})
		}
	}
}

// parentListeners resolves a route's parentRef against this Gateway: ok
// when it names the Gateway or one of its ListenerSets; then the parent's
// description, its listeners, and why a ListenerSet is not attached ("" when
// it is).
func (t *gatewayTranslator) parentListeners(r *route, ref gwv1.ParentReference) (parent string, listeners []*listenerState, notAttached string, ok bool) {
	ns := nsOr(ref.Namespace, r.meta.Namespace)
	switch {
	case isGatewayRef(ref):
		if ns != t.gw.Namespace || string(ref.Name) != t.gw.Name {
			return "", nil, "", false
		}
		for _, ls := range t.listeners {
			if ls.set == nil {
				listeners = append(listeners, ls)
			}
		}
		return "Gateway " + t.gw.Namespace + "/" + t.gw.Name, listeners, "", true
	case isListenerSetRef(ref):
		for _, s := range t.sets {
			if s.obj.Namespace == ns && s.obj.Name == string(ref.Name) {
				return "ListenerSet " + ns + "/" + s.obj.Name, s.listeners, s.notAllowed, true
			}
		}
	}
	return "", nil, "", false
}

// notAccepted are a route's conditions towards a parentRef that does not
// accept it.
func (t *gatewayTranslator) notAccepted(r *route, reason gwv1.RouteConditionReason, format string, args ...any) []metav1.Condition {
	cr := t.compile(r)
	return []metav1.Condition{
		{Type: string(gwv1.RouteConditionAccepted), Status: metav1.ConditionFalse, Reason: string(reason), Message: fmt.Sprintf(format, args...)},
		cr.resolvedRefs.condition(string(gwv1.RouteConditionResolvedRefs), string(gwv1.RouteReasonResolvedRefs), "all references are resolved"),
	}
}

// attach attaches route r through parentRef ref to the listeners of the
// parent it names and returns the route's conditions for that parentRef.
func (t *gatewayTranslator) attach(r *route, ref gwv1.ParentReference, parent string, listeners []*listenerState) []metav1.Condition {
	var candidates []*listenerState
	for _, ls := range listeners {
		if ref.SectionName != nil && *ref.SectionName != ls.spec.Name {
			continue
		}
		if ref.Port != nil && *ref.Port != ls.spec.Port {
			continue
		}
		candidates = append(candidates, ls)
	}
	cr := t.compile(r)
	refs := cr.resolvedRefs.condition(string(gwv1.RouteConditionResolvedRefs), string(gwv1.RouteReasonResolvedRefs), "all references are resolved")
	notAccepted := func(reason gwv1.RouteConditionReason, format string, args ...any) []metav1.Condition {
		return t.notAccepted(r, reason, format, args...)
	}
	if len(candidates) == 0 {
		return notAccepted(gwv1.RouteReasonNoMatchingParent, "no listener of %s matches %s", parent, describeParentRef(ref))
	}
	var usable, allowed []*listenerState
	for _, ls := range candidates {
		if !ls.usable() {
			continue
		}
		usable = append(usable, ls)
		if t.allowsRoute(ls, r.kind, r.meta.Namespace) {
			allowed = append(allowed, ls)
		}
	}
	if len(usable) == 0 {
		return notAccepted(gwv1.RouteReasonNoMatchingParent, "no listener matching %s is accepted", describeParentRef(ref))
	}
	if len(allowed) == 0 {
		return notAccepted(gwv1.RouteReasonNotAllowedByListeners, "the allowedRoutes of the listeners matching %s do not admit %ss from namespace %s", describeParentRef(ref), r.kind, r.meta.Namespace)
	}
	type hit struct {
		ls        *listenerState
		hostnames []string
	}
	var hits []hit
	for _, ls := range allowed {
		if hs := intersectHostnames(hostnameOf(ls.spec.Hostname), r.hostnames); len(hs) > 0 {
			hits = append(hits, hit{ls, hs})
		}
	}
	if len(hits) == 0 {
		return notAccepted(gwv1.RouteReasonNoMatchingListenerHostname, "no hostname of the route matches a listener matching %s", describeParentRef(ref))
	}
	if cr.valid == 0 {
		return notAccepted(gwv1.RouteReasonUnsupportedValue, "%s", strings.Join(cr.invalid, "; "))
	}
	for _, h := range hits {
		// Only an accepted route counts (ListenerStatus.AttachedRoutes: a
		// route not accepted by the listener must not be counted).
		h.ls.attachedRoutes[r] = true
		if !h.ls.hasAttachment(cr) {
			h.ls.attachments = append(h.ls.attachments, attachment{route: cr, hostnames: h.hostnames})
		}
	}
	conds := []metav1.Condition{
		{Type: string(gwv1.RouteConditionAccepted), Status: metav1.ConditionTrue, Reason: string(gwv1.RouteReasonAccepted), Message: "route is accepted"},
		refs,
	}
	if len(cr.invalid) > 0 {
		conds = append(conds, metav1.Condition{Type: string(gwv1.RouteConditionPartiallyInvalid), Status: metav1.ConditionTrue,
			Reason: string(gwv1.RouteReasonUnsupportedValue), Message: "Dropped Rule(s): " + strings.Join(cr.invalid, "; ")})
	}
	return conds
}

func (ls *listenerState) hasAttachment(cr *compiledRoute) bool {
	for _, a := range ls.attachments {
		if a.route == cr {
			return true
		}
	}
	return false
}

func describeParentRef(ref gwv1.ParentReference) string {
	s := "parentRef " + string(ref.Name)
	if ref.SectionName != nil {
		s += " sectionName " + string(*ref.SectionName)
	}
	if ref.Port != nil {
		s += fmt.Sprintf(" port %d", *ref.Port)
	}
	return s
}
