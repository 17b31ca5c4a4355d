package readiness

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

func TestGatewayInputs(t *testing.T) {
	ns := gwv1.Namespace("infra")
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth", UID: "c1", Generation: 2},
		Spec: gwv1.GatewayClassSpec{ParametersRef: &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "class-proxy", Namespace: &ns}}}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gw"}, Spec: gwv1.GatewaySpec{GatewayClassName: "berth",
		Infrastructure: &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "gw-proxy"}}}}
	classEP := &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "class-proxy", UID: "e1", Generation: 7}}
	gwEP := &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gw-proxy", UID: "e2", Generation: 1}}

	got := GatewayInputs(gw, class, classEP, gwEP)
	want := "EnvoyProxy infra/class-proxy generation 7, EnvoyProxy team-a/gw-proxy generation 1, GatewayClass berth generation 2"
	if s := strings.Join(got.words(), ", "); s != want {
		t.Errorf("inputs %q, want %q", s, want)
	}
	// A missing EnvoyProxy is an input too: creating it changes the digest.
	missing := GatewayInputs(gw, class, classEP, nil)
	if s := strings.Join(missing.words(), ", "); !strings.Contains(s, "EnvoyProxy team-a/gw-proxy (absent)") {
		t.Errorf("missing EnvoyProxy not recorded: %q", s)
	}
	if missing.Digest() == got.Digest() {
		t.Error("a missing EnvoyProxy has the digest of a present one")
	}
	// An EnvoyProxy of the wrong name (a stale read) counts as absent.
	if GatewayInputs(gw, class, gwEP, gwEP).Digest() == got.Digest() {
		t.Error("a wrong EnvoyProxy passed for the class's")
	}
	// Every change of generation or identity changes the digest.
	for _, c := range []struct {
		name   string
		change func()
	}{
		{"class generation", func() { class.Generation++ }},
		{"class proxy", func() { classEP.Generation++ }},
		{"gateway proxy", func() { gwEP.UID = "e3" }},
		{"class parametersRef", func() { class.Spec.ParametersRef.Name = "other" }},
	} {
		name, change := c.name, c.change
		before := GatewayInputs(gw, class, classEP, gwEP).Digest()
		change()
		if GatewayInputs(gw, class, classEP, gwEP).Digest() == before {
			t.Errorf("%s: digest unchanged", name)
		}
	}
	if in := GatewayInputs(gw, nil, nil, nil); len(in) != 1 || in[0].String() != "GatewayClass berth (absent)" {
		t.Errorf("no class: %v", in)
	}
}

func TestSelectInputs(t *testing.T) {
	gw := k8stypes.NamespacedName{Namespace: "team-a", Name: "gw"}
	other := gwv1.Namespace("team-b")
	svc := gwv1.Kind("Service")
	meta := func(ns, name string, gen int64) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID("u-" + name), Generation: gen}
	}
	backend := func(name string) gwv1.BackendObjectReference {
		return gwv1.BackendObjectReference{Name: gwv1.ObjectName(name)}
	}
	route := func(ns, name string, gen int64, refs ...gwv1.ParentReference) *gwv1.HTTPRoute {
		return &gwv1.HTTPRoute{ObjectMeta: meta(ns, name, gen), Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: refs}}}
	}
	teamA := gwv1.Namespace("team-a")
	sameNS := route("team-a", "same-ns", 1, gwv1.ParentReference{Name: "gw"})
	sameNS.Spec.Rules = []gwv1.HTTPRouteRule{{
		BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: backend("web")}}},
		Filters:     []gwv1.HTTPRouteFilter{{Type: gwv1.HTTPRouteFilterRequestMirror, RequestMirror: &gwv1.HTTPRequestMirrorFilter{BackendRef: backend("shadow")}}},
	}}
	crossNS := route("team-c", "cross-ns", 2, gwv1.ParentReference{Name: "gw", Namespace: &teamA})
	crossNS.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: backend("api")}}}}}
	otherGW := route("team-a", "other-gw", 1, gwv1.ParentReference{Name: "gw2"})
	otherGW.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: backend("elsewhere")}}}}}
	http := []*gwv1.HTTPRoute{sameNS, crossNS, otherGW,
		route("team-a", "other-ns", 1, gwv1.ParentReference{Name: "gw", Namespace: &other}),
		route("team-a", "service-parent", 1, gwv1.ParentReference{Name: "gw", Kind: &svc}),
	}
	grpc := []*gwv1.GRPCRoute{{ObjectMeta: meta("team-a", "g", 4),
		Spec: gwv1.GRPCRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}}}}}
	tcp := []*gwv1.TCPRoute{{ObjectMeta: meta("team-a", "db", 3), Spec: gwv1.TCPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
		Rules:           []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{{BackendObjectReference: backend("postgres")}}}}}}}
	policy := func(ns, name, target string) *gwv1.BackendTLSPolicy {
		return &gwv1.BackendTLSPolicy{ObjectMeta: meta(ns, name, 1), Spec: gwv1.BackendTLSPolicySpec{
			TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: gwv1.ObjectName(target)}}}}}
	}
	btls := []*gwv1.BackendTLSPolicy{
		policy("team-a", "web-tls", "web"),          // a backendRef of a selected route
		policy("team-a", "shadow-tls", "shadow"),    // a mirror of a selected route
		policy("team-c", "api-tls", "api"),          // the backend is in the route's namespace
		policy("team-a", "pg-tls", "postgres"),      // a TCPRoute's backend
		policy("team-a", "api-tls-wrong-ns", "api"), // team-a/api is nobody's backend
		policy("team-a", "elsewhere-tls", "elsewhere"),
	}
	ctp := func(name string, refs ...gwv1.LocalPolicyTargetReferenceWithSectionName) *v1alpha1.ClientTrafficPolicy {
		return &v1alpha1.ClientTrafficPolicy{ObjectMeta: meta("team-a", name, 5), Spec: v1alpha1.ClientTrafficPolicySpec{TargetRefs: refs}}
	}
	target := func(kind, name string) gwv1.LocalPolicyTargetReferenceWithSectionName {
		return gwv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: gwv1.Kind(kind), Name: gwv1.ObjectName(name)}}
	}
	listener := target("Gateway", "gw")
	listener.SectionName = ptr.To(gwv1.SectionName("http"))
	ctps := []*v1alpha1.ClientTrafficPolicy{ctp("whole", target("Gateway", "gw")), ctp("listener", listener), ctp("other", target("Gateway", "gw2"))}
	foreign := ctp("foreign", target("Gateway", "gw"))
	foreign.Namespace = "team-b"
	ctps = append(ctps, foreign)

	objs := Objects{}
	add := func(k schema.GroupVersionKind, os ...client.Object) {
		objs[k.GroupKind()] = append(objs[k.GroupKind()], os...)
	}
	add(KindHTTPRoute, AsObjects(http)...)
	add(KindGRPCRoute, AsObjects(grpc)...)
	add(KindTCPRoute, AsObjects(tcp)...)
	add(KindBackendTLSPolicy, AsObjects(btls)...)
	add(KindClientTrafficPolicy, AsObjects(ctps)...)
	got := SelectInputs(gw, objs)
	want := []string{
		"BackendTLSPolicy team-a/pg-tls generation 1", "BackendTLSPolicy team-a/shadow-tls generation 1",
		"BackendTLSPolicy team-a/web-tls generation 1", "BackendTLSPolicy team-c/api-tls generation 1",
		"ClientTrafficPolicy team-a/listener generation 5", "ClientTrafficPolicy team-a/whole generation 5",
		"GRPCRoute team-a/g generation 4", "HTTPRoute team-a/same-ns generation 1", "HTTPRoute team-c/cross-ns generation 2",
		"TCPRoute team-a/db generation 3",
	}
	if s, w := strings.Join(got.words(), "\n"), strings.Join(want, "\n"); s != w {
		t.Errorf("inputs:\n%s\nwant:\n%s", s, w)
	}
	if c := got.counts(); c != "4 BackendTLSPolicy, 2 ClientTrafficPolicy, 1 GRPCRoute, 2 HTTPRoute, 1 TCPRoute" {
		t.Errorf("counts %q", c)
	}
	// The Services whose policies can be inputs: those of the selected
	// routes only (not other-gw's elsewhere), each once, sorted.
	services := fmt.Sprint(RouteServices(gw, objs))
	if want := "[team-a/postgres team-a/shadow team-a/web team-c/api]"; services != want {
		t.Errorf("RouteServices %s, want %s", services, want)
	}
	// A kind not read selects nothing, and the policies of a route's
	// Services go with the route.
	delete(objs, KindTCPRoute.GroupKind())
	if s := strings.Join(SelectInputs(gw, objs).words(), ", "); strings.Contains(s, "TCPRoute") || strings.Contains(s, "pg-tls") {
		t.Errorf("without TCPRoutes: %s", s)
	}
	if c := Inputs(nil).counts(); c != "no routes or policies" {
		t.Errorf("no inputs: %q", c)
	}
}

// Every input kind lists its objects with its NewList, and its selection
// takes objects of its own kind only.
func TestInputKinds(t *testing.T) {
	seen := map[schema.GroupKind]bool{}
	for _, k := range InputKinds {
		gk := k.Kind.GroupKind()
		if seen[gk] {
			t.Errorf("%s listed twice", gk)
		}
		seen[gk] = true
		if InputKindOf(gk) == nil || InputKindOf(gk).Kind != k.Kind {
			t.Errorf("InputKindOf(%s) = %v", gk, InputKindOf(gk))
		}
		l := k.NewList()
		if !strings.HasPrefix(reflect.TypeOf(l).Elem().Name(), k.Kind.Kind+"List") {
			t.Errorf("%s: NewList returns a %T", gk, l)
		}
		if k.selects(&selection{}, &corev1.Service{}) {
			t.Errorf("%s selects a Service", gk)
		}
	}
}

// BenchmarkSelectInputs: one Gateway's inputs among 10,000 HTTPRoutes
// naming 100 Gateways (100 each, one backend Service each) and 1,000
// BackendTLSPolicies: what berth wait does per Gateway, and more than the
// controller does (it lists HTTPRoutes by their parent index).
func BenchmarkSelectInputs(b *testing.B) {
	objs := Objects{}
	for i := 0; i < 10000; i++ {
		gw := fmt.Sprintf("gw-%d", i%100)
		r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: fmt.Sprintf("r-%d", i), UID: k8stypes.UID(fmt.Sprint(i)), Generation: 1},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: gwv1.ObjectName(gw)}}},
				Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(fmt.Sprintf("svc-%d", i))}}}}}}}}
		objs[KindHTTPRoute.GroupKind()] = append(objs[KindHTTPRoute.GroupKind()], r)
	}
	for i := 0; i < 1000; i++ {
		p := &gwv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: fmt.Sprintf("p-%d", i), UID: k8stypes.UID(fmt.Sprint("p", i)), Generation: 1},
			Spec: gwv1.BackendTLSPolicySpec{TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: gwv1.ObjectName(fmt.Sprintf("svc-%d", i*10))}}}}}
		objs[KindBackendTLSPolicy.GroupKind()] = append(objs[KindBackendTLSPolicy.GroupKind()], p)
	}
	gw := k8stypes.NamespacedName{Namespace: "team", Name: "gw-0"}
	if n := len(SelectInputs(gw, objs)); n != 200 {
		b.Fatalf("%d inputs, want 100 routes and their 100 policies", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		SelectInputs(gw, objs).Digest()
	}
}
