package render

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-gateway/berth/internal/golden"
	"github.com/berth-gateway/berth/internal/manifest"
)

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
	n := golden.Cases(t, "testdata/*.in.yaml", func(t *testing.T, in string) {
		goldenCase(t, in, golden.Out(in, ".in.yaml", ".out.yaml"))
	})
	// The user's manifests are golden cases too, read from the repository's
	// one copy of them (examples/), not copied into testdata.
	for name, in := range map[string]string{"seed": seedInput, "clusterip": clusterIPInput} {
		t.Run(name, func(t *testing.T) { goldenCase(t, in, "testdata/"+name+".out.yaml") })
		n++
	}
	if n < 2 {
		t.Fatalf("only %d golden cases found", n)
	}
}

// The user's reference manifests (examples/ holds the one copy; see
// examples.TestSeedCopiesUnchanged). render's tests cannot import package
// examples (it imports render), so they name the files.
const (
	seedInput      = "../examples/gateway-namespace-mode.yaml"
	clusterIPInput = "../examples/clusterip-envoyproxy.yaml"
)

// goldenCase renders in and compares with out.
func goldenCase(t *testing.T, in, out string) {
	t.Helper()
	{
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
		golden.Compare(t, out, got)
	}
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
