package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
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
