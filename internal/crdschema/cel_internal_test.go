package crdschema

import (
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apimachinery/pkg/runtime/schema"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// BenchmarkCompileCEL is the cost of compiling HTTPRoute's rules once per
// process: berth's (compileCEL, with the schema adaptor tree) and the
// library's cel.NewValidator.
func BenchmarkCompileCEL(b *testing.B) {
	v, err := Embedded()
	if err != nil {
		b.Fatal(err)
	}
	s, err := v.StructuralOf(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("berth", func(b *testing.B) {
		for range b.N {
			if compileCEL(s, celconfig.PerCallLimit) == nil {
				b.Fatal("no rules")
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		for range b.N {
			if cel.NewValidator(s, true, celconfig.PerCallLimit) == nil {
				b.Fatal("no rules")
			}
		}
	})
}
