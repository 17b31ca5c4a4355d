package charts

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml and berth/templates/_rules.tpl")

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

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date (go test ./charts -update rewrites it)", path)
	}
}

func TestRulesTemplateIsGenerated(t *testing.T) {
	got, err := RulesTemplate()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join(ChartDir(), "templates", "_rules.tpl"), got)
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
			golden(t, "testdata/"+c+".out.yaml", out)
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
