package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestCacheLeavesOwnConfigMapsOut: the controller's cache selects every
// ConfigMap but berth's own (bootstrap and inventory, labelled with the
// managed label apply stamps): a CA ConfigMap without the label, or with
// another manager's value, is still cached.
func TestCacheLeavesOwnConfigMapsOut(t *testing.T) {
	opts := DefaultOptions()
	co, err := cacheOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	var sel labels.Selector
	for obj, bo := range co.ByObject {
		if _, ok := obj.(*corev1.ConfigMap); ok {
			sel = bo.Label
		}
	}
	if sel == nil {
		t.Fatal("the ConfigMap cache selects no labels")
	}
	key, value := opts.Apply.ManagedLabelKey, opts.Apply.ManagedLabelValue
	for _, tc := range []struct {
		labels labels.Set
		cached bool
	}{
		{nil, true},
		{labels.Set{"app": "ca"}, true},
		{labels.Set{key: "helm"}, true},
		{labels.Set{key: value}, false},
		{labels.Set{key: value, "cli-utils.sigs.k8s.io/inventory-id": "x"}, false},
	} {
		if got := sel.Matches(tc.labels); got != tc.cached {
			t.Errorf("ConfigMap labelled %v cached = %v, want %v (selector %s)", tc.labels, got, tc.cached, sel)
		}
	}
}

// TestStripPodKeepsIdentity: a cached proxy pod is its metadata, of it its
// identity (name, namespace, resourceVersion) and the UID revocation
// reads; labels, spec and status are not kept.
func TestStripPodKeepsIdentity(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "envoy-1", Namespace: "ns", UID: "u1", ResourceVersion: "7",
		Labels: map[string]string{"app.kubernetes.io/name": "envoy"}, Annotations: map[string]string{"a": "b"}},
		Spec:   corev1.PodSpec{ServiceAccountName: "envoy", Containers: []corev1.Container{{Name: "envoy", Image: "envoy"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}}
	got, err := stripPod(p)
	if err != nil {
		t.Fatal(err)
	}
	want := proxyPodMeta()
	want.ObjectMeta = metav1.ObjectMeta{Name: "envoy-1", Namespace: "ns", UID: "u1", ResourceVersion: "7"}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("stripped pod %+v, want %+v", got, want)
	}
	// The informer is metadata-only: what it hands the transform.
	pm := proxyPodMeta()
	pm.ObjectMeta = p.ObjectMeta
	if got, err := stripPod(pm); err != nil || !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("stripped pod metadata %+v (%v), want %+v", got, err, want)
	}
}
