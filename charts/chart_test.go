package charts

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-gateway/berth/internal/golden"
)

func helm(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	h, err := Helm(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRulesTemplateIsGenerated(t *testing.T) {
	got, err := RulesTemplate()
	if err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join(ChartDir(), "templates", "_rules.tpl"), got)
}

// Cases are the values files in testdata (<case>.values.yaml), each rendered
// into <case>.out.yaml in namespace berth-system.
func cases(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob("testdata/*.values.yaml")
	if err != nil || len(m) == 0 {
		t.Fatalf("no testdata/*.values.yaml: %v", err)
	}
	var out []string
	for _, f := range m {
		out = append(out, strings.TrimSuffix(filepath.Base(f), ".values.yaml"))
	}
	return out
}

func TestTemplateGolden(t *testing.T) {
	h := helm(t)
	for _, c := range cases(t) {
		t.Run(c, func(t *testing.T) {
			out, err := Template(context.Background(), h, "berth-system", "testdata/"+c+".values.yaml")
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, "testdata/"+c+".out.yaml", out)
		})
	}
}

func TestLint(t *testing.T) {
	h := helm(t)
	for _, c := range cases(t) {
		t.Run(c, func(t *testing.T) {
			if out, err := run(context.Background(), h, "lint", "--strict", ChartDir(), "--namespace", "berth-system", "--kube-version", KubeVersion, "--values", "testdata/"+c+".values.yaml"); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
