package readiness

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
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

func TestRouteInputs(t *testing.T) {
	gw := k8stypes.NamespacedName{Namespace: "team-a", Name: "gw"}
	other := gwv1.Namespace("team-b")
	svc := gwv1.Kind("Service")
	route := func(ns, name string, gen int64, refs ...gwv1.ParentReference) *gwv1.HTTPRoute {
		return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID("u-" + name), Generation: gen},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: refs}}}
	}
	teamA := gwv1.Namespace("team-a")
	http := []*gwv1.HTTPRoute{
		route("team-a", "same-ns", 1, gwv1.ParentReference{Name: "gw"}),
		route("team-c", "cross-ns", 2, gwv1.ParentReference{Name: "gw", Namespace: &teamA}),
		route("team-a", "other-gw", 1, gwv1.ParentReference{Name: "gw2"}),
		route("team-a", "other-ns", 1, gwv1.ParentReference{Name: "gw", Namespace: &other}),
		route("team-a", "service-parent", 1, gwv1.ParentReference{Name: "gw", Kind: &svc}),
	}
	grpc := []*gwv1.GRPCRoute{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "g", UID: "g", Generation: 4},
		Spec: gwv1.GRPCRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}}}}}
	got := RouteInputs(gw, http, grpc)
	want := "GRPCRoute team-a/g generation 4, HTTPRoute team-a/same-ns generation 1, HTTPRoute team-c/cross-ns generation 2"
	if s := strings.Join(got.words(), ", "); s != want {
		t.Errorf("route inputs %q, want %q", s, want)
	}
}

func TestInputsChanges(t *testing.T) {
	a := Input{Kind: "HTTPRoute", Namespace: "n", Name: "a", UID: "1", Generation: 1}
	b := Input{Kind: "HTTPRoute", Namespace: "n", Name: "b", UID: "2", Generation: 1}
	a2, aNew := a, a
	a2.Generation, aNew.UID = 2, "9"
	absent := Input{Kind: "EnvoyProxy", Namespace: "n", Name: "p"}
	present := absent
	present.UID, present.Generation = "p", 1
	for _, c := range []struct {
		old, new Inputs
		want     string
	}{
		{Inputs{a, b}, Inputs{b, a}, ""},
		{Inputs{a}, Inputs{a2}, "HTTPRoute n/a generation 1→2"},
		{Inputs{a}, Inputs{aNew}, "HTTPRoute n/a replaced"},
		{Inputs{a}, Inputs{a, b}, "HTTPRoute n/b added"},
		{Inputs{a, b}, Inputs{b}, "HTTPRoute n/a removed"},
		{Inputs{absent}, Inputs{present}, "EnvoyProxy n/p added"},
		{Inputs{present}, Inputs{absent}, "EnvoyProxy n/p removed"},
	} {
		if got := strings.Join(c.new.Changes(c.old), "; "); got != c.want {
			t.Errorf("%v → %v: %q, want %q", c.old, c.new, got, c.want)
		}
	}
}

func TestCurrent(t *testing.T) {
	gwIn := Inputs{{Kind: "GatewayClass", Name: "berth", UID: "c", Generation: 1}}
	routes := Inputs{{Kind: "HTTPRoute", Namespace: "n", Name: "r", UID: "r", Generation: 1}}
	recorded := Gateway{Generation: 2, Conditions: []metav1.Condition{{Type: InputsCondition, Status: metav1.ConditionTrue,
		Reason: ReasonInputsObserved, ObservedGeneration: 2, Message: InputsMessage(gwIn, routes)}}}
	changedRoutes := Inputs{{Kind: "HTTPRoute", Namespace: "n", Name: "r", UID: "r", Generation: 2}}
	changedClass := Inputs{{Kind: "GatewayClass", Name: "berth", UID: "c", Generation: 2}}
	stale := recorded
	stale.Generation = 3
	for _, c := range []struct {
		name string
		g    Gateway
		live Live
		want string
	}{
		{"same", recorded, Live{Gateway: &gwIn, Routes: &routes}, ""},
		{"route changed", recorded, Live{Gateway: &gwIn, Routes: &changedRoutes}, "its routes changed since"},
		{"routes unreadable", recorded, Live{Gateway: &gwIn}, ""},
		{"nothing readable", recorded, Live{}, ""},
		{"class changed", recorded, Live{Gateway: &changedClass, Routes: &routes}, "its class or EnvoyProxies changed since (live: GatewayClass berth generation 2)"},
		{"older generation", stale, Live{Gateway: &gwIn, Routes: &routes}, "the recorded inputs describe generation 2, the Gateway is at generation 3"},
		{"another controller", Gateway{Generation: 1}, Live{Gateway: &changedClass}, ""},
	} {
		got := Current(c.g, c.live)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
