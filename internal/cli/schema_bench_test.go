package cli

import (
	"os"
	"testing"

	"github.com/berth-gateway/berth/internal/crdschema"
	"github.com/berth-gateway/berth/internal/manifest"
)

// BenchmarkValidateSchemas is the schema stage of berth translate on the
// file named by BERTH_BENCH_INPUT (go run ./hack/scaleinput ...), once the
// CRDs are compiled; BenchmarkValidateSchemasCold includes compiling them
// (a new process).
func BenchmarkValidateSchemas(b *testing.B) {
	set, paths := benchInput(b)
	if err := validateSchemas(set, paths, translateReads); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := validateSchemas(set, paths, translateReads); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateSchemasCold(b *testing.B) {
	set, _ := benchInput(b)
	objs := crdObjects(set, translateReads)
	b.ResetTimer()
	for range b.N {
		v, err := crdschema.New(os.DirFS("../crdschema"))
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range objs[:1] {
			if err := validateSchema(v, set, o); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchInput(b *testing.B) (*manifest.Set, []string) {
	name := os.Getenv("BERTH_BENCH_INPUT")
	if name == "" {
		b.Skip("BERTH_BENCH_INPUT is not set")
	}
	set, err := manifest.ReadFiles([]string{name}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return set, []string{name}
}
