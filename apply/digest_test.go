package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func deployment(name string, replicas int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": name, "namespace": "ns"},
		"spec": map[string]any{
			"replicas": replicas,
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "envoy", "image": "envoy:1", "ports": []any{
					map[string]any{"containerPort": int64(8080), "protocol": "TCP"},
				}},
			}}},
		},
	}}
}

func TestSetDigestIsOrderIndependentAndSensitive(t *testing.T) {
	a, b := deployment("a", 1), deployment("b", 1)
	d1, err := setDigest([]*unstructured.Unstructured{a, b}, "opts")
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := setDigest([]*unstructured.Unstructured{b, a}, "opts")
	if d1 != d2 {
		t.Errorf("order changed the digest")
	}
	d3, _ := setDigest([]*unstructured.Unstructured{a, deployment("b", 2)}, "opts")
	if d3 == d1 {
		t.Errorf("a changed field did not change the digest")
	}
	d4, _ := setDigest([]*unstructured.Unstructured{a, b}, "other opts")
	if d4 == d1 {
		t.Errorf("changed write options did not change the digest")
	}
	d5, _ := setDigest([]*unstructured.Unstructured{a}, "opts")
	if d5 == d1 {
		t.Errorf("a dropped object did not change the digest")
	}
}

// withOwnership sets managedFields: berth owns replicas, the envoy container's image
// and its port 8080; "kubectl" owns an annotation.
func withOwnership(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	u.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"envoy\"}":{".":{},"f:image":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}`)}},
		{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:metadata":{"f:annotations":{"f:note":{}}}}`)}},
	})
	return u
}

func TestOwnedDigestFollowsOwnedValuesOnly(t *testing.T) {
	base := withOwnership(deployment("a", 2))
	d := ownedDigest(base, "berth")
	if d == "" {
		t.Fatal("no digest for an object berth owns fields of")
	}
	if ownedDigest(base, "nobody") != "" {
		t.Errorf("digest for a manager that owns nothing")
	}

	unowned := base.DeepCopy()
	unowned.SetAnnotations(map[string]string{"note": "changed"})
	_ = unstructured.SetNestedField(unowned.Object, map[string]any{"replicas": int64(5)}, "status")
	if ownedDigest(unowned, "berth") != d {
		t.Errorf("a change outside berth's fields changed the digest")
	}

	replicas := base.DeepCopy()
	_ = unstructured.SetNestedField(replicas.Object, int64(3), "spec", "replicas")
	if ownedDigest(replicas, "berth") == d {
		t.Errorf("a changed owned scalar did not change the digest")
	}

	image := base.DeepCopy()
	containers, _, _ := unstructured.NestedSlice(image.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "envoy:2"
	_ = unstructured.SetNestedSlice(image.Object, containers, "spec", "template", "spec", "containers")
	if ownedDigest(image, "berth") == d {
		t.Errorf("a changed owned field inside a keyed list item did not change the digest")
	}

	lost := base.DeepCopy()
	mf := lost.GetManagedFields()
	mf[0].FieldsV1 = &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:template":{}}}`)}
	lost.SetManagedFields(mf)
	if ownedDigest(lost, "berth") == d {
		t.Errorf("losing ownership of fields did not change the digest")
	}

	// Integers decoded from JSON (float64) and from the API (int64) project alike.
	asFloat := base.DeepCopy()
	_ = unstructured.SetNestedField(asFloat.Object, float64(2), "spec", "replicas")
	if ownedDigest(asFloat, "berth") != d {
		t.Errorf("int64 and float64 of the same number projected differently")
	}
}

func TestCombineDigestsIsOrderIndependent(t *testing.T) {
	a := combineDigests(map[string]string{"x": "1", "y": "2"})
	b := combineDigests(map[string]string{"y": "2", "x": "1"})
	if a != b {
		t.Errorf("map order changed the digest")
	}
	if a == combineDigests(map[string]string{"x": "1", "y": "3"}) {
		t.Errorf("a changed entry did not change the digest")
	}
}

// appendJSON is encoding/json's encoding, fast path or not.
func TestAppendJSONIsEncodingJSON(t *testing.T) {
	values := []any{
		nil, "", "plain", "quote\"d", `back\slash`, "<html> & co", "tab\there", "ünïcode", "\u2028", "bad\xffutf8",
		true, false, int64(0), int64(-42), int64(1) << 62, 7, float64(1.5), float64(1e21), float64(3),
		map[string]any{"b": int64(1), "a": []any{"x", nil, map[string]any{"<k>": false}}, "": "empty key"},
		[]any{}, map[string]any{}, []string{"typed", "slice"}, int32(5),
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSON(nil, v)
		if !ok || string(got) != string(want) {
			t.Errorf("appendJSON(%#v) = %q, %v; encoding/json %q", v, got, ok, want)
		}
	}
}

// setDigest is recorded on inventories: its encoding (each object's
// json.Marshal, by sorted key, after a length) must not change, or every
// Gateway is re-applied once after an upgrade.
func TestSetDigestEncodingIsStable(t *testing.T) {
	objs := []*unstructured.Unstructured{deployment("b", 2), deployment("a", 1)}
	objs[0].Object["data"] = map[string]any{"bootstrap": "line one\n<html> & \"quotes\"\u2028"}
	got, err := setDigest(objs, "manager=berth")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "manager=berth\n")
	for _, o := range []*unstructured.Unstructured{objs[1], objs[0]} {
		body, _ := json.Marshal(o.Object)
		fmt.Fprintf(h, "%s\n%d\n", refOf(o), len(body))
		h.Write(body)
	}
	if want := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("setDigest = %s, want %s", got, want)
	}
}

// ownedDigest reads managedFields as unstructured holds them (a JSON tree) and
// gives the digest of the typed path (fieldsV1 as raw JSON).
func TestOwnedDigestTreeMatchesTyped(t *testing.T) {
	u := withOwnership(deployment("a", 2))
	tree, found, err := ownedFields(u, "berth")
	if err != nil || !found || len(tree) == 0 {
		t.Fatalf("ownedFields: %v %v %v", tree, found, err)
	}
	typed, found, err := ownedFieldsTyped(u, "berth")
	if err != nil || !found || !reflect.DeepEqual(tree, typed) {
		t.Fatalf("typed path: %v %v %v, tree path %v", typed, found, err, tree)
	}
	if _, found, _ := ownedFields(u, "kubectl"); found {
		t.Errorf("kubectl's Update entry taken for an Apply entry")
	}
	// A status-subresource Apply entry of the same manager is not the object's.
	s := u.DeepCopy()
	s.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply, Subresource: "status",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}}})
	if d := ownedDigest(s, "berth"); d != "" {
		t.Errorf("status entry digested: %q", d)
	}
}

// The owned-fields digest is recorded on inventories: a new encoding of the
// same values must give the same digest, or every Gateway is re-applied once
// after an upgrade. legacy is the digest berth recorded before owned list
// elements counted by existence (and before the digest's encoder was
// rewritten): an inventory recorded then is still proven unchanged by it.
func TestOwnedDigestIsStable(t *testing.T) {
	const (
		recorded = "69fc4d45b027cde919f3ad5aff7d8d479be8d63860ad041b9090dc6965a72b0b"
		legacy   = "06ddb1ed9d4c50cb42e23cc127c3cf742f46badcee9ff983b598c816f5fda19a"
	)
	u := withOwnership(deployment("a", 2))
	d, l := ownedDigests(u, "berth")
	if d != recorded || l != legacy {
		t.Errorf("ownedDigests = %s, %s; want %s, %s", d, l, recorded, legacy)
	}
	if got := ownedDigest(u, "berth"); got != recorded {
		t.Errorf("ownedDigest = %s, want %s", got, recorded)
	}
	if got, want := cachedDigests(u, "berth"), recorded+legacySeparator+legacy; got != want {
		t.Errorf("cachedDigests = %q, want %q", got, want)
	}
	if d, l := splitCached(cachedDigests(u, "berth")); d != recorded || l != legacy {
		t.Errorf("splitCached = %s, %s", d, l)
	}
	// Without owned list elements the two are one, kept once.
	cm := withOwnership(deployment("a", 2))
	cm.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{}}}`)}}})
	if got := cachedDigests(cm, "berth"); strings.Contains(got, legacySeparator) || got != ownedDigest(cm, "berth") {
		t.Errorf("cachedDigests without list elements = %q", got)
	}
}

// The watch transform is idempotent (client-go's streaming list passes a
// listed object through it twice): a watched copy keeps its digest.
func TestTransformKeepsAWatchedCopysDigest(t *testing.T) {
	h := &hub{manager: "berth"}
	u := withOwnership(deployment("envoy", 2))
	want := cachedDigests(u, "berth")
	if want == "" {
		t.Fatal("no digest for an owned object")
	}
	h.transform(u)
	u.SetManagedFields(nil) // as kindwatch leaves a watched copy
	if !isWatchedCopy(u) {
		t.Fatal("a watched copy is not recognised")
	}
	h.transform(u)
	if got := u.GetAnnotations()[cachedOwnedDigest]; got != want {
		t.Errorf("digest after a second transform %q, want %q", got, want)
	}
	// A live object (with managedFields) carrying the annotation is
	// digested, whatever the annotation says.
	live := withOwnership(deployment("envoy", 2))
	setCachedDigest(live, "planted")
	h.transform(live)
	if got := live.GetAnnotations()[cachedOwnedDigest]; got != want {
		t.Errorf("live object's digest %q, want %q", got, want)
	}
}

// An inventory recorded by this version, or by an earlier one (legacy
// digests), is proven unchanged by watched copies holding what it recorded;
// a change of any object's owned values is not.
func TestProvenUnchanged(t *testing.T) {
	dep := withOwnership(deployment("a", 2))
	other := withOwnership(deployment("b", 3))
	other.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{}}}`)}}})
	cached := map[string]string{"Deployment a": cachedDigests(dep, "berth"), "Deployment b": cachedDigests(other, "berth")}
	d, l := ownedDigests(dep, "berth")
	now := combineDigests(map[string]string{"Deployment a": d, "Deployment b": ownedDigest(other, "berth")})
	before := combineDigests(map[string]string{"Deployment a": l, "Deployment b": ownedDigest(other, "berth")})
	if !provenUnchanged(cached, now) {
		t.Error("the digests this version records: not proven")
	}
	if !provenUnchanged(cached, before) {
		t.Error("the digests an earlier version recorded: not proven (every Gateway would be applied again after an upgrade)")
	}
	changed := withOwnership(deployment("a", 5))
	cached["Deployment a"] = cachedDigests(changed, "berth")
	if provenUnchanged(cached, now) || provenUnchanged(cached, before) {
		t.Error("a changed owned value proven unchanged")
	}
	if provenUnchanged(map[string]string{"Deployment a": cachedDigests(dep, "berth")}, now) {
		t.Error("a missing object proven unchanged")
	}
}
