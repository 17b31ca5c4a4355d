package controller

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/xds/translate"
)

// A policy change re-translates the Gateways of its own namespace its
// targetRefs name (not other kinds, not twice) and those whose status it
// had.
func TestClientTrafficTargets(t *testing.T) {
	nn := func(ns, name string) k8stypes.NamespacedName {
		return k8stypes.NamespacedName{Namespace: ns, Name: name}
	}
	ref := func(group, kind, name, section string) gwv1.LocalPolicyTargetReferenceWithSectionName {
		r := gwv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.Group(group), Kind: gwv1.Kind(kind), Name: gwv1.ObjectName(name)}}
		if section != "" {
			r.SectionName = ptr.To(gwv1.SectionName(section))
		}
		return r
	}
	p := &v1alpha1.ClientTrafficPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p"},
		Spec: v1alpha1.ClientTrafficPolicySpec{TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{
			ref(gwv1.GroupName, "Gateway", "gw", ""),
			ref(gwv1.GroupName, "Gateway", "gw", "http"),
			ref("", "Service", "svc", ""),
			ref(gwv1.GroupName, "Gateway", "other", ""),
		}},
	}
	got := clientTrafficTargets(p, []k8stypes.NamespacedName{nn("a", "old"), nn("a", "gw")})
	want := []k8stypes.NamespacedName{nn("a", "old"), nn("a", "gw"), nn("a", "other")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("targets = %v, want %v", got, want)
	}
}

// The CA ConfigMaps a policy's client validation names are read for the
// translation (in the policy's namespace unless another is named); Secrets
// and other kinds are not ConfigMaps.
func TestClientTrafficConfigMaps(t *testing.T) {
	ref := func(kind, ns, name string) gwv1.SecretObjectReference {
		r := gwv1.SecretObjectReference{Kind: ptr.To(gwv1.Kind(kind)), Name: gwv1.ObjectName(name)}
		if ns != "" {
			r.Namespace = ptr.To(gwv1.Namespace(ns))
		}
		return r
	}
	ps := []*v1alpha1.ClientTrafficPolicy{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "none"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p"}, Spec: v1alpha1.ClientTrafficPolicySpec{TLS: &v1alpha1.ClientTLSSettings{
			ClientValidation: &v1alpha1.ClientValidationContext{CACertificateRefs: []gwv1.SecretObjectReference{
				ref("ConfigMap", "", "ca"), ref("Secret", "", "s"), ref("ConfigMap", "pki", "shared"), {Name: "default-kind-is-secret"},
			}},
		}}},
	}
	got := clientTrafficConfigMaps(ps)
	want := []k8stypes.NamespacedName{{Namespace: "a", Name: "ca"}, {Namespace: "pki", Name: "shared"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ConfigMaps = %v, want %v", got, want)
	}
}

// One policy's statuses towards a Gateway and its listeners become one
// fact with an ancestor per target, and its ancestors in status carry the
// sectionName.
func TestClientTrafficFacts(t *testing.T) {
	key := k8stypes.NamespacedName{Namespace: "a", Name: "p"}
	accepted := metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}
	overridden := metav1.Condition{Type: "Overridden", Status: metav1.ConditionTrue, Reason: "Overridden"}
	gwRef := gwv1.ParentReference{Name: "gw"}
	lsRef := gwv1.ParentReference{Name: "gw", SectionName: ptr.To(gwv1.SectionName("web"))}
	facts := clientTrafficFacts([]translate.PolicyStatus{
		{Policy: key, Ancestor: gwRef, Conditions: []metav1.Condition{accepted, overridden}},
		{Policy: key, Ancestor: lsRef, Conditions: []metav1.Condition{accepted}},
	}, map[k8stypes.NamespacedName]int64{key: 3})
	want := policyFact{PolicyGeneration: 3, Ancestors: []ancestorFact{
		{Conditions: []metav1.Condition{accepted, overridden}},
		{Section: "web", Conditions: []metav1.Condition{accepted}},
	}}
	if len(facts) != 1 || !reflect.DeepEqual(facts[key], want) {
		t.Fatalf("facts = %+v, want %+v", facts, want)
	}

	gw := k8stypes.NamespacedName{Namespace: "a", Name: "gw"}
	var entries []policyEntry
	for _, a := range facts[key].Ancestors {
		entries = append(entries, policyEntry{Gateway: gw, Section: a.Section, Conditions: a.Conditions})
	}
	out := policyAncestors(nil, "berth", entries, 3, metav1.NewTime(time.Unix(1000, 0)))
	if len(out) != 2 || out[0].AncestorRef.SectionName != nil || out[1].AncestorRef.SectionName == nil || *out[1].AncestorRef.SectionName != "web" {
		t.Fatalf("ancestors %+v: want the Gateway, then listener web", out)
	}
	if len(out[0].Conditions) != 2 || len(out[1].Conditions) != 1 || out[1].Conditions[0].ObservedGeneration != 3 {
		t.Fatalf("conditions %+v, %+v", out[0].Conditions, out[1].Conditions)
	}
}
