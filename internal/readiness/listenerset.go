package readiness

import (
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ListenerSetInputs are the ListenerSets whose parentRef names the Gateway
// gw (admitted or not: a ListenerSet becoming admitted changes the verdict
// too) and the routes naming one of them. They count among the Gateway's
// route inputs: a ListenerSet change is waited for like a route change.
func ListenerSetInputs(gw k8stypes.NamespacedName, sets []*gwv1.ListenerSet, http []*gwv1.HTTPRoute, grpc []*gwv1.GRPCRoute) Inputs {
	var in Inputs
	named := map[k8stypes.NamespacedName]bool{}
	for _, s := range sets {
		p := s.Spec.ParentRef
		if (p.Group != nil && *p.Group != gwv1.GroupName) || (p.Kind != nil && *p.Kind != "Gateway") {
			continue
		}
		ns := s.Namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if ns == gw.Namespace && string(p.Name) == gw.Name {
			named[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = true
			in = append(in, inputOf("ListenerSet", s))
		}
	}
	for _, r := range http {
		if namesListenerSet(named, r.Namespace, r.Spec.ParentRefs) {
			in = append(in, inputOf("HTTPRoute", r))
		}
	}
	for _, r := range grpc {
		if namesListenerSet(named, r.Namespace, r.Spec.ParentRefs) {
			in = append(in, inputOf("GRPCRoute", r))
		}
	}
	return in.sorted()
}

func namesListenerSet(sets map[k8stypes.NamespacedName]bool, routeNS string, refs []gwv1.ParentReference) bool {
	for _, p := range refs {
		if (p.Group != nil && *p.Group != gwv1.GroupName) || p.Kind == nil || *p.Kind != "ListenerSet" {
			continue
		}
		ns := routeNS
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if sets[k8stypes.NamespacedName{Namespace: ns, Name: string(p.Name)}] {
			return true
		}
	}
	return false
}

// AllRouteInputs are the route inputs of Gateway gw, as the controller
// records them and berth wait compares them: RouteInputs and
// ListenerSetInputs together.
func AllRouteInputs(gw k8stypes.NamespacedName, http []*gwv1.HTTPRoute, grpc []*gwv1.GRPCRoute, sets []*gwv1.ListenerSet) Inputs {
	return Merge(RouteInputs(gw, http, grpc), ListenerSetInputs(gw, sets, http, grpc))
}

// Merge is the union of input sets (an object in several counts once),
// sorted.
func Merge(sets ...Inputs) Inputs {
	seen := map[string]bool{}
	var out Inputs
	for _, s := range sets {
		for _, i := range s {
			if !seen[i.key()] {
				seen[i.key()] = true
				out = append(out, i)
			}
		}
	}
	return out.sorted()
}
