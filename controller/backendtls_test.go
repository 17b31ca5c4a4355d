package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestPolicyAncestors(t *testing.T) {
	const berth, other = gwv1.GatewayController("berth"), gwv1.GatewayController("other")
	t0 := metav1.NewTime(time.Unix(1000, 0))
	t1 := metav1.NewTime(time.Unix(2000, 0))
	accepted := metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}
	conflicted := metav1.Condition{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "Conflicted"}
	resolved := metav1.Condition{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs"}
	gw := func(ns, name string) k8stypes.NamespacedName {
		return k8stypes.NamespacedName{Namespace: ns, Name: name}
	}

	first := policyAncestors([]gwv1.PolicyAncestorStatus{{ControllerName: other, AncestorRef: gwv1.ParentReference{Name: "theirs"}}}, berth,
		[]policyEntry{{Gateway: gw("b", "gw"), Conditions: []metav1.Condition{accepted, resolved}}, {Gateway: gw("a", "gw"), Conditions: []metav1.Condition{conflicted, resolved}}}, 3, t0)
	if len(first) != 3 || first[0].ControllerName != other {
		t.Fatalf("other controllers' entries must stay first and unchanged: %+v", first)
	}
	if first[1].AncestorRef.Name != "gw" || string(*first[1].AncestorRef.Namespace) != "a" || *first[1].AncestorRef.Kind != "Gateway" {
		t.Fatalf("berth's entries are sorted by Gateway: %+v", first[1].AncestorRef)
	}
	if c := meta.FindStatusCondition(first[1].Conditions, "Accepted"); c == nil || c.Reason != "Conflicted" || c.ObservedGeneration != 3 || !c.LastTransitionTime.Equal(&t0) {
		t.Fatalf("conditions carry the policy generation: %+v", first[1].Conditions)
	}
	// Gateway a's verdict changes, b's does not: only a's transition time moves.
	second := policyAncestors(first, berth,
		[]policyEntry{{Gateway: gw("a", "gw"), Conditions: []metav1.Condition{accepted, resolved}}, {Gateway: gw("b", "gw"), Conditions: []metav1.Condition{accepted, resolved}}}, 4, t1)
	if c := meta.FindStatusCondition(second[1].Conditions, "Accepted"); c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Equal(&t1) || c.ObservedGeneration != 4 {
		t.Errorf("a changed: %+v", c)
	}
	if c := meta.FindStatusCondition(second[2].Conditions, "Accepted"); !c.LastTransitionTime.Equal(&t0) || c.ObservedGeneration != 4 {
		t.Errorf("b unchanged keeps its transition time: %+v", c)
	}
	// A Gateway that no longer uses the policy leaves its entry.
	if third := policyAncestors(second, berth, []policyEntry{{Gateway: gw("b", "gw"), Conditions: []metav1.Condition{accepted, resolved}}}, 4, t1); len(third) != 2 {
		t.Errorf("a's entry must go: %+v", third)
	}
	// At most 16 ancestors in all.
	var many []policyEntry
	for i := 0; i < 20; i++ {
		many = append(many, policyEntry{Gateway: gw("ns", string(rune('a'+i))), Conditions: []metav1.Condition{accepted}})
	}
	if got := policyAncestors(first[:1], berth, many, 1, t0); len(got) != maxPolicyAncestors {
		t.Errorf("ancestors: %d, want %d", len(got), maxPolicyAncestors)
	}
}

func TestGatewayTranslationConditions(t *testing.T) {
	now := metav1.NewTime(time.Unix(1000, 0))
	insecure := metav1.Condition{Type: string(gwv1.GatewayConditionInsecureFrontendValidationMode), Status: metav1.ConditionTrue, Reason: "ConfigurationChanged"}
	bad := metav1.Condition{Type: string(gwv1.GatewayConditionResolvedRefs), Status: metav1.ConditionFalse, Reason: string(gwv1.GatewayReasonInvalidClientCertificateRef)}
	f := gatewayFacts{Generation: 2, Translation: &translated{Generation: 2, Conditions: []metav1.Condition{bad, insecure}}}
	st := gatewayStatus(gwv1.GatewayStatus{}, f, now)
	if c := meta.FindStatusCondition(st.Conditions, string(gwv1.GatewayConditionResolvedRefs)); c == nil || c.Reason != string(gwv1.GatewayReasonInvalidClientCertificateRef) || c.ObservedGeneration != 2 {
		t.Fatalf("ResolvedRefs: %+v", st.Conditions)
	}
	if meta.FindStatusCondition(st.Conditions, string(gwv1.GatewayConditionInsecureFrontendValidationMode)) == nil {
		t.Fatalf("InsecureFrontendValidationMode missing: %+v", st.Conditions)
	}
	// Not translated yet for generation 3: the conditions stay as they were.
	st2 := gatewayStatus(st, gatewayFacts{Generation: 3}, now)
	if meta.FindStatusCondition(st2.Conditions, string(gwv1.GatewayConditionInsecureFrontendValidationMode)) == nil {
		t.Fatalf("conditions dropped before translation: %+v", st2.Conditions)
	}
	// Translated without the insecure mode: that condition is removed.
	f.Translation.Conditions = []metav1.Condition{{Type: string(gwv1.GatewayConditionResolvedRefs), Status: metav1.ConditionTrue, Reason: "ResolvedRefs"}}
	st3 := gatewayStatus(st2, f, now)
	if meta.FindStatusCondition(st3.Conditions, string(gwv1.GatewayConditionInsecureFrontendValidationMode)) != nil {
		t.Errorf("InsecureFrontendValidationMode must go: %+v", st3.Conditions)
	}
}
