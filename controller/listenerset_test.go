package controller

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

// The ListenerSet status written from a translation fact: the CRD's
// Pending defaults replaced, observedGeneration stamped, transition times
// kept on a no-op, listener entries carried over.
func TestListenerSetStatus(t *testing.T) {
	fact := translate.ListenerSetStatus{
		ListenerSet: k8stypes.NamespacedName{Namespace: "apps", Name: "first"},
		Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"},
			{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"},
		},
		Listeners: []translate.ListenerStatus{{Name: "http", AttachedRoutes: 2, SupportedKinds: []gwv1.RouteGroupKind{{Kind: "HTTPRoute"}},
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}}}},
	}
	defaults := gwv1.ListenerSetStatus{Conditions: []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionUnknown, Reason: "Pending"},
		{Type: "Programmed", Status: metav1.ConditionUnknown, Reason: "Pending"},
	}}
	first := listenerSetStatus(defaults, fact, 3, t0)
	for _, c := range first.Conditions {
		if c.Status != metav1.ConditionTrue || c.ObservedGeneration != 3 || !c.LastTransitionTime.Equal(&t0) {
			t.Errorf("condition %+v: want True at generation 3 from t0", c)
		}
	}
	if len(first.Listeners) != 1 || first.Listeners[0].Name != "http" || first.Listeners[0].AttachedRoutes != 2 ||
		first.Listeners[0].Conditions[0].ObservedGeneration != 3 {
		t.Errorf("listeners %+v", first.Listeners)
	}
	second := listenerSetStatus(first, fact, 3, t1)
	if !equality.Semantic.DeepEqual(first, second) {
		t.Errorf("status changed on a no-op: %+v → %+v", first, second)
	}
	// Not admitted any more: no listener entries, conditions flip at t1.
	fact.Listeners = []translate.ListenerStatus{}
	fact.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "NotAllowed"},
		{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "NotAllowed"},
	}
	third := listenerSetStatus(second, fact, 4, t1)
	if len(third.Listeners) != 0 {
		t.Errorf("listeners %+v, want none", third.Listeners)
	}
	for _, c := range third.Conditions {
		if c.Status != metav1.ConditionFalse || c.Reason != "NotAllowed" || !c.LastTransitionTime.Equal(&t1) {
			t.Errorf("condition %+v: want False NotAllowed from t1", c)
		}
	}
}

// A Gateway's status counts the attached ListenerSets of its translation.
func TestGatewayStatusAttachedListenerSets(t *testing.T) {
	f := ready()
	f.Translation.AttachedListenerSets = 2
	st := gatewayStatus(gwv1.GatewayStatus{}, f, t0)
	if st.AttachedListenerSets == nil || *st.AttachedListenerSets != 2 {
		t.Errorf("attachedListenerSets = %v, want 2", st.AttachedListenerSets)
	}
	// A Gateway that is not Accepted has none attached: its ListenerSets
	// are ParentNotAccepted (translate.ListenerSetStatusOf).
	f.RenderErr = &render.ParametersError{Err: errors.New("EnvoyProxy a/nope not found")}
	st = gatewayStatus(gwv1.GatewayStatus{}, f, t0)
	if a := meta.FindStatusCondition(st.Conditions, "Accepted"); a == nil || a.Status != metav1.ConditionFalse {
		t.Fatalf("Accepted = %+v, want False", a)
	}
	if st.AttachedListenerSets == nil || *st.AttachedListenerSets != 0 {
		t.Errorf("attachedListenerSets = %v under a Gateway not Accepted, want 0", st.AttachedListenerSets)
	}
	if f.Translation.AttachedListenerSets != 2 {
		t.Error("the status changed the translation's count in place")
	}
}

// translatedFor ties a Gateway's verdict to one translation: the xds-inputs
// digest its InputsCondition records, for the generation translated.
func TestTranslatedFor(t *testing.T) {
	xds := readiness.Inputs{{Kind: "ListenerSet", Namespace: "apps", Name: "first", UID: "u1", Generation: 2}}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Generation: 5}}
	gw.Status.Conditions = []metav1.Condition{inputsCondition(5, nil, xds)}
	tr := &gatewayTranslation{translated: translated{Generation: 5, XDSInputs: xds.Digest()}}
	if !translatedFor(gw, tr) {
		t.Error("same digest and generation: want true")
	}
	older := readiness.Inputs{{Kind: "ListenerSet", Namespace: "apps", Name: "first", UID: "u1", Generation: 1}}
	if translatedFor(gw, &gatewayTranslation{translated: translated{Generation: 5, XDSInputs: older.Digest()}}) {
		t.Error("a translation of the ListenerSet's previous generation: want false")
	}
	if translatedFor(gw, &gatewayTranslation{translated: translated{Generation: 4, XDSInputs: xds.Digest()}}) {
		t.Error("a translation of the Gateway's previous generation: want false")
	}
	gw.Generation = 6 // the recorded inputs are of generation 5
	if translatedFor(gw, tr) {
		t.Error("inputs recorded for an older Gateway generation: want false")
	}
	if c := parentCondition(gw, gwv1.GatewayConditionAccepted); c != nil {
		t.Errorf("parentCondition = %+v on a status without Accepted, want nil", c)
	}
	gw.Status.Conditions = append(gw.Status.Conditions, metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, ObservedGeneration: 5})
	if c := parentCondition(gw, gwv1.GatewayConditionAccepted); c != nil {
		t.Errorf("parentCondition = %+v for an older generation, want nil", c)
	}
	gw.Status.Conditions[1].ObservedGeneration = 6
	if c := parentCondition(gw, gwv1.GatewayConditionAccepted); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("parentCondition = %+v, want the current Accepted", c)
	}
}

// Routes are indexed by the Gateways and the ListenerSets they name.
func TestParentGatewayKeysListenerSets(t *testing.T) {
	ls, gw := gwv1.Kind("ListenerSet"), gwv1.Kind("Gateway")
	other := gwv1.Namespace("other")
	r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "r"}, Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{
		{Kind: &ls, Name: "first"}, {Kind: &gw, Name: "gw", Namespace: &other}, {Kind: &ls, Name: "first", SectionName: ptrTo(gwv1.SectionName("http"))},
	}}}}
	got := parentGatewayKeys(r)
	want := []string{"listenerset:apps/first", "other/gw"}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
}

func ptrTo[T any](v T) *T { return &v }

// A cluster without the ListenerSet CRD (kinds.go never installed it):
// berth reads no ListenerSets.
func TestListenerSetsNotInstalled(t *testing.T) {
	c := &Controller{}
	if sets, err := c.listenerSetsOf(context.Background(), k8stypes.NamespacedName{Namespace: "a", Name: "gw"}); sets != nil || err != nil {
		t.Fatalf("ListenerSets read without the CRD: %v %v", sets, err)
	}
}
