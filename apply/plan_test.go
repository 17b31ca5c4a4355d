package apply

import (
	"reflect"
	"testing"
)

func TestFieldChanges(t *testing.T) {
	for _, tc := range []struct {
		name          string
		live, planned map[string]any
		want          []FieldChange
	}{
		{name: "equal, ints and floats", live: map[string]any{"a": int64(1)}, planned: map[string]any{"a": float64(1)}},
		{
			name:    "scalar, added and removed keys",
			live:    map[string]any{"spec": map[string]any{"type": "LoadBalancer", "old": true}},
			planned: map[string]any{"spec": map[string]any{"type": "ClusterIP", "new": "x"}},
			want: []FieldChange{
				{Path: "spec.new", Planned: "x"},
				{Path: "spec.old", Live: true},
				{Path: "spec.type", Live: "LoadBalancer", Planned: "ClusterIP"},
			},
		},
		{
			name: "named list elements by name, annotation keys quoted",
			live: map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{"a.b/c": "1"}},
				"ports":    []any{map[string]any{"name": "http", "port": int64(80)}, map[string]any{"name": "gone", "port": int64(1)}},
			},
			planned: map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{"a.b/c": "2"}},
				"ports":    []any{map[string]any{"name": "https", "port": int64(443)}, map[string]any{"name": "http", "port": int64(8080)}},
			},
			want: []FieldChange{
				{Path: `metadata.annotations["a.b/c"]`, Live: "1", Planned: "2"},
				{Path: "ports[name=gone]", Live: map[string]any{"name": "gone", "port": int64(1)}},
				{Path: "ports[name=http].port", Live: int64(80), Planned: int64(8080)},
				{Path: "ports[name=https]", Planned: map[string]any{"name": "https", "port": int64(443)}},
			},
		},
		{
			name:    "unnamed lists by index, or whole when the length changes",
			live:    map[string]any{"args": []any{"a", "b"}, "cmd": []any{"x"}},
			planned: map[string]any{"args": []any{"a", "c"}, "cmd": []any{"x", "y"}},
			want: []FieldChange{
				{Path: "args[1]", Live: "b", Planned: "c"},
				{Path: "cmd", Live: []any{"x"}, Planned: []any{"x", "y"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FieldChanges(tc.live, tc.planned)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FieldChanges:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}
