package translate_test

import (
	"path/filepath"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/berth-gateway/berth/internal/golden"
	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/translate"
)

// goldenAndScaleInputs are every golden input (testdata/*.in.yaml, by
// path) and a small scale input ("scale").
func goldenAndScaleInputs(t testing.TB) map[string]translate.Input {
	t.Helper()
	inputs := map[string]translate.Input{"scale": scaleInput(12, 240)}
	paths, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("golden inputs: %v %v", paths, err)
	}
	for _, p := range paths {
		inputs[p] = loadInput(t, p)
	}
	return inputs
}

// loadInput decodes testdata/<name>.in.yaml.
func loadInput(t testing.TB, path string) translate.Input {
	t.Helper()
	set, err := manifest.ReadFiles([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return translate.InputFromSet(set)
}

// checkJSONRoundTrip asserts what Validate no longer spends a strict
// decode on: every resource decodes strictly from its JSON form (unknown
// fields refused) back to an equal message, so the JSON Marshal prints is
// exactly what Envoy receives.
func checkJSONRoundTrip(t *testing.T, r *translate.Result) {
	t.Helper()
	for typ, list := range r.Resources {
		for _, res := range list {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(res)
			if err != nil {
				t.Errorf("gateway %s: %s: encode: %v", r.Gateway, typ, err)
				continue
			}
			back := res.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(b, back); err != nil {
				t.Errorf("gateway %s: %s: strict decode: %v", r.Gateway, typ, err)
			} else if !proto.Equal(back, res) {
				t.Errorf("gateway %s: %s: does not survive a JSON round trip", r.Gateway, typ)
			}
		}
	}
}

// TestGolden translates every testdata/<case>.in.yaml and compares the
// output with <case>.out.yaml. Every result must also validate as Envoy
// would and form a consistent go-control-plane snapshot.
func TestGolden(t *testing.T) {
	golden.Cases(t, "testdata/*.in.yaml", func(t *testing.T, in string) {
		results := translate.Translate(loadInput(t, in), translate.DefaultOptions())
		for _, r := range results {
			if err := translate.Validate(r.Resources); err != nil {
				t.Errorf("gateway %s: %v", r.Gateway, err)
			}
			checkJSONRoundTrip(t, r)
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
		golden.Compare(t, golden.Out(in, ".in.yaml", ".out.yaml"), got)
	})
}
