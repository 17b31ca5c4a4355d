// Package golden compares test output with files kept in testdata, the one
// way berth's tests do it: one -update flag rewrites them, subtests are named
// after the files, and a mismatch shows the first differing lines.
//
//	func TestGolden(t *testing.T) {
//		golden.Cases(t, "testdata/*.in.yaml", func(t *testing.T, in string) {
//			got := run(in)
//			golden.Compare(t, golden.Out(in, ".in.yaml", ".out.yaml"), got)
//		})
//	}
//
// Only tests import it: it registers the -update flag of the test binary.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Update is the -update flag: Compare writes the output instead of
// comparing it.
var Update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

// Compare fails t when got differs from the file at path, showing the first
// differing lines; with -update it writes got to path instead.
func Compare(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s creates it)", err, rerun(t))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (%s rewrites it; review the diff):\n%s", path, rerun(t), Diff(string(want), string(got)))
	}
}

// Cases runs fn as a subtest for every file matching pattern (a
// filepath.Glob pattern whose last element has one '*'), named after what the
// '*' matched: testdata/seed.in.yaml of "testdata/*.in.yaml" runs as "seed".
// It fails t when no file matches, and returns the number of cases.
func Cases(t *testing.T, pattern string, fn func(t *testing.T, path string)) int {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden cases match %s", pattern)
	}
	prefix, suffix, _ := strings.Cut(filepath.Base(pattern), "*")
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix), suffix)
		t.Run(name, func(t *testing.T) { fn(t, f) })
	}
	return len(files)
}

// Out is the golden file of input path: its suffix in is replaced by out.
func Out(path, in, out string) string { return strings.TrimSuffix(path, in) + out }

// Diff shows the first differing lines of two texts (at most ten), enough
// to see what changed.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl + "\n")
			if shown++; shown == 10 {
				break
			}
		}
	}
	if shown == 0 {
		return "(identical lines, different bytes)"
	}
	return b.String()
}

// rerun is the command that rewrites t's golden files: go test in the
// package's directory (tests run there) relative to the module root.
func rerun(t testing.TB) string {
	pkg := "."
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if rel, err := filepath.Rel(dir, wd); err == nil && rel != "." {
					pkg = "./" + filepath.ToSlash(rel)
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	return "go test " + pkg + " -run '^" + top + "$' -update"
}
