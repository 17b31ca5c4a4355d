package crdschema

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CompareSchema runs check on two copies of obj: with berth's OpenAPI
// schema validator (schema.go) and with kube-openapi's SchemaValidator,
// the rest the same. compiled says whether berth's validator handled obj's
// version itself (else it gave the object to the library).
// oursObj and refObj are the two copies as check left them (pruned,
// defaulted).
func (v *Validator) CompareSchema(obj map[string]any) (ours, ref field.ErrorList, oursObj, refObj map[string]any, compiled bool) {
	oursObj, refObj = runtime.DeepCopyJSON(obj), runtime.DeepCopyJSON(obj)
	ver, ours, _ := v.checkWith(oursObj, false)
	_, ref, _ = v.checkWith(refObj, true)
	return ours, ref, oursObj, refObj, ver != nil && ver.openAPI.root != nil
}

// CheckWithLibrarySchema is check with kube-openapi's SchemaValidator (what
// check did before schema.go), for the benchmarks.
func (v *Validator) CheckWithLibrarySchema(obj map[string]any) field.ErrorList {
	_, errs, _ := v.checkWith(obj, true)
	return errs
}

// Check is Validate up to the CEL rules, for the benchmarks.
func (v *Validator) Check(obj map[string]any) field.ErrorList {
	_, errs, _ := v.check(obj)
	return errs
}

// OpenAPICompiled says whether berth's OpenAPI validator handles a served
// version of a kind itself, and why not.
func (v *Validator) OpenAPICompiled(gvk schema.GroupVersionKind) (bool, error) {
	if _, err := v.StructuralOf(gvk); err != nil {
		return false, err
	}
	ver := v.kinds[gvk.GroupKind()].versions[gvk.Version]
	if ver.openAPI.root != nil {
		return true, nil
	}
	_, err := newOpenAPIValidator(ver.openAPISchema, ver.structural, ver.schema)
	return false, err
}
