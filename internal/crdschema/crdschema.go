// Package crdschema validates objects of the custom resource kinds berth
// reads (the Gateway API standard channel and berth's EnvoyProxy and
// ClientTrafficPolicy) against their CRDs as the apiserver does on create,
// with the apiserver's own code (k8s.io/apiextensions-apiserver): the
// structural schema of the object's version, status dropped (the CRDs have
// a status subresource), non-nullable nulls pruned, metadata coerced,
// defaults applied, then ObjectMeta validation (names, labels,
// annotations), OpenAPI schema validation, x-kubernetes-list-type
// invariants and the x-kubernetes-validations CEL rules with the
// apiserver's cost limits. Errors are field errors worded as the apiserver
// words them.
//
// The OpenAPI schema (types, formats, bounds, enums, patterns, required,
// additionalProperties) and the list types are checked in one walk by
// this package's validator (schema.go), compiled once per CRD version
// from the library's own conversion of the schema, with kube-openapi's
// errors, converted to field errors by the library; a schema using what
// it does not handle (allOf, anyOf, oneOf, not, ...) is validated by
// kube-openapi's SchemaValidator. Results are the library's (differential
// tests: schema_test.go). objectmeta's walks are limited to what they can
// change or refuse: a CRD version without embedded resources has its
// metadata coerced at the root only and no embedded-resource validation.
//
// The CEL rules are compiled by the library (cel.Compile, as
// cel.NewValidator compiles them) and evaluated by this package's walker
// (cel.go), which mirrors the library's Validator but converts objects
// with a schema adaptor built once per CRD version: the library's adaptor
// rebuilds a property map on every field access, which was most of the
// cost; the rules the embedded CRDs use run as closures over the object
// (celfast.go) instead of cel-go's interpreter. Results are the library's
// (differential tests: cel_test.go).
//
// The CRDs are embedded (crds/, copied by go generate from the
// sigs.k8s.io/gateway-api module at the version go.mod pins and from
// api/crd). A version's schemas and CEL programs are compiled once, the
// first time an object of it is validated (an HTTPRoute's take ~0.3 s). The package is pure: no I/O beyond
// its embedded files, no clock.
package crdschema

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

//go:generate go run gen.go

//go:embed crds/*.yaml
var crdFiles embed.FS

// Validator validates objects against a set of CRDs. It is safe for
// concurrent use.
type Validator struct {
	kinds map[schema.GroupKind]*crdKind
}

// crdKind is one CRD, decoded on first use.
type crdKind struct {
	data []byte // the CRD's YAML

	once     sync.Once
	err      error
	crd      *apiextensionsv1.CustomResourceDefinition
	versions map[string]*version // served versions
}

// version is what the apiserver builds to serve one version of a CRD,
// built on first use.
type version struct {
	name string
	once sync.Once
	err  error

	namespaced bool
	hasStatus  bool
	// coerce is what objectmeta.Coerce walks: the structural schema, or
	// only its root when no embedded resource is under it (Coerce changes
	// and refuses only the root's and embedded resources' apiVersion, kind
	// and metadata); embedded says whether one is (objectmeta.Validate
	// checks only embedded resources: without one it is skipped).
	coerce        *structuralschema.Structural
	embedded      bool
	structural    *structuralschema.Structural
	schema        apiservervalidation.SchemaValidator // the library's, the reference
	openAPI       *openAPIValidator                   // berth's (schema.go)
	openAPISchema *spec.Schema                        // what both validate against
	cel           *celNode                            // nil: no x-kubernetes-validations
}

var (
	embedded    *Validator
	embeddedErr error
	loadOnce    sync.Once
)

// Embedded is the Validator of the CRDs built into berth.
func Embedded() (*Validator, error) {
	loadOnce.Do(func() {
		embedded, embeddedErr = New(crdFiles)
	})
	return embedded, embeddedErr
}

// New reads every *.yaml of fsys (in crds/ for an embed.FS, else at its
// root) that holds a CustomResourceDefinition. Only the group and kind of
// each are read here; the rest when an object of the kind is validated.
func New(fsys fs.FS) (*Validator, error) {
	names, err := fs.Glob(fsys, "crds/*.yaml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if names, err = fs.Glob(fsys, "*.yaml"); err != nil {
			return nil, err
		}
	}
	v := &Validator{kinds: map[schema.GroupKind]*crdKind{}}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		gk, ok, err := crdGroupKind(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if !ok {
			continue
		}
		if _, dup := v.kinds[gk]; dup {
			return nil, fmt.Errorf("%s: a second CRD of %s", name, gk)
		}
		v.kinds[gk] = &crdKind{data: data}
	}
	return v, nil
}

// crdGroupKind reads spec.group and spec.names.kind of a CRD, without
// decoding the (large) schema: from the document's lines up to its first
// "versions:" line, where the CRDs berth embeds keep them.
func crdGroupKind(data []byte) (schema.GroupKind, bool, error) {
	head := data
	if i := bytes.Index(data, []byte("\n  versions:")); i >= 0 {
		head = data[:i]
	}
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(head, &crd); err != nil {
		return schema.GroupKind{}, false, err
	}
	if crd.Kind != "CustomResourceDefinition" {
		return schema.GroupKind{}, false, nil
	}
	if crd.Spec.Group == "" || crd.Spec.Names.Kind == "" {
		return schema.GroupKind{}, false, fmt.Errorf("CustomResourceDefinition without spec.group or spec.names.kind before spec.versions")
	}
	return schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}, true, nil
}

// Kinds are the group/kinds v has a CRD for, sorted.
func (v *Validator) Kinds() []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(v.kinds))
	for gk := range v.kinds {
		out = append(out, gk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Has says whether v has a CRD for gk.
func (v *Validator) Has(gk schema.GroupKind) bool { return v.kinds[gk] != nil }

// decode decodes the CRD.
func (k *crdKind) decode() error {
	k.once.Do(func() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(k.data, crd); err != nil {
			k.err = err
			return
		}
		k.crd = crd
		k.versions = map[string]*version{}
		for _, ver := range crd.Spec.Versions {
			if ver.Served {
				k.versions[ver.Name] = &version{name: ver.Name}
			}
		}
	})
	return k.err
}

// compile builds what the apiserver builds to serve version v of crd
// (customresource_handler.go).
func (v *version) compile(crd *apiextensionsv1.CustomResourceDefinition) error {
	v.once.Do(func() {
		val, err := apihelpers.GetSchemaForVersion(crd, v.name)
		if err != nil {
			v.err = err
			return
		}
		if val == nil {
			v.err = fmt.Errorf("CRD %s version %s has no schema", crd.Name, v.name)
			return
		}
		internal := &apiextensionsinternal.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internal, nil); err != nil {
			v.err = err
			return
		}
		s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			v.err = fmt.Errorf("CRD %s version %s: %w", crd.Name, v.name, err)
			return
		}
		s = s.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(s); err != nil {
			v.err = err
			return
		}
		sv, openAPISchema, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			v.err = err
			return
		}
		sub, err := apihelpers.GetSubresourcesForVersion(crd, v.name)
		if err != nil {
			v.err = err
			return
		}
		v.namespaced = crd.Spec.Scope == apiextensionsv1.NamespaceScoped
		v.hasStatus = sub != nil && sub.Status != nil
		v.embedded = hasEmbeddedResource(s)
		v.coerce = s
		if !v.embedded {
			v.coerce = &structuralschema.Structural{Generic: s.Generic, Extensions: s.Extensions}
		}
		v.structural = s
		v.schema = sv
		v.openAPI, _ = newOpenAPIValidator(openAPISchema, s, sv) // else the library validates
		v.openAPISchema = openAPISchema
		v.cel = compileCEL(s, celconfig.PerCallLimit)
	})
	return v.err
}

// Validate validates obj, an object as the apiserver decodes JSON
// (map[string]any, []any, string, int64 for integers, float64, bool, nil), as the apiserver validates it
// on create. obj is changed as the apiserver changes it before validating:
// status dropped, non-nullable nulls pruned, defaults applied. known is
// false (and errs nil) when v has no CRD of obj's kind. A missing
// namespace is not an error here (the apiserver takes it from the request;
// berth's own checks report it).
func (v *Validator) Validate(obj map[string]any) (errs field.ErrorList, known bool) {
	ver, errs, known := v.check(obj)
	if ver == nil || ver.cel == nil {
		return errs, known // done, or no CEL rules in this version's schema
	}
	if blocking(errs) {
		// As the apiserver: CEL rules do not run on an object whose
		// errors could make them fail to evaluate.
		return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")), true
	}
	celErrs, _ := ver.cel.validate(nil, obj, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...), true
}

// check is Validate up to the CEL rules: the object's version (nil when
// there is nothing more to check) and the errors so far.
func (v *Validator) check(obj map[string]any) (ver *version, errs field.ErrorList, known bool) {
	return v.checkWith(obj, false)
}

// checkWith is check, done as the apiserver does when library is set (the
// reference of the differential tests): kube-openapi's SchemaValidator
// instead of berth's (schema.go), and objectmeta's walks over the whole
// schema even when it has no embedded resource.
func (v *Validator) checkWith(obj map[string]any, library bool) (ver *version, errs field.ErrorList, known bool) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion, err.Error())}, true
	}
	k := v.kinds[gv.WithKind(kind).GroupKind()]
	if k == nil {
		return nil, nil, false
	}
	if err := k.decode(); err != nil {
		return nil, field.ErrorList{field.InternalError(nil, fmt.Errorf("the CRD of %s: %w", gv.WithKind(kind).GroupKind(), err))}, true
	}
	ver = k.versions[gv.Version]
	if ver == nil {
		return nil, field.ErrorList{field.NotSupported(field.NewPath("apiVersion"), apiVersion, servedVersions(k.crd))}, true
	}
	if err := ver.compile(k.crd); err != nil {
		return nil, field.ErrorList{field.InternalError(nil, fmt.Errorf("the CRD of %s: %w", gv.WithKind(kind).GroupKind(), err))}, true
	}

	// What the apiserver does while decoding the request and preparing
	// the object for create.
	if ver.hasStatus {
		delete(obj, "status")
	}
	// berth's walk (schema.go) prunes and defaults below the root while it
	// validates; the root's nulls are pruned before coercion, as the
	// apiserver prunes them.
	fast := !library && ver.openAPI.root != nil
	if fast {
		ver.openAPI.root.pruneKeys(obj)
	} else {
		structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, ver.structural)
	}
	coerce := ver.coerce
	if library {
		coerce = ver.structural
	}
	if ferr := schemaobjectmeta.Coerce(nil, obj, coerce, true, false); ferr != nil {
		if fast {
			structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, ver.structural)
		}
		return nil, field.ErrorList{ferr}, true
	}
	if !fast {
		structuraldefaulting.Default(obj, ver.structural)
	}

	// customResourceStrategy.Validate.
	meta, _, err := schemaobjectmeta.GetObjectMeta(obj, false)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), nil, err.Error())}, true
	}
	if meta == nil {
		// No metadata: validated as empty (name required), not a crash.
		meta = &metav1.ObjectMeta{}
	}
	for _, e := range validation.ValidateObjectMeta(meta, ver.namespaced, validation.NameIsDNSSubdomain, field.NewPath("metadata")) {
		if e.Type == field.ErrorTypeRequired && e.Field == "metadata.namespace" {
			continue
		}
		errs = append(errs, e)
	}
	var sv apiservervalidation.SchemaCreateValidator = ver.schema
	var lists field.ErrorList
	walked := false
	if fast {
		// One walk: pruning, defaults, the OpenAPI schema and the list
		// types.
		var res *validate.Result
		if res, lists, walked = ver.openAPI.walk(obj); walked {
			sv = result{res}
		}
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, sv)...)
	if ver.embedded || library {
		errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, obj, ver.structural, false)...)
	}
	if !walked {
		lists = structurallisttype.ValidateListSetsAndMaps(nil, ver.structural, obj)
	}
	errs = append(errs, lists...)
	return ver, errs, true
}

// hasEmbeddedResource says whether a schema under s (not s) is
// x-kubernetes-embedded-resource.
func hasEmbeddedResource(s *structuralschema.Structural) bool {
	var under func(*structuralschema.Structural) bool
	under = func(s *structuralschema.Structural) bool {
		if s == nil {
			return false
		}
		if s.Items != nil && (s.Items.XEmbeddedResource || under(s.Items)) {
			return true
		}
		if a := s.AdditionalProperties; a != nil && a.Structural != nil && (a.Structural.XEmbeddedResource || under(a.Structural)) {
			return true
		}
		for _, p := range s.Properties {
			if p.XEmbeddedResource || under(&p) {
				return true
			}
		}
		return false
	}
	return under(s)
}

// ValidateTyped is Validate of a typed object (a Gateway API or berth
// API struct pointer), converted to its unstructured form. Fields without
// omitempty are present with their zero value: a required field that is
// missing is validated as its zero value (the apiserver says "Required
// value", this says why the zero value is invalid).
func (v *Validator) ValidateTyped(obj any) (errs field.ErrorList, known bool, err error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, false, err
	}
	errs, known = v.Validate(content)
	return errs, known, nil
}

// blocking is the apiserver's hasBlockingErr (registry/customresource):
// errors that stop CEL validation.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

func servedVersions(crd *apiextensionsv1.CustomResourceDefinition) []string {
	var out []string
	for _, v := range crd.Spec.Versions {
		if v.Served {
			out = append(out, crd.Spec.Group+"/"+v.Name)
		}
	}
	return out
}

// SourceFiles are the CRD files crds/ copies, in name order: every *.yaml
// of gatewayAPIDir (the module's config/crd/standard) and of berthDir
// (api/crd) that is a CustomResourceDefinition. go generate and the test
// that compares the copies with their sources use it.
func SourceFiles(gatewayAPIDir, berthDir string) ([]string, error) {
	var out []string
	for _, dir := range []string{gatewayAPIDir, berthDir} {
		names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no CRD files", dir)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				return nil, err
			}
			if _, ok, err := crdGroupKind(data); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			} else if ok {
				out = append(out, name)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i]) < filepath.Base(out[j]) })
	return out, nil
}

// FieldErrors formats errs as the apiserver's Invalid status lists them
// (one "field: reason" per error, joined by ", ").
func FieldErrors(errs field.ErrorList) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, ", ")
}
