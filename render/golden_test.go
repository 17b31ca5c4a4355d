package render

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out.yaml from the current output")

// testControllerName is the reference controller name the seed manifests use.
const testControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// testCA is a fixed CA bundle (its content is opaque to render).
const testCA = `-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIBATAKBggqhkjOPQQDAjAQMQ4wDAYDVQQDEwViZXJ0aDAe
-----END CERTIFICATE-----
`

func testOptions() Options {
	o := DefaultOptions()
	o.CABundle = []byte(testCA)
	return o
}

// renderFile renders every berth Gateway of a manifest file, as berth render
// does.
func renderFile(t testing.TB, path string) ([]*Bundle, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := manifest.DecodeAll(manifest.Input{Source: filepath.Base(path), Reader: f})
	if err != nil {
		return nil, err
	}
	return RenderStatic(Static{GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies},
		testControllerName, testOptions())
}

// TestGolden renders testdata/<case>.in.yaml and compares with
// <case>.out.yaml (a render error is recorded as "# error: …"). Every
// rendered bundle must also pass checkBundle.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 2 {
		t.Fatalf("only %d golden cases found", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			var got []byte
			bundles, err := renderFile(t, in)
			if err != nil {
				got = []byte("# error: " + err.Error() + "\n")
			} else {
				if len(bundles) == 0 {
					t.Fatal("no bundle rendered")
				}
				for _, b := range bundles {
					if err := errors.Join(checkBundle(b, testOptions()), checkNames(b)); err != nil {
						t.Fatalf("bundle of %s: %v", b.Gateway, err)
					}
				}
				if got, err = YAML(bundles); err != nil {
					t.Fatal(err)
				}
			}
			out := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test ./render -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./render -update and review the diff):\n%s", out, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return "(identical lines, different bytes)"
}

func openFile(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
