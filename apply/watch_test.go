package apply

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/common"
	pollevent "sigs.k8s.io/cli-utils/pkg/kstatus/polling/event"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/cli-utils/pkg/object"

	"github.com/berth-gateway/berth/internal/kindwatch"
)

func TestChangedForOwners(t *testing.T) {
	rs := func(s status.Status, msg string, mutate func(u *unstructured.Unstructured)) *pollevent.ResourceStatus {
		u := deployment("a", 1)
		u.SetGeneration(1)
		u.SetAnnotations(map[string]string{cachedOwnedDigest: "d1"})
		if mutate != nil {
			mutate(u)
		}
		return &pollevent.ResourceStatus{Status: s, Message: msg, Resource: u}
	}
	base := rs(status.CurrentStatus, "ready", nil)
	cases := []struct {
		name string
		next *pollevent.ResourceStatus
		want bool
	}{
		{"status-only churn", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(7), "status", "observedGeneration")
		}), false},
		{"status moved", rs(status.InProgressStatus, "ready", nil), true},
		{"message moved", rs(status.CurrentStatus, "Available: 1/2", nil), true},
		{"generation moved", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) { u.SetGeneration(2) }), true},
		{"owned fields drifted", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{cachedOwnedDigest: "d2"})
		}), true},
		{"deletion started", rs(status.CurrentStatus, "ready", func(u *unstructured.Unstructured) {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
		}), true},
		{"gone", &pollevent.ResourceStatus{Status: status.NotFoundStatus}, true},
	}
	for _, c := range cases {
		if got := changedForOwners(base, c.next); got != c.want {
			t.Errorf("%s: changedForOwners = %t, want %t", c.name, got, c.want)
		}
	}
	// A rollout's progress within InProgress wakes nobody; its end does, and
	// so does a Failed object's message (the owner's status quotes it).
	if changedForOwners(rs(status.InProgressStatus, "Replicas: 0/1", nil), rs(status.InProgressStatus, "Available: 0/1", nil)) {
		t.Error("progress within InProgress woke the owner")
	}
	if !changedForOwners(rs(status.InProgressStatus, "Available: 0/1", nil), rs(status.CurrentStatus, "ready", nil)) {
		t.Error("InProgress → Current did not wake the owner")
	}
	if !changedForOwners(rs(status.FailedStatus, "ProgressDeadlineExceeded", nil), rs(status.FailedStatus, "quota exceeded", nil)) {
		t.Error("a Failed object's new message did not wake the owner")
	}
}

// TestTransformStripsUnreadFields: watched copies lose a workload's pod
// template, a Deployment's selector and strategy, every label of an object
// that is not an inventory and a non-inventory ConfigMap's data, after the
// owned-fields digest was taken from the whole object, and kstatus computes
// the same status from the stripped copy.
func TestTransformStripsUnreadFields(t *testing.T) {
	h := &hub{manager: "berth"}
	d := deployment("a", 2)
	d.SetGeneration(3)
	d.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "berth", "app.kubernetes.io/name": "envoy"})
	d.SetAnnotations(map[string]string{"gateway.berth.dev/pod-template-hash": "h"})
	_ = unstructured.SetNestedField(d.Object, int64(600), "spec", "progressDeadlineSeconds")
	_ = unstructured.SetNestedStringMap(d.Object, map[string]string{"app.kubernetes.io/name": "envoy"}, "spec", "selector", "matchLabels")
	_ = unstructured.SetNestedField(d.Object, "RollingUpdate", "spec", "strategy", "type")
	d.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{}}}}}`)}}})
	_ = unstructured.SetNestedMap(d.Object, map[string]any{
		"observedGeneration": int64(3), "replicas": int64(2), "updatedReplicas": int64(2), "readyReplicas": int64(1), "availableReplicas": int64(1),
		"conditions": []any{map[string]any{"type": "Available", "status": "True"}, map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}},
	}, "status")
	full := d.DeepCopy()
	want, err := status.Compute(full)
	if err != nil {
		t.Fatal(err)
	}
	h.transform(d)
	if _, found, _ := unstructured.NestedMap(d.Object, "spec", "template"); found {
		t.Error("the Deployment's pod template was kept")
	}
	if spec, _, _ := unstructured.NestedMap(d.Object, "spec"); !reflect.DeepEqual(spec, map[string]any{"replicas": int64(2), "progressDeadlineSeconds": int64(600)}) {
		t.Errorf("watched Deployment spec %v, want replicas and progressDeadlineSeconds only", spec)
	}
	if l := d.GetLabels(); l != nil {
		t.Errorf("watched Deployment labels %v, want none", l)
	}
	if a := d.GetAnnotations()["gateway.berth.dev/pod-template-hash"]; a != "h" {
		t.Errorf("watched Deployment lost an annotation: %q", a)
	}
	if got := d.GetAnnotations()[cachedOwnedDigest]; got == "" || got != cachedDigests(full, "berth") {
		t.Errorf("owned digest %q, want the full object's %q", got, cachedDigests(full, "berth"))
	}
	got, err := status.Compute(d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != want.Status || got.Message != want.Message {
		t.Errorf("kstatus of the stripped copy %s %q, want %s %q", got.Status, got.Message, want.Status, want.Message)
	}

	cm := func(labels map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "namespace": "ns"}, "data": map[string]any{"k": "v"}}}
		u.SetLabels(labels)
		return u
	}
	plain := cm(nil)
	h.transform(plain)
	if _, found, _ := unstructured.NestedMap(plain.Object, "data"); found {
		t.Error("a bundle ConfigMap's data was kept")
	}
	inv := cm(map[string]string{common.InventoryLabel: "id"})
	h.transform(inv)
	if v, _, _ := unstructured.NestedString(inv.Object, "data", "k"); v != "v" {
		t.Error("an inventory's data was dropped")
	}
	if inv.GetLabels()[common.InventoryLabel] != "id" {
		t.Error("an inventory's id label was dropped")
	}
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "s", "namespace": "ns"},
		"spec": map[string]any{"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": []any{"10.0.0.1", "fd00::1"},
			"selector": map[string]any{"app": "envoy"}, "ports": []any{map[string]any{"port": int64(80)}}},
		"status": map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "192.0.2.1"}}}}}}
	wantSvc, err := status.Compute(svc)
	if err != nil {
		t.Fatal(err)
	}
	h.transform(svc)
	wantSpec := map[string]any{"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": []any{"10.0.0.1", "fd00::1"}}
	if spec, _, _ := unstructured.NestedMap(svc.Object, "spec"); !reflect.DeepEqual(spec, wantSpec) {
		t.Errorf("watched Service spec %v, want the address fields %v", spec, wantSpec)
	}
	if ip, _, _ := unstructured.NestedSlice(svc.Object, "status", "loadBalancer", "ingress"); len(ip) != 1 {
		t.Error("a Service's load-balancer status was dropped")
	}
	if got, err := status.Compute(svc); err != nil || got.Status != wantSvc.Status || got.Message != wantSvc.Message {
		t.Errorf("kstatus of the stripped Service %v %v, want %s %q", got, err, wantSvc.Status, wantSvc.Message)
	}
}

// TestInventoryOwners: an object held by two inventories has both as
// owners; moving it out of one, or deleting the other, leaves exactly the
// owners that still hold it, and an object nobody holds has no entry.
func TestInventoryOwners(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &hub{owners: map[object.ObjMetadata][]InventoryKey{}, invs: map[InventoryKey]object.ObjMetadataSet{},
		watches: kindwatch.New(ctx, nil, meta.NewDefaultRESTMapper(nil), kindwatch.Options{})}
	x := object.ObjMetadata{GroupKind: configMapKind, Namespace: "ns", Name: "x"}
	y := object.ObjMetadata{GroupKind: configMapKind, Namespace: "ns", Name: "y"}
	a, b := InventoryKey{Namespace: "ns", Name: "a"}, InventoryKey{Namespace: "ns", Name: "b"}
	check := func(step string, want map[object.ObjMetadata][]InventoryKey) {
		t.Helper()
		if !reflect.DeepEqual(h.owners, want) {
			t.Errorf("%s: owners %v, want %v", step, h.owners, want)
		}
	}
	h.setInventory(a, object.ObjMetadataSet{x, y}, false)
	h.setInventory(b, object.ObjMetadataSet{x}, false)
	h.setInventory(b, object.ObjMetadataSet{x}, false) // the same set again
	check("both hold x", map[object.ObjMetadata][]InventoryKey{x: {a, b}, y: {a}})
	h.setInventory(a, object.ObjMetadataSet{y}, false)
	check("a lets x go", map[object.ObjMetadata][]InventoryKey{x: {b}, y: {a}})
	h.setInventory(b, nil, true)
	check("b deleted", map[object.ObjMetadata][]InventoryKey{y: {a}})
}

// TestChangeMarks: each stored change moves its inventory's mark past every
// earlier mark and wakes that inventory's waiters only; a gone inventory's
// mark is dropped once its subscribers were told, unless it changed again.
func TestChangeMarks(t *testing.T) {
	h := &hub{
		invs: map[InventoryKey]object.ObjMetadataSet{}, pending: map[InventoryKey]struct{}{}, notifyCh: make(chan struct{}, 1),
		changes: map[InventoryKey]uint64{}, waiters: map[InventoryKey][]chan struct{}{},
	}
	a, b := InventoryKey{Namespace: "a", Name: "inv"}, InventoryKey{Namespace: "b", Name: "inv"}
	h.invs[a], h.invs[b] = nil, nil
	if _, ok := h.changeMark(a); ok {
		t.Fatal("a mark before any change")
	}
	waitA, waitB := h.nextChange(a), h.nextChange(b)
	h.notify(a)
	m1, ok := h.changeMark(a)
	if !ok {
		t.Fatal("no mark after a change")
	}
	select {
	case <-waitA:
	default:
		t.Error("a change of a did not wake a's waiter")
	}
	select {
	case <-waitB:
		t.Error("a change of a woke b's waiter")
	default:
	}
	h.notify(b)
	if m, _ := h.changeMark(a); m != m1 {
		t.Errorf("a's mark moved with b's change: %d → %d", m1, m)
	}
	h.notify(a)
	if m, _ := h.changeMark(a); m <= m1 {
		t.Errorf("a's mark did not move past %d: %d", m1, m)
	}
	h.dropWaiter(b, waitB)
	if len(h.waiters) != 0 {
		t.Errorf("waiters kept: %v", h.waiters)
	}

	// a is gone: its mark goes once told, unless it changed again.
	delete(h.invs, a)
	m2, _ := h.changeMark(a)
	h.notify(a)
	m3, _ := h.changeMark(a)
	h.forgetGone([]InventoryKey{a}, []uint64{m2})
	if _, ok := h.changeMark(a); !ok {
		t.Error("a mark dropped although the inventory changed after the call")
	}
	h.forgetGone([]InventoryKey{a, b}, []uint64{m3, 0})
	if _, ok := h.changeMark(a); ok {
		t.Error("a gone inventory's mark kept")
	}
	if _, ok := h.changeMark(b); !ok {
		t.Error("an existing inventory's mark dropped")
	}
}
