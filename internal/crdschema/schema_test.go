package crdschema_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berth-gateway/berth/internal/crdschema"
)

// sameSchema runs Validate's steps before the CEL rules on obj twice, the
// OpenAPI schema validated by berth's validator and by kube-openapi's, and
// fails unless both give the same errors (every field of each, in the
// same order once sorted: the library's order is Go's map order). It
// returns berth's errors and whether berth's validator handled the object
// itself.
func sameSchema(t testing.TB, v *crdschema.Validator, name string, obj map[string]any) (field.ErrorList, bool) {
	t.Helper()
	ours, ref, oursObj, refObj, compiled := v.CompareSchema(obj)
	if a, b := dump(ours), dump(ref); a != b {
		js, _ := utiljson.Marshal(obj)
		t.Errorf("%s: berth's schema errors differ from kube-openapi's\nberth:\n%s\nlibrary:\n%s\nobject: %s", name, a, b, js)
	}
	if !reflect.DeepEqual(oursObj, refObj) {
		a, _ := utiljson.Marshal(oursObj)
		b, _ := utiljson.Marshal(refObj)
		t.Errorf("%s: berth's walk left the object\n%s\nthe library's pruning and defaulting\n%s", name, a, b)
	}
	return ours, compiled
}

// The kinds whose served versions berth's validator must handle itself
// (the others use allOf, anyOf, oneOf or not, which it leaves to the
// library).
var compiledKinds = []string{"BackendTLSPolicy", "GRPCRoute", "GatewayClass", "HTTPRoute", "ListenerSet", "ReferenceGrant", "TCPRoute", "TLSRoute", "UDPRoute"}

func TestSchemaCompiledKinds(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, gk := range v.Kinds() {
		all := true
		for _, ver := range v.ServedVersions(gk) {
			ok, err := v.OpenAPICompiled(gk.WithVersion(ver))
			if !ok {
				t.Logf("%s %s: the library validates it: %v", gk, ver, err)
				all = false
			}
		}
		if all {
			got = append(got, gk.Kind)
		}
	}
	if strings.Join(got, " ") != strings.Join(compiledKinds, " ") {
		t.Errorf("kinds berth's validator handles: %v, want %v", got, compiledKinds)
	}
}

func TestSchemaSameAsApiserverOnFixtures(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	names, objs := fixtures(t, v)
	if len(names) < 20 {
		t.Fatalf("only %d fixture objects found", len(names))
	}
	compiled, failed := 0, 0
	for _, name := range names {
		errs, c := sameSchema(t, v, name, objs[name])
		if c {
			compiled++
		}
		if len(errs) > 0 {
			failed++
		}
	}
	t.Logf("%d fixture objects, %d validated by berth's validator, %d with errors", len(names), compiled, failed)
	if compiled < len(names)/2 {
		t.Errorf("berth's validator handled only %d of %d fixtures", compiled, len(names))
	}
	if failed == 0 {
		t.Error("no fixture object has an error: the comparison covers no error path")
	}
}

// breaker breaks one keyword of a node of an object: a value of the wrong
// type, null, a string too long (in runes and in bytes), too short, not
// matching its pattern or format, not in its enum, a number out of its
// bounds or its format's range, a float for an integer, too many or too
// few items, a duplicate item of a set or map list, a required property
// removed, an unknown property, too many properties.
type breaker struct {
	g *generator
}

type site struct {
	value  any
	schema *structuralschema.Structural
	set    func(any)
	del    func() // a property: removes it
}

func sites(obj map[string]any, s *structuralschema.Structural) []site {
	var out []site
	var walk func(v any, s *structuralschema.Structural, set func(any), del func())
	walk = func(v any, s *structuralschema.Structural, set func(any), del func()) {
		out = append(out, site{value: v, schema: s, set: set, del: del})
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				var cs *structuralschema.Structural
				if p, ok := s.Properties[k]; ok {
					cs = &p
				} else if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
					cs = s.AdditionalProperties.Structural
				}
				if cs == nil || (set == nil && (k == "apiVersion" || k == "kind")) {
					continue
				}
				walk(v[k], cs, func(n any) { v[k] = n }, func() { delete(v, k) })
			}
		case []any:
			if s.Items != nil {
				for i, c := range v {
					walk(c, s.Items, func(n any) { v[i] = n }, nil)
				}
			}
		}
	}
	walk(obj, s, nil, nil)
	return out[1:] // not the root
}

// break1 breaks one keyword of a random site of obj, and says which.
func (b breaker) break1(obj map[string]any, s *structuralschema.Structural) string {
	all := sites(obj, s)
	if len(all) == 0 {
		return ""
	}
	x := all[b.g.r.IntN(len(all))]
	vv := x.schema.ValueValidation
	if vv == nil {
		vv = &structuralschema.ValueValidation{}
	}
	type fix struct {
		name string
		do   func()
	}
	var fixes []fix
	add := func(name string, do func()) { fixes = append(fixes, fix{name, do}) }
	add("type", func() {
		others := []any{"s", int64(7), 1.5, true, []any{"x"}, map[string]any{"k": "v"}}
		x.set(others[b.g.r.IntN(len(others))])
	})
	add("null", func() { x.set(nil) })
	if vv.MaxLength != nil {
		add("maxLength", func() { x.set(strings.Repeat("a", int(*vv.MaxLength)+1)) })
		add("maxLength runes", func() { x.set(strings.Repeat("é", int(*vv.MaxLength))) })
	}
	if vv.MinLength != nil && *vv.MinLength > 0 {
		add("minLength", func() { x.set(strings.Repeat("a", int(*vv.MinLength)-1)) })
	}
	if vv.Pattern != "" {
		add("pattern", func() { x.set("!! not " + string(rune('A'+b.g.r.IntN(26)))) })
	}
	if vv.Format != "" {
		add("format", func() { x.set("not-a-" + vv.Format) })
	}
	if len(vv.Enum) > 0 {
		add("enum", func() { x.set("NotInTheEnum") })
	}
	if x.schema.Type == "integer" {
		add("int32 range", func() { x.set(int64(1) << 40) })
		add("float", func() { x.set(2.5) })
		add("integral float", func() { x.set(float64(3)) })
	}
	if vv.Minimum != nil {
		add("minimum", func() { x.set(int64(*vv.Minimum) - 1) })
	}
	if vv.Maximum != nil {
		add("maximum", func() { x.set(int64(*vv.Maximum) + 1) })
	}
	if l, ok := x.value.([]any); ok {
		if vv.MaxItems != nil && len(l) > 0 {
			add("maxItems", func() {
				n := make([]any, 0, *vv.MaxItems+1)
				for range *vv.MaxItems + 1 {
					n = append(n, runtime.DeepCopyJSONValue(l[b.g.r.IntN(len(l))]))
				}
				x.set(n)
			})
		}
		if vv.MinItems != nil && *vv.MinItems > 0 {
			add("minItems", func() { x.set([]any{}) })
		}
		if len(l) > 0 && x.schema.XListType != nil && *x.schema.XListType != "atomic" {
			add("duplicate", func() { x.set(append(l, runtime.DeepCopyJSONValue(l[b.g.r.IntN(len(l))]))) })
		}
	}
	if m, ok := x.value.(map[string]any); ok {
		if len(vv.Required) > 0 {
			add("required", func() { delete(m, vv.Required[b.g.r.IntN(len(vv.Required))]) })
		}
		add("unknown", func() { m["zzUnknown"] = "x" })
		if vv.MaxProperties != nil {
			add("maxProperties", func() {
				for i := range *vv.MaxProperties + 1 {
					m[fmt.Sprintf("k%d", i)] = "v"
				}
			})
		}
		if vv.MinProperties != nil && *vv.MinProperties > 0 {
			add("minProperties", func() { clear(m) })
		}
	}
	if x.del != nil {
		add("delete", x.del)
	}
	f := fixes[b.g.r.IntN(len(fixes))]
	f.do()
	return f.name
}

// kindOf names what an error is about, without its path and value.
var pathish = regexp.MustCompile(`^[^ ]+ in body `)

func kindOf(e *field.Error) string {
	d := pathish.ReplaceAllString(e.Detail, "")
	for _, cut := range []string{"'", ":", " in ", "\""} {
		if i := strings.Index(d, cut); i > 0 {
			d = d[:i]
		}
	}
	return string(e.Type) + ": " + strings.TrimSpace(d)
}

// Generated objects of every served version of every embedded kind,
// random mutations of the fixtures and mutations breaking each keyword
// give the same errors from berth's validator and kube-openapi's; every
// kind of error the embedded CRDs can give is given at least once.
func TestSchemaSameAsApiserverOnRandomObjects(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	n := 30
	if testing.Short() {
		n = 10
	}
	seen := map[string]int{}
	broken := map[string]int{}
	eachServedVersion(t, v, func(gvk schema.GroupVersionKind, s *structuralschema.Structural, fixtures []fixture) {
		compiled, _ := v.OpenAPICompiled(gvk)
		g := newGenerator(uint64(len(gvk.String()))+7, s)
		b := breaker{g}
		record := func(errs field.ErrorList) {
			for _, e := range errs {
				if compiled {
					seen[kindOf(e)]++
				}
			}
		}
		var objs []map[string]any
		for range n {
			objs = append(objs, g.object(s, gvk))
		}
		for _, fx := range fixtures {
			objs = append(objs, fx.obj)
		}
		for i, obj := range objs {
			errs, _ := sameSchema(t, v, fmt.Sprintf("%s #%d", gvk, i), obj)
			record(errs)
			for j := range 6 {
				m := runtime.DeepCopyJSON(obj)
				if j == 0 {
					g.mutate(m, s)
				}
				for range 1 + g.r.IntN(2) {
					if k := b.break1(m, s); k != "" && compiled {
						broken[k]++
					}
				}
				errs, _ := sameSchema(t, v, fmt.Sprintf("%s #%d mutation %d", gvk, i, j), m)
				record(errs)
			}
		}
	})
	var kinds []string
	for k, c := range seen {
		kinds = append(kinds, fmt.Sprintf("%6d %s", c, k))
	}
	sort.Strings(kinds)
	t.Logf("keywords broken: %v\nerrors of berth's validator:\n%s", broken, strings.Join(kinds, "\n"))
	for _, want := range []string{
		"FieldValueNotSupported: ",
		"FieldValueRequired: ",
		"FieldValueTooLong: ",
		"FieldValueTooMany: ",
		"FieldValueInvalid: should match",
		"FieldValueInvalid: should be at least",
		"FieldValueInvalid: should have at least",
		"FieldValueInvalid: should be greater than or equal to",
		"FieldValueInvalid: should be less than or equal to",
		"FieldValueInvalid: Checked value must be of type integer with format int32",
		"FieldValueTypeInvalid: must be of type int32",
		"FieldValueTypeInvalid: must be of type string",
		"FieldValueTypeInvalid: must be of type integer",
		"FieldValueTypeInvalid: must be of type object",
		"FieldValueTypeInvalid: must be of type array",
		"FieldValueDuplicate: ",
		"FieldValueInvalid: must be an object for an array of list-type map",
	} {
		found := false
		for k := range seen {
			if strings.HasPrefix(k, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error %q from berth's validator", want)
		}
	}
}

// FuzzSchemaSameAsApiserver compares both validators on fixtures with
// random keywords broken: go test ./internal/crdschema -run XXX -fuzz
// FuzzSchema.
func FuzzSchemaSameAsApiserver(f *testing.F) {
	fuzzFixtures(f, 5, func(t *testing.T, v *crdschema.Validator, name string, obj map[string]any, s *structuralschema.Structural, g *generator, mutations int) {
		b := breaker{g}
		for i := range mutations {
			if i%2 == 0 {
				b.break1(obj, s)
			} else {
				g.mutate(obj, s)
			}
		}
		sameSchema(t, v, name, obj)
	})
}

// A synthetic CRD exercises what the embedded CRDs do not (nullable,
// multipleOf, exclusive bounds, bounds outside their format's range,
// number formats, string formats, min/maxProperties, integer enums,
// int-or-string, additionalProperties), and a version with anyOf is left
// to the library: both validators agree, and the errors are the expected
// ones.
func TestSchemaSameAsApiserverOnSyntheticCRD(t *testing.T) {
	v, err := crdschema.New(os.DirFS("testdata/schema"))
	if err != nil {
		t.Fatal(err)
	}
	gk := schema.GroupKind{Group: "test.berth.dev", Kind: "Gadget"}
	if ok, err := v.OpenAPICompiled(gk.WithVersion("v1")); !ok {
		t.Fatalf("v1 is not compiled: %v", err)
	}
	if ok, _ := v.OpenAPICompiled(gk.WithVersion("v2")); ok {
		t.Fatal("v2 (anyOf) is compiled")
	}
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{name: "valid", doc: "spec: {count: 4, ratio: 0.5, nothing: null, when: '2024-01-02T03:04:05Z', ip: 10.0.0.1, tags: {a: b}, level: 2, port: http, nullables: [null, a]}"},
		{name: "nulls of properties are pruned", doc: "spec: {nothing: null, count: null, mode: null}"},
		{name: "null items", doc: "spec: {modes: [a, null]}",
			want: []string{`spec.modes[1]: Invalid value: "null": spec.modes[1] in body must be of type string: "null"`,
				`spec.modes[1]: Unsupported value: null: supported values: "a", "b"`}},
		{name: "multipleOf int", doc: "spec: {count: 5}",
			want: []string{"spec.count: Invalid value: 5: spec.count in body should be a multiple of 2"}},
		{name: "multipleOf float", doc: "spec: {ratio: 0.3}",
			want: []string{"spec.ratio: Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25"}},
		{name: "exclusive bounds", doc: "spec: {count: 10, ratio: 0}",
			want: []string{"spec.count in body should be less than 10", "spec.ratio in body should be greater than 0"}},
		{name: "bound outside int32", doc: "spec: {small: 3}",
			want: []string{`<nil>: Invalid value: "": Maximum boundary value must be of type integer with format int32 in spec.small`}},
		{name: "value outside int32", doc: "spec: {small: 3000000000}",
			want: []string{"Checked value must be of type integer with format int32 in spec.small"}},
		{name: "float for float format", doc: "spec: {single: 1e300}",
			want: []string{"Checked value must be of type number with format float in spec.single"}},
		{name: "date-time", doc: "spec: {when: yesterday}",
			want: []string{"spec.when in body must be of type date-time: \"yesterday\""}},
		{name: "ipv4", doc: "spec: {ip: 300.1.1.1}",
			want: []string{"spec.ip in body must be of type ipv4: \"300.1.1.1\""}},
		{name: "format on a number", doc: "spec: {when: 5}",
			want: []string{"spec.when in body must be of type date-time: \"int64\""}},
		{name: "format on a list", doc: "spec: {when: [a]}"},
		{name: "properties", doc: "spec: {tags: {a: b, c: d, e: f}}",
			want: []string{"spec.tags: Too many: 3: must have at most 2 items"}},
		{name: "too few properties", doc: "spec: {tags: {}}",
			want: []string{"spec.tags in body should have at least 1 properties"}},
		{name: "additionalProperties", doc: "spec: {tags: {a: 1, b: toolongvalue}}",
			want: []string{"spec.tags.a: Invalid value: \"integer\": spec.tags.a in body must be of type string: \"integer\"", "spec.tags.b: Too long: may not be more than 5 bytes"}},
		{name: "integer enum", doc: "spec: {level: 4}",
			want: []string{"spec.level: Unsupported value: 4: supported values: \"1\", \"2\", \"3\""}},
		{name: "int-or-string", doc: "spec: {port: 1.5}",
			want: []string{"spec.port in body must be of type integer,string: \"number\""}},
		{name: "unknown field", doc: "spec: {zz: 1}"},
		{name: "nulls pruned before defaults", doc: "spec: {defaulted: {inner: null}}"},
		{name: "a default's nulls are not pruned", doc: "spec: {defaultedItems: [null, {}, {yv: null}]}",
			want: []string{`spec.defaultedItems[0].yv: Invalid value: "null": spec.defaultedItems[0].yv in body must be of type string: "null"`}},
		{name: "map keys defaulted before the list type", doc: "spec: {keyed: [{}, {proto: TCP}]}",
			want: []string{`spec.keyed[1]: Duplicate value: {"proto":"TCP"}`}},
		{name: "set", doc: "spec: {set: [a, b, a, a, b]}",
			want: []string{`spec.set[2]: Duplicate value: "a"`, `spec.set[4]: Duplicate value: "b"`}},
		{name: "map", doc: "spec: {named: [{name: a}, {v: 1}, {name: a, v: 2}, {v: 3}, null]}",
			want: []string{`spec.named[2]: Duplicate value: {"name":"a"}`, `spec.named[3]: Duplicate value: {}`}},
		{name: "map item not an object", doc: "spec: {named: [{name: a}, 5, x]}",
			want: []string{`spec.named[1]: Invalid value: 5: must be an object for an array of list-type map`}},
		{name: "map of two keys", doc: "spec: {pairs: [{a: x, b: 1}, {a: x, b: 2}, {b: 1, a: x}, {a: x}, {}, {a: x}]}",
			want: []string{`spec.pairs[2]: Duplicate value: {"a":"x","b":1}`, `spec.pairs[5]: Duplicate value: {"a":"x"}`}},
		{name: "root type", doc: "spec: 5",
			want: []string{"spec: Invalid value: \"integer\": spec in body must be of type object: \"integer\""}},
		{name: "a Go type JSON does not give is left to the library", doc: "spec: {count: 4}",
			want: []string{"spec.count: Invalid value: 3: spec.count in body should be a multiple of 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := decodeYAML(strings.NewReader("apiVersion: test.berth.dev/v1\nkind: Gadget\nmetadata: {name: g, namespace: ns}\n" + tc.doc))
			if err != nil || len(docs) != 1 {
				t.Fatal(docs, err)
			}
			if strings.HasPrefix(tc.name, "a Go type") {
				docs[0]["spec"].(map[string]any)["count"] = json.Number("3")
			}
			errs, _ := sameSchema(t, v, tc.name, docs[0])
			got := crdschema.FieldErrors(errs)
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("refused: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s\nlacks %s", got, w)
				}
			}
			// The version with anyOf (the library's) gives the same.
			docs[0]["apiVersion"] = "test.berth.dev/v2"
			sameSchema(t, v, tc.name+" v2", docs[0])
		})
	}
}
