package readiness

// This file is pure: the table of the kinds whose objects are inputs of a
// Gateway's xDS configuration because they name it (or a backend of its
// routes), and the selection of a Gateway's inputs among listed objects.
// The controller records, and berth wait reads, exactly these kinds.

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// InputKind is one kind of object that is an input of a Gateway's xDS
// configuration when it names the Gateway (a route's parentRefs, a
// ClientTrafficPolicy's targetRefs) or a Service its routes use (a
// BackendTLSPolicy's targetRefs). The GatewayClass and the EnvoyProxies are
// inputs too, but by the references the Gateway and its class make
// (GatewayInputs); the objects other inputs reference (Services, Secrets,
// CA ConfigMaps) are not recorded: they have no generation, and their
// changes never make a Gateway's Programmed stale (its address and bundle
// do not depend on them).
type InputKind struct {
	// Kind is the kind and the version berth reads.
	Kind schema.GroupVersionKind
	// Optional kinds are read only when their CRD is installed; a cluster
	// without it has no such inputs.
	Optional bool
	// Local kinds name only Gateways of their own namespace, so only the
	// Gateway's namespace is read.
	Local bool
	// NewList returns an empty list of the kind.
	NewList func() client.ObjectList
	// selects reports whether o is an input of s's Gateway; it may note in
	// s what kinds later in the table select by (a route's Services).
	selects func(s *selection, o client.Object) bool
}

// The kinds of InputKinds, for callers that name one.
var (
	KindListenerSet         = gwv1.SchemeGroupVersion.WithKind("ListenerSet")
	KindHTTPRoute           = gwv1.SchemeGroupVersion.WithKind("HTTPRoute")
	KindGRPCRoute           = gwv1.SchemeGroupVersion.WithKind("GRPCRoute")
	KindTCPRoute            = gwv1.SchemeGroupVersion.WithKind("TCPRoute")
	KindTLSRoute            = gwv1.SchemeGroupVersion.WithKind("TLSRoute")
	KindUDPRoute            = gwv1.SchemeGroupVersion.WithKind("UDPRoute")
	KindBackendTLSPolicy    = gwv1.SchemeGroupVersion.WithKind("BackendTLSPolicy")
	KindClientTrafficPolicy = v1alpha1.GroupVersion.WithKind(v1alpha1.KindClientTrafficPolicy)
)

// InputKinds are the kinds selected as inputs, in the order they are
// selected (a kind may depend on those before it: routes on the
// ListenerSets they name, BackendTLSPolicies on the routes' Services). Adding a kind is one entry here; the controller reads
// it from its cache and berth wait from the API server.
var InputKinds = []InputKind{
	{Kind: KindListenerSet, Optional: true, NewList: func() client.ObjectList { return &gwv1.ListenerSetList{} }, selects: selectListenerSet},
	{Kind: KindHTTPRoute, NewList: func() client.ObjectList { return &gwv1.HTTPRouteList{} }, selects: selectRoute},
	{Kind: KindGRPCRoute, NewList: func() client.ObjectList { return &gwv1.GRPCRouteList{} }, selects: selectRoute},
	{Kind: KindTCPRoute, Optional: true, NewList: func() client.ObjectList { return &gwv1.TCPRouteList{} }, selects: selectRoute},
	{Kind: KindTLSRoute, Optional: true, NewList: func() client.ObjectList { return &gwv1.TLSRouteList{} }, selects: selectRoute},
	{Kind: KindUDPRoute, Optional: true, NewList: func() client.ObjectList { return &gwv1.UDPRouteList{} }, selects: selectRoute},
	{Kind: KindBackendTLSPolicy, Optional: true, NewList: func() client.ObjectList { return &gwv1.BackendTLSPolicyList{} }, selects: selectBackendTLSPolicy},
	{Kind: KindClientTrafficPolicy, Optional: true, Local: true, NewList: func() client.ObjectList { return &v1alpha1.ClientTrafficPolicyList{} }, selects: selectClientTrafficPolicy},
}

// InputKindOf returns the InputKinds entry of kind k, or nil.
func InputKindOf(k schema.GroupKind) *InputKind {
	for i := range InputKinds {
		if InputKinds[i].Kind.GroupKind() == k {
			return &InputKinds[i]
		}
	}
	return nil
}

// Objects are listed objects of input kinds, by kind. A kind that is absent
// was not read (not installed, or not readable): it selects nothing.
type Objects map[schema.GroupKind][]client.Object

// Add appends the items of list (of kind k) to objs.
func (objs Objects) Add(k schema.GroupKind, list client.ObjectList) error {
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	out := objs[k]
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, o)
		}
	}
	objs[k] = out
	return nil
}

// AsObjects turns a list's items (as pointers) into Objects' values.
func AsObjects[T any, P interface {
	*T
	client.Object
}](items []*T) []client.Object {
	out := make([]client.Object, len(items))
	for i, o := range items {
		out[i] = P(o)
	}
	return out
}

// SelectInputs are the objects among objs that are inputs of Gateway gw,
// kind by kind in the order of InputKinds.
func SelectInputs(gw k8stypes.NamespacedName, objs Objects) Inputs {
	s := &selection{gateway: gw}
	var in Inputs
	for _, k := range InputKinds {
		for _, o := range objs[k.Kind.GroupKind()] {
			if k.selects(s, o) {
				in = append(in, inputOf(k.Kind.Kind, o))
			}
		}
	}
	return in.sorted()
}

// RouteServices are the Services referenced (backendRefs and request
// mirrors, whatever ReferenceGrants allow) by the routes among objs that
// are inputs of Gateway gw, as SelectInputs selects them: the only
// Services whose BackendTLSPolicies can be its inputs, so a caller can read
// those policies by target instead of listing them all. Sorted.
func RouteServices(gw k8stypes.NamespacedName, objs Objects) []k8stypes.NamespacedName {
	s := &selection{gateway: gw}
	for _, k := range InputKinds {
		for _, o := range objs[k.Kind.GroupKind()] {
			k.selects(s, o)
		}
	}
	return slices.SortedFunc(maps.Keys(s.services), func(a, b k8stypes.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
}

// selection is what SelectInputs knows while it selects one Gateway's
// inputs.
type selection struct {
	gateway k8stypes.NamespacedName
	// sets are the selected ListenerSets (those whose parentRef names the
	// Gateway): routes naming one are inputs too.
	sets map[k8stypes.NamespacedName]bool
	// services are the Services the selected routes reference (backendRefs
	// and request mirrors), whatever ReferenceGrants allow.
	services map[k8stypes.NamespacedName]bool
}

func (s *selection) useService(routeNS string, ref gwv1.BackendObjectReference) {
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		return
	}
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if s.services == nil {
		s.services = map[k8stypes.NamespacedName]bool{}
	}
	s.services[k8stypes.NamespacedName{Namespace: ns, Name: string(ref.Name)}] = true
}

// selectRoute: a route of any kind whose parentRefs name the Gateway,
// attached or not (a route becoming valid or invalid changes the verdict
// too); its Services are noted for BackendTLSPolicies.
func selectRoute(s *selection, o client.Object) bool {
	// The parentRefs first: most routes name other Gateways, and their
	// backends are not read.
	var (
		parents  []gwv1.ParentReference
		backends func() []gwv1.BackendObjectReference
	)
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		parents = r.Spec.ParentRefs
		backends = func() (out []gwv1.BackendObjectReference) {
			for _, rule := range r.Spec.Rules {
				out = append(out, httpMirrors(rule.Filters)...)
				for _, b := range rule.BackendRefs {
					out = append(append(out, b.BackendObjectReference), httpMirrors(b.Filters)...)
				}
			}
			return out
		}
	case *gwv1.GRPCRoute:
		parents = r.Spec.ParentRefs
		backends = func() (out []gwv1.BackendObjectReference) {
			for _, rule := range r.Spec.Rules {
				out = append(out, grpcMirrors(rule.Filters)...)
				for _, b := range rule.BackendRefs {
					out = append(append(out, b.BackendObjectReference), grpcMirrors(b.Filters)...)
				}
			}
			return out
		}
	case *gwv1.TCPRoute:
		parents = r.Spec.ParentRefs
		backends = func() (out []gwv1.BackendObjectReference) {
			for _, rule := range r.Spec.Rules {
				out = append(out, backendObjects(rule.BackendRefs)...)
			}
			return out
		}
	case *gwv1.TLSRoute:
		parents = r.Spec.ParentRefs
		backends = func() (out []gwv1.BackendObjectReference) {
			for _, rule := range r.Spec.Rules {
				out = append(out, backendObjects(rule.BackendRefs)...)
			}
			return out
		}
	case *gwv1.UDPRoute:
		parents = r.Spec.ParentRefs
		backends = func() (out []gwv1.BackendObjectReference) {
			for _, rule := range r.Spec.Rules {
				out = append(out, backendObjects(rule.BackendRefs)...)
			}
			return out
		}
	default:
		return false
	}
	if !namesGateway(s.gateway, o.GetNamespace(), parents) && !s.namesListenerSet(o.GetNamespace(), parents) {
		return false
	}
	for _, b := range backends() {
		s.useService(o.GetNamespace(), b)
	}
	return true
}

func httpMirrors(fs []gwv1.HTTPRouteFilter) []gwv1.BackendObjectReference {
	return mirrors(fs, func(f gwv1.HTTPRouteFilter) *gwv1.HTTPRequestMirrorFilter { return f.RequestMirror })
}

func grpcMirrors(fs []gwv1.GRPCRouteFilter) []gwv1.BackendObjectReference {
	return mirrors(fs, func(f gwv1.GRPCRouteFilter) *gwv1.HTTPRequestMirrorFilter { return f.RequestMirror })
}

// mirrors are the backends of the request mirrors among filters fs.
func mirrors[F any](fs []F, mirror func(F) *gwv1.HTTPRequestMirrorFilter) []gwv1.BackendObjectReference {
	var out []gwv1.BackendObjectReference
	for _, f := range fs {
		if m := mirror(f); m != nil {
			out = append(out, m.BackendRef)
		}
	}
	return out
}

func backendObjects(refs []gwv1.BackendRef) []gwv1.BackendObjectReference {
	out := make([]gwv1.BackendObjectReference, 0, len(refs))
	for _, b := range refs {
		out = append(out, b.BackendObjectReference)
	}
	return out
}

// selectBackendTLSPolicy: a policy targeting a Service (any port) that a
// selected route references.
func selectBackendTLSPolicy(s *selection, o client.Object) bool {
	p, ok := o.(*gwv1.BackendTLSPolicy)
	if !ok {
		return false
	}
	for _, ref := range p.Spec.TargetRefs {
		if ref.Group == "" && ref.Kind == "Service" && s.services[k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}] {
			return true
		}
	}
	return false
}

// selectClientTrafficPolicy: a policy of the Gateway's namespace whose
// targetRefs name the Gateway (or one of its listeners).
func selectClientTrafficPolicy(s *selection, o client.Object) bool {
	p, ok := o.(*v1alpha1.ClientTrafficPolicy)
	if !ok || p.Namespace != s.gateway.Namespace {
		return false
	}
	for _, ref := range p.Spec.TargetRefs {
		if ref.Group == gwv1.GroupName && ref.Kind == "Gateway" && string(ref.Name) == s.gateway.Name {
			return true
		}
	}
	return false
}

// namesGateway reports whether a parentRef of a route in namespace routeNS
// names Gateway gw.
func namesGateway(gw k8stypes.NamespacedName, routeNS string, refs []gwv1.ParentReference) bool {
	for _, p := range refs {
		if p.Group != nil && *p.Group != gwv1.GroupName {
			continue
		}
		if p.Kind != nil && *p.Kind != "Gateway" {
			continue
		}
		ns := routeNS
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if ns == gw.Namespace && string(p.Name) == gw.Name {
			return true
		}
	}
	return false
}

// selectListenerSet: a ListenerSet whose parentRef names the Gateway
// (translation's rule, ListenerSetParent), admitted or not (becoming
// admitted changes the verdict too).
func selectListenerSet(s *selection, o client.Object) bool {
	ls, ok := o.(*gwv1.ListenerSet)
	if !ok {
		return false
	}
	if parent, ok := ListenerSetParent(ls); !ok || parent != (Key{Namespace: s.gateway.Namespace, Name: s.gateway.Name}) {
		return false
	}
	if s.sets == nil {
		s.sets = map[k8stypes.NamespacedName]bool{}
	}
	s.sets[k8stypes.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}] = true
	return true
}

// namesListenerSet reports whether a parentRef of a route in namespace
// routeNS names a selected ListenerSet.
func (s *selection) namesListenerSet(routeNS string, refs []gwv1.ParentReference) bool {
	for _, p := range refs {
		if (p.Group != nil && *p.Group != gwv1.GroupName) || p.Kind == nil || *p.Kind != "ListenerSet" {
			continue
		}
		ns := routeNS
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if s.sets[k8stypes.NamespacedName{Namespace: ns, Name: string(p.Name)}] {
			return true
		}
	}
	return false
}
