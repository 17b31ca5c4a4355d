package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/internal/manifest"
)

// TestChartArgsParse holds the chart and the command together: every
// container of the rendered chart (charts/testdata, kept current by the
// chart's own golden tests) that runs berth must pass flags that the
// berth command accepts, with values it accepts.
func TestChartArgsParse(t *testing.T) {
	files, err := filepath.Glob("../../charts/testdata/*.out.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rendered chart in charts/testdata: %v", err)
	}
	root := NewRootCmd()
	seen := 0
	for _, f := range files {
		set, err := manifest.ReadFiles([]string{f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range set.Other {
			for _, c := range podContainers(obj.Object) {
				args := stringSlice(c["args"])
				image, _ := c["image"].(string)
				if len(args) == 0 || !strings.Contains(image, "berth") {
					continue
				}
				seen++
				cmd, rest, err := root.Find(args)
				if err != nil || cmd == root {
					t.Errorf("%s: %s %s: args %v name no berth command: %v", f, obj.GetKind(), obj.GetName(), args, err)
					continue
				}
				if err := cmd.ParseFlags(rest); err != nil {
					t.Errorf("%s: %s %s: berth %s rejects %v: %v", f, obj.GetKind(), obj.GetName(), cmd.Name(), rest, err)
				}
				// Reset parsed values so the next container starts clean.
				root = NewRootCmd()
			}
		}
	}
	if seen < 2*len(files) {
		t.Errorf("found %d berth containers in %d rendered charts; want the controller and the uninstall Job in each", seen, len(files))
	}
}

// podContainers returns the containers of a workload's pod template
// (Deployment, Job).
func podContainers(obj map[string]any) []map[string]any {
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	podSpec, _ := tmpl["spec"].(map[string]any)
	list, _ := podSpec["containers"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func stringSlice(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		if str, ok := s.(string); ok {
			out = append(out, str)
		}
	}
	return out
}
