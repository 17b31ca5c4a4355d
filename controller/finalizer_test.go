package controller

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
)

// TestFinalizersPatchIsMergeFrom: the finalizer patch berth builds is the
// one controller-runtime's MergeFrom with the optimistic lock computes for
// the same change (adding berth's finalizer, removing it), byte for byte as
// JSON.
func TestFinalizersPatchIsMergeFrom(t *testing.T) {
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "gw", ResourceVersion: "42", Generation: 3,
		Labels: map[string]string{"l": "1"}},
		Spec: gwv1.GatewaySpec{GatewayClassName: "c", Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}
	for name, before := range map[string][]string{"none": nil, "another": {"x"}, "two others": {"x", "y"}} {
		for _, add := range []bool{true, false} {
			g := gw.DeepCopy()
			g.Finalizers = slices.Clone(before)
			if !add {
				controllerutil.AddFinalizer(g, render.Finalizer)
			}
			want := client.MergeFromWithOptions(g.DeepCopy(), client.MergeFromWithOptimisticLock{})
			var fins []string
			if add {
				controllerutil.AddFinalizer(g, render.Finalizer)
				fins = g.Finalizers
			} else {
				from := g.DeepCopy()
				controllerutil.RemoveFinalizer(g, render.Finalizer)
				fins = slices.DeleteFunc(slices.Clone(from.Finalizers), func(f string) bool { return f == render.Finalizer })
			}
			wantData, err := want.Data(g)
			if err != nil {
				t.Fatal(err)
			}
			got := finalizersPatch(g, fins)
			if got.Type() != want.Type() {
				t.Errorf("%s (add %t): patch type %s, want %s", name, add, got.Type(), want.Type())
			}
			gotData, _ := got.Data(g)
			var a, b any
			if err := json.Unmarshal(gotData, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wantData, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s (add %t): patch %s, MergeFrom's %s", name, add, gotData, wantData)
			}
		}
	}
}
