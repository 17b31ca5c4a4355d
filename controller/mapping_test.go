package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
)

// TestNotOwnStatus: a Gateway update that changed only the status does not
// reconcile the Gateway again, nor does one that only added berth's
// finalizer; a change of its generation, deletion, other finalizers, labels
// or annotations does.
func TestNotOwnStatus(t *testing.T) {
	old := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "gw", Generation: 1, ResourceVersion: "1",
		Finalizers: []string{"x"}, Labels: map[string]string{"l": "1"}, Annotations: map[string]string{"a": "1"}}}
	now := metav1.Now()
	for name, tc := range map[string]struct {
		change func(*gwv1.Gateway)
		want   bool
	}{
		"status only": {func(g *gwv1.Gateway) {
			g.ResourceVersion = "2"
			g.Status.Conditions = []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue}}
		}, false},
		"generation": {func(g *gwv1.Gateway) { g.Generation = 2 }, true},
		"deletion":   {func(g *gwv1.Gateway) { g.DeletionTimestamp = &now }, true},
		"finalizers": {func(g *gwv1.Gateway) { g.Finalizers = nil }, true},
		// berth adds its finalizer in the reconcile that goes on to apply.
		"berth's finalizer added": {func(g *gwv1.Gateway) { g.Finalizers = append(g.Finalizers, render.Finalizer) }, false},
		"berth's finalizer added with another change": {func(g *gwv1.Gateway) {
			g.Finalizers = append(g.Finalizers, render.Finalizer)
			g.Labels = nil
		}, true},
		"another finalizer added": {func(g *gwv1.Gateway) { g.Finalizers = append(g.Finalizers, "y") }, true},
		"labels":                  {func(g *gwv1.Gateway) { g.Labels = map[string]string{"l": "2"} }, true},
		"annotations":             {func(g *gwv1.Gateway) { g.Annotations = nil }, true},
	} {
		n := old.DeepCopy()
		tc.change(n)
		if got := notOwnStatus().Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n}); got != tc.want {
			t.Errorf("%s: reconcile = %v, want %v", name, got, tc.want)
		}
	}
	if !notOwnStatus().Create(event.CreateEvent{Object: old}) || !notOwnStatus().Delete(event.DeleteEvent{Object: old}) {
		t.Error("creates and deletes must reconcile")
	}
}
