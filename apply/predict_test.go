package apply

import (
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// fieldsTree gives the tree json.Unmarshal(set.ToJSON()) gives: the
// predicted digest projects over it, and the watched one over the
// apiserver's FieldsV1 JSON.
func TestFieldsTreeIsFieldsV1JSON(t *testing.T) {
	dep := deployment("a", 2)
	dep.Object["metadata"].(map[string]any)["labels"] = map[string]any{"app": "envoy", "example.com/x": "y"}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "namespace": "ns"},
		"data":     map[string]any{"envoy.yaml": "line\n<html>"},
	}}
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "s", "namespace": "ns"},
		"spec": map[string]any{"type": "ClusterIP", "ports": []any{
			map[string]any{"name": "http", "port": int64(80), "protocol": "TCP"},
			map[string]any{"name": "https", "port": int64(443), "protocol": "TCP"},
		}, "selector": map[string]any{"app": "envoy"}},
	}}
	for _, obj := range []*unstructured.Unstructured{dep, cm, svc} {
		set := fieldSetOf(t, obj)
		raw, err := set.ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got, err := fieldsTree(set)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			t.Errorf("%s: fieldsTree\n%s\nwant\n%s", obj.GetKind(), g, raw)
		}
	}
}

// BenchmarkFieldsTree: the predicted tree of a Deployment, built from the
// field set and through its JSON.
func BenchmarkFieldsTree(b *testing.B) {
	set := fieldSetOf(b, deployment("a", 2))
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fieldsTree(set); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, err := set.ToJSON()
			if err != nil {
				b.Fatal(err)
			}
			var tree map[string]any
			if err := json.Unmarshal(raw, &tree); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fieldSetOf is the field set a create of obj by server-side apply owns,
// before the stripped fields are taken out (predictedOwnedDigest's first step).
func fieldSetOf(tb testing.TB, obj *unstructured.Unstructured) *fieldpath.Set {
	tb.Helper()
	tv, err := builtinTypes().ObjectToTyped(obj)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		tb.Fatal(err)
	}
	return set
}
