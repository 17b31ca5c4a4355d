package crdschema

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-openapi/swag/conv"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// This file validates an object against a CRD version's OpenAPI schema as
// kube-openapi's validate.SchemaValidator does for the apiserver
// (apiservervalidation.ValidateCustomResource on create), from the same
// spec.Schema (the library's conversion of the CRD's schema, formats
// stripped as the apiserver strips them), with the same checks, the same
// kube-openapi errors (built by kube-openapi's own constructors and
// checks) and the same conversion to field errors (ValidateCustomResource
// itself, given the result). The same walk does what the apiserver does
// in separate walks over the structural schema: it prunes non-nullable
// nulls without defaults (defaulting.PruneNonNullableNullsWithoutDefaults),
// applies defaults (defaulting.Default) and checks list types
// (listtype.ValidateListSetsAndMaps). What differs:
//
//   - the schema is compiled once per CRD version into nodes (patterns
//     compiled, string enums as sets, properties sorted, number bounds
//     checked against their type and format) instead of building a
//     validator per nested value on every object;
//   - a field's path is built only when it has an error;
//   - properties and additional properties are visited in name order (the
//     library visits them in Go's map order, so the order of its errors
//     varies from run to run);
//   - pruning and defaulting happen node by node during validation: a
//     node's properties are pruned and defaulted before it is checked,
//     nothing is pruned inside what a default set (the library prunes
//     before it defaults), and what compares a whole subtree (an object's
//     enum, a set's or list map's duplicates) runs after the subtree is
//     done;
//   - a schema that uses what this walker does not handle (allOf, anyOf,
//     oneOf, not, $ref, dependencies, patternProperties, additionalItems,
//     tuple items, uniqueItems, additionalProperties: false, an invalid
//     pattern, a root apiVersion, kind or metadata with a default or a
//     schema under it) is validated by the library, the whole CRD version;
//     so is an object holding a Go type JSON decoding does not produce.
//
// The differential tests (schema_test.go) compare the errors and the
// object left with the apiserver's steps on every fixture, on generated
// objects and on mutations breaking every keyword.

// in is where kube-openapi says a value is ("body"), part of its messages.
const in = "body"

// openAPINode is one node of a compiled OpenAPI schema.
type openAPINode struct {
	types       spec.StringOrArray
	typeList    string // types joined by ","
	nullable    bool
	format      string
	typeApplies bool // the library's typeValidator applies

	// strings
	maxLength, minLength *int64
	pattern              string
	re                   *regexp.Regexp
	knownFormat          bool // the format validator applies

	// numbers
	numType, numFormat string // the numberValidator's Type and Format
	multipleOf         *float64
	maximum, minimum   *float64
	exclusiveMax       bool
	exclusiveMin       bool
	multipleOfInRange  bool // the bound is valid for numType/numFormat
	maximumInRange     bool
	minimumInRange     bool
	maxItems, minItems *int64
	items              *openAPINode
	enum               []any
	enumStrings        map[string]bool // every enum value is a string
	maxProps, minProps *int64
	props              []openAPIProp // in name order
	propIndex          map[string]*openAPINode
	additional         *openAPINode // additionalProperties' schema
	// def is the structural schema's default (unknown fields pruned as
	// the apiserver prunes them), nil: none; defaults are the properties
	// that have one, in name order.
	def      any
	defaults []openAPIProp
	required []string

	// x-kubernetes-list-type set or map, checked as
	// listtype.ValidateListSetsAndMaps does.
	listType    string
	listMapKeys []string
}

type openAPIProp struct {
	name string
	node *openAPINode
}

// compileOpenAPI compiles s, the OpenAPI schema the library validates
// against, with st, the structural schema of the same node (nullable and
// defaults, as pruning and defaulting read them), or says which construct
// it does not handle.
func compileOpenAPI(s *spec.Schema, st *structuralschema.Structural) (*openAPINode, error) {
	switch {
	case st == nil:
		return nil, fmt.Errorf("no structural schema")
	case st.Nullable != s.Nullable:
		return nil, fmt.Errorf("nullable differs from the structural schema's")
	case (s.Items == nil) != (st.Items == nil), len(s.Properties) != len(st.Properties),
		(s.AdditionalProperties == nil) != (st.AdditionalProperties == nil || st.AdditionalProperties.Structural == nil):
		return nil, fmt.Errorf("a shape that differs from the structural schema's")
	case len(s.AllOf) > 0, len(s.AnyOf) > 0, len(s.OneOf) > 0, s.Not != nil:
		return nil, fmt.Errorf("allOf, anyOf, oneOf or not")
	case s.Ref.String() != "":
		return nil, fmt.Errorf("$ref")
	case len(s.Dependencies) > 0:
		return nil, fmt.Errorf("dependencies")
	case len(s.PatternProperties) > 0:
		return nil, fmt.Errorf("patternProperties")
	case s.AdditionalItems != nil:
		return nil, fmt.Errorf("additionalItems")
	case s.Items != nil && (len(s.Items.Schemas) > 0 || s.Items.Schema == nil):
		return nil, fmt.Errorf("tuple items")
	case s.UniqueItems:
		return nil, fmt.Errorf("uniqueItems")
	case s.AdditionalProperties != nil && (!s.AdditionalProperties.Allows || s.AdditionalProperties.Schema == nil):
		return nil, fmt.Errorf("additionalProperties without a schema")
	}
	n := &openAPINode{
		types:        s.Type,
		typeList:     strings.Join(s.Type, ","),
		nullable:     s.Nullable,
		format:       s.Format,
		typeApplies:  len(s.Type) > 0 || s.Format != "",
		maxLength:    s.MaxLength,
		minLength:    s.MinLength,
		pattern:      s.Pattern,
		knownFormat:  strfmt.Default.ContainsName(s.Format),
		multipleOf:   s.MultipleOf,
		maximum:      s.Maximum,
		minimum:      s.Minimum,
		exclusiveMax: s.ExclusiveMaximum,
		exclusiveMin: s.ExclusiveMinimum,
		maxItems:     s.MaxItems,
		minItems:     s.MinItems,
		enum:         s.Enum,
		maxProps:     s.MaxProperties,
		minProps:     s.MinProperties,
		required:     s.Required,
		def:          st.Default.Object,
	}
	if lt, _ := s.Extensions.GetString("x-kubernetes-list-type"); lt == "set" || lt == "map" {
		n.listType = lt
		n.listMapKeys, _ = s.Extensions.GetStringSlice("x-kubernetes-list-map-keys")
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s.Pattern, err)
		}
		n.re = re
	}
	// SchemaValidator.numberValidator.
	if len(s.Type) == 1 {
		switch s.Type[0] {
		case "integer":
			n.numType = "integer"
			if s.Format == "int32" || s.Format == "int64" {
				n.numFormat = s.Format
			}
		case "number":
			n.numType = "number"
			if s.Format == "float" || s.Format == "double" {
				n.numFormat = s.Format
			}
		}
	}
	inRange := func(b *float64, prefix string) bool {
		return b != nil && validate.IsValueValidAgainstRange(*b, n.numType, n.numFormat, prefix, "") == nil
	}
	n.multipleOfInRange = inRange(s.MultipleOf, "MultipleOf")
	n.maximumInRange = inRange(s.Maximum, "Maximum boundary")
	n.minimumInRange = inRange(s.Minimum, "Minimum boundary")
	if len(s.Enum) > 0 {
		n.enumStrings = map[string]bool{}
		for _, e := range s.Enum {
			str, ok := e.(string)
			if !ok {
				n.enumStrings = nil
				break
			}
			n.enumStrings[str] = true
		}
	}
	if s.Items != nil {
		items, err := compileOpenAPI(s.Items.Schema, st.Items)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		n.items = items
	}
	if s.AdditionalProperties != nil {
		a, err := compileOpenAPI(s.AdditionalProperties.Schema, st.AdditionalProperties.Structural)
		if err != nil {
			return nil, fmt.Errorf("additionalProperties: %w", err)
		}
		n.additional = a
	}
	if len(s.Properties) > 0 {
		n.propIndex = make(map[string]*openAPINode, len(s.Properties))
		for name, p := range s.Properties {
			p := p
			stp, ok := st.Properties[name]
			if !ok {
				return nil, fmt.Errorf("%s: not in the structural schema", name)
			}
			c, err := compileOpenAPI(&p, &stp)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if c.def != nil {
				n.defaults = append(n.defaults, openAPIProp{name: name, node: c})
			}
			n.props = append(n.props, openAPIProp{name: name, node: c})
			n.propIndex[name] = c
		}
		sort.Slice(n.props, func(i, j int) bool { return n.props[i].name < n.props[j].name })
		sort.Slice(n.defaults, func(i, j int) bool { return n.defaults[i].name < n.defaults[j].name })
	}
	return n, nil
}

// pathElem is one step of a value's path: a property, an additional
// property or an item.
type pathElem struct {
	name  string
	index int
	kind  byte // 'p': a property; 'a': an additional property; 'i': an item
}

// path is the path of the value being validated as kube-openapi spells it,
// built only when an error needs it.
func (w *walker) path() string {
	var b strings.Builder
	for _, e := range w.stack {
		switch e.kind {
		case 'p': // objectValidator's rName
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.name)
		case 'a':
			b.WriteByte('.')
			b.WriteString(e.name)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// fieldPath is the path as listtype spells it.
func (w *walker) fieldPath() *field.Path {
	var p *field.Path
	for _, e := range w.stack {
		switch e.kind {
		case 'p':
			p = p.Child(e.name)
		case 'a':
			p = p.Key(e.name)
		default:
			p = p.Index(e.index)
		}
	}
	return p
}

func (w *walker) push(e pathElem) { w.stack = append(w.stack, e) }
func (w *walker) pop()            { w.stack = w.stack[:len(w.stack)-1] }

// walker collects the errors of one object: kube-openapi's, and the list
// type errors.
type walker struct {
	errs        []error
	lists       field.ErrorList
	unsupported bool
	stack       []pathElem
}

func (w *walker) add(e *openapierrors.Validation) {
	if e != nil {
		w.errs = append(w.errs, e)
	}
}

// validate is SchemaValidator.Validate of data at p.
func (n *openAPINode) validate(w *walker, data any, prune bool) {
	if data == nil {
		// Only the type and the common (enum) validators.
		if n.typeApplies && len(n.types) > 0 && !n.types.Contains("null") && !n.nullable {
			w.add(openapierrors.InvalidType(w.path(), in, n.typeList, "null"))
		}
		if len(n.enum) > 0 {
			w.add(openapierrors.EnumFail(w.path(), in, nil, n.enum))
		}
		return
	}
	var schType, format string
	switch data.(type) {
	case map[string]any:
		schType = "object"
	case []any:
		schType = "array"
	case string:
		schType = "string"
	case int64:
		schType, format = "integer", "int64"
	case float64:
		schType, format = "number", "float64"
	case bool:
		schType = "boolean"
	default:
		// Not a JSON value: the library validates the object (pruning
		// and defaulting, which leave such values alone, go on).
		w.unsupported = true
		return
	}

	if n.typeApplies {
		n.checkType(w, data, schType, format)
	}
	switch v := data.(type) {
	case string:
		n.checkString(w, v)
	case int64, float64:
		n.checkNumber(w, v)
	case []any:
		fromDefault := n.defaultItems(v)
		lists := len(w.lists)
		if n.items != nil {
			for i, item := range v {
				w.push(pathElem{index: i, kind: 'i'})
				n.items.validate(w, item, prune && (fromDefault == nil || !fromDefault[i]))
				w.pop()
			}
		}
		// The list type, once the items are pruned and defaulted, its
		// errors before theirs.
		switch n.listType {
		case "set":
			n.checkSet(w, v, lists)
		case "map":
			n.checkMap(w, v, lists)
		}
		if n.minItems != nil && int64(len(v)) < *n.minItems {
			w.add(openapierrors.TooFewItems(w.path(), in, *n.minItems, int64(len(v))))
		}
		if n.maxItems != nil && int64(len(v)) > *n.maxItems {
			w.add(openapierrors.TooManyItems(w.path(), in, *n.maxItems, int64(len(v))))
		}
	}
	m, isMap := data.(map[string]any)
	if isMap {
		n.checkObject(w, m, prune)
	}
	if len(n.enum) > 0 {
		// After an object's properties: they are pruned and defaulted
		// before the library compares the object with the enum.
		if s, ok := data.(string); !ok || n.enumStrings == nil || !n.enumStrings[s] {
			w.add(validate.Enum(w.path(), in, data, n.enum))
		}
	}
}

// pruneKeys deletes the null properties of m whose schema is neither
// nullable nor defaulted, as defaulting.PruneNonNullableNullsWithoutDefaults
// does.
func (n *openAPINode) pruneKeys(m map[string]any) {
	for k, v := range m {
		if v != nil {
			continue
		}
		c := n.propIndex[k]
		if c == nil {
			c = n.additional
		}
		if c != nil && !c.nullable && c.def == nil {
			delete(m, k)
		}
	}
}

// defaultKeys sets m's missing or null (not nullable) properties that have
// a default, and its null additional properties, as defaulting.Default
// does; it says which were set from a default (nil: none).
func (n *openAPINode) defaultKeys(m map[string]any) map[string]bool {
	var set map[string]bool
	for _, p := range n.defaults {
		if v, found := m[p.name]; !found || (v == nil && !p.node.nullable) {
			m[p.name] = runtime.DeepCopyJSONValue(p.node.def)
			if set == nil {
				set = map[string]bool{}
			}
			set[p.name] = true
		}
	}
	if a := n.additional; a != nil && !a.nullable {
		for k, v := range m {
			if v == nil && n.propIndex[k] == nil {
				m[k] = runtime.DeepCopyJSONValue(a.def)
				if a.def != nil {
					if set == nil {
						set = map[string]bool{}
					}
					set[k] = true
				}
			}
		}
	}
	return set
}

// defaultItems sets l's null items to the items' default unless they are
// nullable, as defaulting.Default does; it says which were set from a
// default (nil: none).
func (n *openAPINode) defaultItems(l []any) []bool {
	if n.items == nil || n.items.nullable {
		return nil
	}
	var set []bool
	for i, x := range l {
		if x == nil {
			l[i] = runtime.DeepCopyJSONValue(n.items.def)
			if n.items.def != nil {
				if set == nil {
					set = make([]bool, len(l))
				}
				set[i] = true
			}
		}
	}
	return set
}

// checkType is the library's typeValidator of a value that is not null.
func (n *openAPINode) checkType(w *walker, data any, schType, format string) {
	isFloatInt := schType == "number" && conv.IsFloat64AJSONInteger(data.(float64)) && n.types.Contains("integer")
	isIntFloat := schType == "integer" && n.types.Contains("number")
	stringOrSlice := schType == "string" || schType == "array"
	if !stringOrSlice && n.format != "" && !(n.types.Contains(schType) || format == n.format || isFloatInt || isIntFloat) {
		w.add(openapierrors.InvalidType(w.path(), in, n.format, format))
		return
	}
	if !(n.types.Contains("number") || n.types.Contains("integer")) && n.format != "" && stringOrSlice {
		return
	}
	if !(n.types.Contains(schType) || isFloatInt || isIntFloat) {
		w.add(openapierrors.InvalidType(w.path(), in, n.typeList, schType))
	}
}

// checkString is the library's stringValidator (its first error only)
// and formatValidator.
func (n *openAPINode) checkString(w *walker, s string) {
	switch {
	case n.maxLength != nil && int64(utf8.RuneCountInString(s)) > *n.maxLength:
		w.add(openapierrors.TooLong(w.path(), in, *n.maxLength, s))
	case n.minLength != nil && int64(utf8.RuneCountInString(s)) < *n.minLength:
		w.add(openapierrors.TooShort(w.path(), in, *n.minLength, s))
	case n.re != nil && !n.re.MatchString(s):
		w.add(openapierrors.FailedPattern(w.path(), in, n.pattern, s))
	}
	if n.knownFormat {
		w.add(validate.FormatOf(w.path(), in, n.format, s, strfmt.Default))
	}
}

// checkNumber is the library's numberValidator of an int64 or a float64.
func (n *openAPINode) checkNumber(w *walker, val any) {
	i, isInt := val.(int64)
	// The value against the range of its type and format.
	switch {
	case isInt && n.numType == "integer" && n.numFormat == "int32":
		if i < -1<<31 || i > 1<<31-1 {
			w.errs = append(w.errs, validate.IsValueValidAgainstRange(val, n.numType, n.numFormat, "Checked", w.path()))
		}
	case isInt && n.numType == "integer":
	case (n.numType == "" || n.numType == "number") && (n.numFormat == "" || n.numFormat == "double"):
	default:
		if err := validate.IsValueValidAgainstRange(val, n.numType, n.numFormat, "Checked", w.path()); err != nil {
			w.errs = append(w.errs, err)
		}
	}
	var f float64
	if isInt {
		f = float64(i)
	} else {
		f = val.(float64)
	}
	boundOutOfRange := func(b float64, prefix string) {
		if err := validate.IsValueValidAgainstRange(b, n.numType, n.numFormat, prefix, w.path()); err != nil {
			w.errs = append(w.errs, err)
		}
	}
	if n.multipleOf != nil {
		if n.multipleOfInRange {
			w.add(validate.MultipleOfNativeType(w.path(), in, val, *n.multipleOf))
		} else {
			boundOutOfRange(*n.multipleOf, "MultipleOf")
			w.add(validate.MultipleOf(w.path(), in, f, *n.multipleOf))
		}
	}
	if n.minimum != nil {
		switch {
		case n.minimumInRange && isInt:
			if m := int64(*n.minimum); (!n.exclusiveMin && i < m) || (n.exclusiveMin && i <= m) {
				w.add(validate.MinimumInt(w.path(), in, i, m, n.exclusiveMin))
			}
		case n.minimumInRange:
			w.add(validate.MinimumNativeType(w.path(), in, val, *n.minimum, n.exclusiveMin))
		default:
			boundOutOfRange(*n.minimum, "Minimum boundary")
			w.add(validate.Minimum(w.path(), in, f, *n.minimum, n.exclusiveMin))
		}
	}
	if n.maximum != nil {
		switch {
		case n.maximumInRange && isInt:
			if m := int64(*n.maximum); (!n.exclusiveMax && i > m) || (n.exclusiveMax && i >= m) {
				w.add(validate.MaximumInt(w.path(), in, i, m, n.exclusiveMax))
			}
		case n.maximumInRange:
			w.add(validate.MaximumNativeType(w.path(), in, val, *n.maximum, n.exclusiveMax))
		default:
			boundOutOfRange(*n.maximum, "Maximum boundary")
			w.add(validate.Maximum(w.path(), in, f, *n.maximum, n.exclusiveMax))
		}
	}
}

// checkObject is the library's objectValidator.
func (n *openAPINode) checkObject(w *walker, m map[string]any, prune bool) {
	// What the apiserver does to the object before validating it: nulls
	// pruned (not in what a default set: the library prunes before it
	// defaults), then defaults.
	if prune {
		n.pruneKeys(m)
	}
	fromDefault := n.defaultKeys(m)
	size := int64(len(m))
	if n.minProps != nil && size < *n.minProps {
		w.add(openapierrors.TooFewProperties(w.path(), in, *n.minProps, size))
	}
	if n.maxProps != nil && size > *n.maxProps {
		w.add(openapierrors.TooManyProperties(w.path(), in, *n.maxProps, size))
	}
	if n.additional != nil {
		var keys []string
		for k := range m {
			if n.propIndex[k] == nil {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.push(pathElem{name: k, kind: 'a'})
			n.additional.validate(w, m[k], prune && !fromDefault[k])
			w.pop()
		}
	}
	for _, prop := range n.props {
		if v, ok := m[prop.name]; ok {
			w.push(pathElem{name: prop.name, kind: 'p'})
			prop.node.validate(w, v, prune && !fromDefault[prop.name])
			w.pop()
		}
	}
	for _, k := range n.required {
		if _, ok := m[k]; !ok {
			w.add(openapierrors.Required(w.path()+"."+k, in))
		}
	}
}

// duplicates are the indexes of the second occurrence of each value that
// occurs more than once in l (scalars compared as Go values, objects and
// lists as their JSON), or the error listtype gives for a value it cannot
// marshal.
func duplicates(w *walker, l []any) ([]int, *field.Error) {
	if len(l) <= 1 {
		return nil, nil
	}
	var scalars map[any]int
	var compounds map[string]int
	var dups []int
	for i, x := range l {
		switch x.(type) {
		case map[string]any, []any:
			js, err := utiljson.Marshal(x)
			if err != nil {
				return nil, field.Invalid(w.fieldPath().Index(i), x, "internal error")
			}
			if compounds == nil {
				compounds = make(map[string]int, len(l))
			}
			compounds[string(js)]++
			if compounds[string(js)] == 2 {
				dups = append(dups, i)
			}
		default:
			if scalars == nil {
				scalars = make(map[any]int, len(l))
			}
			scalars[x]++
			if scalars[x] == 2 {
				dups = append(dups, i)
			}
		}
	}
	return dups, nil
}

// checkSet is listtype's check of an x-kubernetes-list-type: set.
func (n *openAPINode) checkSet(w *walker, l []any, at int) {
	dups, err := duplicates(w, l)
	if err != nil {
		w.lists = slices.Insert(w.lists, at, err)
		return
	}
	for j, i := range dups {
		w.lists = slices.Insert(w.lists, at+j, field.Duplicate(w.fieldPath().Index(i), l[i]))
	}
}

// unspecifiedKey is the key of a list map item without its key field.
type unspecifiedKey struct{}

// checkMap is listtype's check of an x-kubernetes-list-type: map.
func (n *openAPINode) checkMap(w *walker, l []any, at int) {
	for i, x := range l {
		if _, ok := x.(map[string]any); x != nil && !ok {
			w.lists = slices.Insert(w.lists, at, field.Invalid(w.fieldPath().Index(i), x, "must be an object for an array of list-type map"))
			return
		}
	}
	if len(l) <= 1 {
		return
	}
	keys := make([]any, len(l))
	if len(n.listMapKeys) == 1 {
		k := n.listMapKeys[0]
		for i, x := range l {
			keys[i] = unspecifiedKey{}
			if m, _ := x.(map[string]any); m != nil {
				if v, ok := m[k]; ok {
					keys[i] = v
				}
			}
		}
	} else {
		for i, x := range l {
			key := map[string]any{}
			if m, _ := x.(map[string]any); m != nil {
				for _, k := range n.listMapKeys {
					if v, ok := m[k]; ok {
						key[k] = v
					}
				}
			}
			keys[i] = key
		}
	}
	dups, err := duplicates(w, keys)
	if err != nil {
		w.lists = slices.Insert(w.lists, at, err)
		return
	}
	for j, i := range dups {
		var value any = keys[i]
		if len(n.listMapKeys) == 1 {
			if keys[i] == (unspecifiedKey{}) {
				value = map[string]any{}
			} else {
				value = map[string]any{n.listMapKeys[0]: keys[i]}
			}
		}
		w.lists = slices.Insert(w.lists, at+j, field.Duplicate(w.fieldPath().Index(i), value))
	}
}

// openAPIValidator is berth's SchemaCreateValidator of one CRD version:
// the compiled schema, or the library's validator when the schema (or
// an object) uses what the compiled one does not handle.
type openAPIValidator struct {
	root    *openAPINode // nil: the library validates
	library apiservervalidation.SchemaValidator
}

func newOpenAPIValidator(s *spec.Schema, st *structuralschema.Structural, library apiservervalidation.SchemaValidator) (*openAPIValidator, error) {
	root, err := compileOpenAPI(s, st)
	if err != nil {
		return &openAPIValidator{library: library}, err
	}
	// The root's apiVersion, kind and metadata are coerced before
	// defaulting and after pruning: the walk, which prunes and defaults
	// after coercion, must have nothing to prune or default under them.
	for _, name := range []string{"apiVersion", "kind", "metadata"} {
		if c := root.propIndex[name]; c != nil && (c.def != nil || c.items != nil || c.additional != nil || len(c.props) > 0) {
			return &openAPIValidator{library: library}, fmt.Errorf("%s has a default or a schema under it", name)
		}
	}
	return &openAPIValidator{root: root, library: library}, nil
}

// walk prunes, defaults and validates obj in one walk: the nulls
// defaulting.PruneNonNullableNullsWithoutDefaults prunes (but those of the
// root, which prepare prunes), the defaults defaulting.Default sets, then
// what kube-openapi's SchemaValidator and listtype.ValidateListSetsAndMaps
// give. ok is false when the library must validate obj (nothing is
// returned then; obj is pruned and defaulted all the same).
func (v *openAPIValidator) walk(obj map[string]any) (res *validate.Result, lists field.ErrorList, ok bool) {
	w := walker{}
	v.root.validate(&w, obj, true)
	if w.unsupported {
		return nil, nil, false
	}
	return &validate.Result{Errors: dedup(w.errs)}, w.lists, true
}

// result is a SchemaCreateValidator that gives a result already made, so
// that apiservervalidation.ValidateCustomResource converts it.
type result struct{ *validate.Result }

func (r result) Validate(any, ...apiservervalidation.ValidationOption) *validate.Result {
	return r.Result
}

// dedup drops the errors whose message an earlier error has, as
// validate.Result.AddErrors does.
func dedup(errs []error) []error {
	if len(errs) < 2 {
		return errs
	}
	out := errs[:0]
	seen := make(map[string]bool, len(errs))
	for _, e := range errs {
		if msg := e.Error(); !seen[msg] {
			seen[msg] = true
			out = append(out, e)
		}
	}
	return out
}
