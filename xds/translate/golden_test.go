package translate_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/translate"
)

var update = flag.Bool("update", false, "rewrite the golden .out.yaml files from the current output")

// loadInput decodes testdata/<name>.in.yaml.
func loadInput(t testing.TB, path string) translate.Input {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := manifest.DecodeAll(manifest.Input{Source: path, Reader: f})
	if err != nil {
		t.Fatal(err)
	}
	return translate.InputFromSet(set)
}

// TestGolden translates every testdata/<case>.in.yaml and compares the
// output with <case>.out.yaml. Every result must also validate as Envoy
// would and form a consistent go-control-plane snapshot.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			results := translate.Translate(loadInput(t, in), translate.DefaultOptions())
			for _, r := range results {
				if err := translate.Validate(r.Resources); err != nil {
					t.Errorf("gateway %s: %v", r.Gateway, err)
				}
				snap, err := cachev3.NewSnapshot(r.Version, r.Resources)
				if err != nil {
					t.Fatalf("gateway %s: snapshot: %v", r.Gateway, err)
				}
				if err := snap.Consistent(); err != nil {
					t.Errorf("gateway %s: snapshot not consistent: %v", r.Gateway, err)
				}
			}
			got, err := translate.Marshal(results, translate.FormatYAML)
			if err != nil {
				t.Fatal(err)
			}
			outPath := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", outPath, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines, enough to see what changed.
func lineDiff(want, got string) string {
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
	return b.String()
}
