package clustertest

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/testenv"
)

// TestNewInventoryCarriesItsDigests: a run that creates an inventory
// creates it with the digests a clean run records (predicted from the
// objects it applies), so a new bundle costs its objects and one
// inventory write, no digest patch; and the predicted digests are the ones
// the apiserver's objects hold (a restarted engine proves the bundle
// unchanged without a write). An object the apiserver stores other than
// applied (a quantity it normalizes) gets the digests patched after the run,
// as before, and is proven unchanged just the same.
func TestNewInventoryCarriesItsDigests(t *testing.T) {
	env := testenv.Get(t)
	for _, tc := range []struct {
		name        string
		set         func(ns string) []*unstructured.Unstructured
		wantPatches int
	}{
		{"stored as applied", func(ns string) []*unstructured.Unstructured { return bundle(ns, "envoy") }, 0},
		{"normalized by the apiserver", func(ns string) []*unstructured.Unstructured {
			objs := bundle(ns, "envoy")
			for _, o := range objs {
				if o.GetKind() == "Deployment" {
					c := map[string]any{"name": "envoy", "image": "envoyproxy/envoy:v1.34",
						"resources": map[string]any{"requests": map[string]any{"cpu": "0.5"}}}
					if err := unstructured.SetNestedSlice(o.Object, []any{c}, "spec", "template", "spec", "containers"); err != nil {
						t.Fatal(err)
					}
				}
			}
			return objs
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			ctx := ctxFor(t, 2*time.Minute)
			inv := inventoryFor(ns, "gw")
			eng, cnt := newEngine(t, nil)
			if err := eng.WaitWatched(ctx, tc.set(ns)); err != nil {
				t.Fatal(err)
			}
			mark := cnt.Mark()
			res, err := eng.Run(ctx, inv, tc.set(ns))
			if err != nil {
				t.Fatal(err)
			}
			var creates, patches []string
			for _, r := range cnt.Since(mark) {
				if !strings.HasSuffix(r.Path, "/configmaps/"+inv.Name) && !strings.HasSuffix(r.Path, "/configmaps") {
					continue
				}
				switch r.Verb {
				case "create":
					creates = append(creates, r.String())
				case "patch":
					if strings.HasSuffix(r.Path, "/"+inv.Name) {
						patches = append(patches, r.String())
					}
				}
			}
			if len(creates) != 1 {
				t.Errorf("ConfigMap creates %v, want the inventory's one", creates)
			}
			if len(patches) != tc.wantPatches {
				t.Errorf("inventory patches %v, want %d (the run: %s)", patches, tc.wantPatches, actions(res))
			}
			cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, inv.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cm.Annotations["apply.berth-gateway.io/set-digest"] == "" || cm.Annotations["apply.berth-gateway.io/owned-digest"] == "" {
				t.Fatalf("inventory annotations %v, want both digests", cm.Annotations)
			}
			waitSettledEngine(t, eng, inv)
			eng.Close()

			// A restarted engine finds the bundle as recorded.
			again, cnt2 := newEngine(t, nil)
			mark = cnt2.Mark()
			res, err = again.Run(ctx, inv, tc.set(ns))
			if err != nil {
				t.Fatal(err)
			}
			if !res.NoOp {
				t.Fatalf("a new engine's Run of the unchanged bundle was a full run: %s", actions(res))
			}
			if cost := testenv.Count(cnt2.Since(mark)); cost.Writes != 0 {
				t.Errorf("the new engine's no-op wrote: %s", cost)
			}
			again.Close()

			// The recorded digests are a claim the objects must bear out:
			// with one of them gone (as after a crash between the
			// inventory's create and the applies), a restarted engine
			// applies the set again.
			if err := env.Client.AppsV1().Deployments(ns).Delete(ctx, "envoy", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			third, _ := newEngine(t, nil)
			res, err = third.Run(ctx, inv, tc.set(ns))
			if err != nil {
				t.Fatal(err)
			}
			if res.NoOp {
				t.Fatal("a Run with an object missing was a no-op")
			}
			wantAction(t, res, "Deployment", "envoy", apply.ActionCreated)
		})
	}
}

func waitSettledEngine(t *testing.T, eng *apply.Engine, inv apply.Inventory) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !eng.Settled(inv) {
		if time.Now().After(deadline) {
			t.Fatal("never Settled")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
