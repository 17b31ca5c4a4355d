package clustertest

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-gateway/berth/internal/testenv"
)

var deploymentGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// TestLiveTemplateSettles: a set whose Deployment carries the live pod
// template (as the controller applies a queued roll's bundle) settles.
func TestLiveTemplateSettles(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	eng, _ := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	waitSettled := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !eng.Settled(inv) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never Settled", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := eng.Run(ctx, inv, []*unstructured.Unstructured{serviceAccount(ns, "envoy"), deploy(ns, "envoy", 1, nil)}); err != nil {
		t.Fatal(err)
	}
	waitSettled("rendered template")
	live, err := env.Dynamic.Resource(deploymentGVR).Namespace(ns).Get(ctx, "envoy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _, _ := unstructured.NestedMap(live.Object, "spec", "template")
	d := deploy(ns, "envoy", 1, nil)
	if err := unstructured.SetNestedMap(d.Object, tmpl, "spec", "template"); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(ctx, inv, []*unstructured.Unstructured{serviceAccount(ns, "envoy"), d})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second run: %s noop=%v", actions(res), res.NoOp)
	waitSettled("live template")
}

// TestNewEngineFindsBundleUnchanged: a new engine (a restarted controller)
// whose watches list a bundle applied before it started finds the bundle
// unchanged — a no-op, then Settled without a request — instead of a full
// run on every Run: its watches take each listed object's owned-fields
// digest once, although client-go's streaming list passes each listed
// object through the watch transform twice.
func TestNewEngineFindsBundleUnchanged(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	inv := inventoryFor(ns, "gw")
	set := func() []*unstructured.Unstructured { return bundle(ns, "envoy") }
	first, _ := newEngine(t, nil)
	if _, err := first.Run(ctx, inv, set()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !first.Settled(inv) {
		if time.Now().After(deadline) {
			t.Fatal("the first engine never Settled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.Close()

	eng, cnt := newEngine(t, nil)
	res, err := eng.Run(ctx, inv, set())
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoOp {
		t.Fatalf("the new engine's first Run of the unchanged bundle was a full run: %s", actions(res))
	}
	deadline = time.Now().Add(15 * time.Second)
	for !eng.Settled(inv) {
		if time.Now().After(deadline) {
			t.Fatal("the new engine never Settled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mark := cnt.Mark()
	if res, err = eng.Run(ctx, inv, set()); err != nil || !res.NoOp {
		t.Fatalf("Run after Settled: no-op %v, %v", res.NoOp, err)
	}
	if cost := testenv.Count(cnt.Since(mark)); cost.Requests() != 0 {
		t.Errorf("a Settled no-op cost %s, want no request", cost)
	}
}
