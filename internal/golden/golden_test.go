package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps the failures instead of reporting them.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...) }

func TestCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "case.out.yaml")
	if err := os.WriteFile(path, []byte("a: 1\nb: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Compare(r, path, []byte("a: 1\nb: 2\n"))
	if len(r.errs) != 0 {
		t.Fatalf("equal output failed: %v", r.errs)
	}
	Compare(r, path, []byte("a: 1\nb: 3\n"))
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "line 2:\n- b: 2\n+ b: 3") || !strings.Contains(r.errs[0], "-run '^TestCompare$' -update") {
		t.Fatalf("different output: %q", r.errs)
	}
	r.errs = nil
	Compare(r, filepath.Join(t.TempDir(), "missing.out.yaml"), nil)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "creates it") {
		t.Fatalf("missing file: %q", r.errs)
	}

	*Update = true
	defer func() { *Update = false }()
	Compare(t, path, []byte("new\n"))
	if got, _ := os.ReadFile(path); string(got) != "new\n" {
		t.Errorf("-update wrote %q", got)
	}
}

func TestCasesAreNamedAfterFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.in.yaml", "a.in.yaml", "a.out.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var names, paths []string
	Cases(t, filepath.Join(dir, "*.in.yaml"), func(t *testing.T, path string) {
		names = append(names, t.Name())
		paths = append(paths, Out(path, ".in.yaml", ".out.yaml"))
	})
	if want := []string{"TestCasesAreNamedAfterFiles/a", "TestCasesAreNamedAfterFiles/b"}; !slices.Equal(names, want) {
		t.Errorf("subtests %v, want %v", names, want)
	}
	if want := []string{filepath.Join(dir, "a.out.yaml"), filepath.Join(dir, "b.out.yaml")}; !slices.Equal(paths, want) {
		t.Errorf("golden files %v, want %v", paths, want)
	}
}

func TestDiff(t *testing.T) {
	for _, c := range []struct{ want, got, diff string }{
		{"a\nb\n", "a\nc\n", "line 2:\n- b\n+ c\n"},
		{"a\n", "a\nb\n", "line 2:\n- \n+ b\n"},
		{"a", "a", "(identical lines, different bytes)"},
	} {
		if d := Diff(c.want, c.got); d != c.diff {
			t.Errorf("Diff(%q, %q) = %q, want %q", c.want, c.got, d, c.diff)
		}
	}
	many := strings.Repeat("x\n", 20)
	if n := strings.Count(Diff(many, strings.ReplaceAll(many, "x", "y")), "line "); n != 10 {
		t.Errorf("%d differing lines shown, want 10", n)
	}
}
