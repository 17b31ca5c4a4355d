package readiness

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A Gateway's ListenerSets and the routes naming them are route inputs: a
// ListenerSet change moves the route digest berth wait compares.
func TestListenerSetInputs(t *testing.T) {
	gw := k8stypes.NamespacedName{Namespace: "infra", Name: "gw"}
	infra, lsKind := gwv1.Namespace("infra"), gwv1.Kind("ListenerSet")
	set := func(ns, name, parent string, gen int64) *gwv1.ListenerSet {
		return &gwv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID(name), Generation: gen},
			Spec: gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Name: gwv1.ObjectName(parent), Namespace: &infra}}}
	}
	sets := []*gwv1.ListenerSet{set("apps", "first", "gw", 1), set("apps", "elsewhere", "other-gw", 1)}
	http := []*gwv1.HTTPRoute{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "on-set", UID: "r1", Generation: 2},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Kind: &lsKind, Name: "first"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "on-other-set", UID: "r2", Generation: 1},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Kind: &lsKind, Name: "elsewhere"}}}}},
	}
	objs := func() Objects {
		return Objects{KindListenerSet.GroupKind(): AsObjects(sets), KindHTTPRoute.GroupKind(): AsObjects(http)}
	}
	got := SelectInputs(gw, objs())
	if s, want := strings.Join(got.words(), ", "), "HTTPRoute apps/on-set generation 2, ListenerSet apps/first generation 1"; s != want {
		t.Errorf("inputs %q, want %q", s, want)
	}
	sets[0] = set("apps", "first", "gw", 2)
	changed := SelectInputs(gw, objs())
	if changed.Digest() == got.Digest() {
		t.Error("a ListenerSet generation change left the digest unchanged")
	}
	if c := changed.Changes(got); len(c) != 1 || c[0] != "ListenerSet apps/first generation 1→2" {
		t.Errorf("changes %v", c)
	}
}
