package translate

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// attachRoutes decides, for every parentRef of every route that names
// this Gateway, which listeners the route attaches to and under which
// hostnames, and records the route's status towards that parentRef.
func (t *gatewayTranslator) attachRoutes() {
	key := k8stypes.NamespacedName{Namespace: t.gw.Namespace, Name: t.gw.Name}
	for _, r := range t.ix.routes[key] {
		for _, ref := range r.parentRefs {
			if !isGatewayRef(ref) || nsOr(ref.Namespace, r.meta.Namespace) != t.gw.Namespace || string(ref.Name) != t.gw.Name {
				continue
			}
			t.routeStatus = append(t.routeStatus, RouteParentStatus{
				Kind:       r.kind,
				Route:      r.key(),
				ParentRef:  ref,
				Conditions: t.attach(r, ref),
			})
		}
	}
}

// attach attaches route r through parentRef ref and returns the route's
// conditions for that parentRef.
func (t *gatewayTranslator) attach(r *route, ref gwv1.ParentReference) []metav1.Condition {
	var candidates []*listenerState
	for _, ls := range t.listeners {
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
		return []metav1.Condition{
			{Type: string(gwv1.RouteConditionAccepted), Status: metav1.ConditionFalse, Reason: string(reason), Message: fmt.Sprintf(format, args...)},
			refs,
		}
	}
	if len(candidates) == 0 {
		return notAccepted(gwv1.RouteReasonNoMatchingParent, "no listener of Gateway %s/%s matches %s", t.gw.Namespace, t.gw.Name, describeParentRef(ref))
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
