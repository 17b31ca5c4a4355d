package crdschema

import (
	"context"
	"fmt"
	"sort"
	"sync"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// The library's CEL validator of each version, the reference the
// differential tests compare berth's evaluator with.
var references sync.Map // *version → *cel.Validator

func reference(ver *version) *cel.Validator {
	if r, ok := references.Load(ver); ok {
		return r.(*cel.Validator)
	}
	r, _ := references.LoadOrStore(ver, cel.NewValidator(ver.structural, true, celconfig.PerCallLimit))
	return r.(*cel.Validator)
}

// CompareCEL prepares obj as Validate does and evaluates the CEL rules on
// it twice, whatever the errors before them: with berth's evaluator and
// with apiextensions-apiserver's cel.Validator, each with budget. ok is
// false when obj's version has no rules or obj was refused before them.
func (v *Validator) CompareCEL(obj map[string]any, budget int64) (ours, ref field.ErrorList, oursLeft, refLeft int64, ok bool) {
	ver, _, _ := v.check(obj)
	if ver == nil || ver.cel == nil {
		return nil, nil, 0, 0, false
	}
	ours, oursLeft = ver.cel.validate(nil, obj, budget)
	ref, refLeft = reference(ver).Validate(context.Background(), nil, ver.structural, obj, nil, budget)
	return ours, ref, oursLeft, refLeft, true
}

// StructuralOf is the structural schema (defaults pruned) of a served
// version of a kind of v.
func (v *Validator) StructuralOf(gvk schema.GroupVersionKind) (*structuralschema.Structural, error) {
	k := v.kinds[gvk.GroupKind()]
	if k == nil {
		return nil, fmt.Errorf("no CRD of %s", gvk.GroupKind())
	}
	if err := k.decode(); err != nil {
		return nil, err
	}
	ver := k.versions[gvk.Version]
	if ver == nil {
		return nil, fmt.Errorf("%s is not served", gvk)
	}
	if err := ver.compile(k.crd); err != nil {
		return nil, err
	}
	return ver.structural, nil
}

// ServedVersions are the served versions of gk, sorted.
func (v *Validator) ServedVersions(gk schema.GroupKind) []string {
	k := v.kinds[gk]
	if k == nil || k.decode() != nil {
		return nil
	}
	var out []string
	for name := range k.versions {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ValidateWithLibraryCEL is Validate with the CEL rules evaluated by
// apiextensions-apiserver's cel.Validator (what Validate did before),
// for the benchmarks.
func (v *Validator) ValidateWithLibraryCEL(obj map[string]any) field.ErrorList {
	ver, errs, _ := v.check(obj)
	if ver == nil || ver.cel == nil || blocking(errs) {
		return errs
	}
	celErrs, _ := reference(ver).Validate(context.Background(), nil, ver.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}
