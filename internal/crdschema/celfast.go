package crdschema

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	celgo "github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	apiservercel "k8s.io/apiserver/pkg/cel"
)

// This file evaluates the x-kubernetes-validations rules the embedded CRDs
// use without cel-go's interpreter: each rule, parsed by the same CEL
// environment (cel.Compile has compiled and type-checked it, and its
// program stays the reference), is compiled into Go closures over the
// unstructured object (map[string]any, []any, string, int64, bool), typed
// from the structural schema. A rule with anything else (oldSelf,
// int-or-string, embedded resources, nullable fields, formats, doubles,
// functions not in call) is not compiled and runs on cel-go's program,
// decided once per CRD version (testdata/cel-fallbacks.txt lists them).
//
// Results are cel-go's: values and error messages as its interpreter gives
// them (errors as values, CEL's error-absorbing && and ||, "no such key",
// "index out of bounds", "integer overflow", "index out of range", a
// string that is no duration).
//
// Costs are cel-go's, tracked exactly rather than bounded: the same sum
// its cost tracker (interpreter.CostTracker, with apiextensions'
// library.CostEstimator and presence tests free) adds up, so the
// per-object budget left is the library's to the unit. As cel-go plans the
// rules (OptOptimize on): a variable with its fields and constant indexes
// applied is one attribute, costing one per qualifier applied (the one
// that fails included) plus one for the attribute, except a ternary's
// branch, which cel-go resolves without observing it; has() costs its
// qualifiers only; constants, constant lists, `x in [constants]` (a set
// lookup), ternaries, && and || cost nothing themselves; a call costs what
// CostTracker.costCall gives (equality and string comparisons
// ceil(0.1 × the smaller size), startsWith/endsWith ceil(0.1 × the
// argument's size), contains the product of both, matches ceil(0.1 × (1 +
// size)) × ceil(0.25 × the pattern's size), substring ceil(0.1 × size) as
// library.CostEstimator says, `in` a list of the data its size, other
// calls 1), also when an argument is an error; building [x] costs 10;
// duration('constant') is folded, so costs nothing. The
// macros are cel-go's folds, evaluated step by step (all's and exists'
// @not_strictly_false loop condition included), so their cost follows.
// The differential tests compare value and cost of every rule evaluation
// with cel-go's program.
//
// Whatever the closures do not model at run time (a value of another type
// than the schema's, a null, a cost above the per-call limit, where
// cel-go stops mid-way and its cost decides which error the budget
// gives) makes them give up and the rule runs on cel-go's program instead:
// the closures have no side effects, so running the rule again is the same
// as having run it there.

// fastRule is a rule compiled to closures.
type fastRule struct {
	root  fastFn
	vars  int // variable slots: self and the comprehensions' variables
	limit uint64
}

// fastFn evaluates an expression: a bool, int64, string, []any, map[string]any
// or *fastErr.
type fastFn func(st *fastState) any

type fastState struct {
	cost uint64
	vars []any
}

// fastErr is a CEL error value.
type fastErr struct{ msg string }

func (e *fastErr) Error() string { return e.msg }

// fastBail is panicked when the closures cannot give cel-go's result.
type fastBail struct{}

// eval runs r on self with st (its vars at least r.vars long): the result
// (bool or *fastErr) and its cost, or ok false when cel-go's program must
// run instead.
func (r *fastRule) eval(st *fastState, self any, selfType *fastType) (result any, cost uint64, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if _, bail := p.(fastBail); !bail {
				panic(p)
			}
			result, cost, ok = nil, 0, false
		}
	}()
	st.cost = 0
	st.vars[0] = selfType.conv(self)
	result = r.root(st)
	if st.cost > r.limit {
		panic(fastBail{})
	}
	return result, st.cost, true
}

type fastKind uint8

const (
	kBool fastKind = iota + 1
	kInt
	kString
	kList
	kObject // properties
	kMap    // additionalProperties
	kDuration
)

func (k fastKind) String() string {
	switch k {
	case kBool:
		return "bool"
	case kInt:
		return "int"
	case kString:
		return "string"
	case kList:
		return "list"
	case kObject:
		return "object"
	case kMap:
		return "map"
	case kDuration:
		return "duration"
	}
	return "unknown"
}

// fastType is the static type of an expression, with the schema of the
// data it reads.
type fastType struct {
	kind   fastKind
	schema *structuralschema.Structural // nil for values the rule builds
	elem   *fastType                    // a list's items, a map's values
}

var (
	tBool   = &fastType{kind: kBool}
	tInt    = &fastType{kind: kInt}
	tString = &fastType{kind: kString}
)

// typeOfSchema is the type of data of schema s, or an error when the
// closures do not model how apiextensions converts it.
func typeOfSchema(s *structuralschema.Structural) (*fastType, error) {
	if s == nil {
		return nil, fmt.Errorf("no schema")
	}
	switch {
	case s.XIntOrString:
		return nil, fmt.Errorf("int-or-string")
	case s.XEmbeddedResource:
		return nil, fmt.Errorf("embedded resource")
	case s.Nullable:
		return nil, fmt.Errorf("nullable")
	}
	switch s.Type {
	case "string":
		if s.ValueValidation != nil && s.ValueValidation.Format != "" {
			switch s.ValueValidation.Format {
			case "duration", "date", "date-time", "byte":
				return nil, fmt.Errorf("format %s", s.ValueValidation.Format)
			}
		}
		return &fastType{kind: kString, schema: s}, nil
	case "integer":
		return &fastType{kind: kInt, schema: s}, nil
	case "boolean":
		return &fastType{kind: kBool, schema: s}, nil
	case "array":
		if s.Items == nil {
			return nil, fmt.Errorf("array without items")
		}
		elem, err := typeOfSchema(s.Items)
		if err != nil {
			return nil, err
		}
		return &fastType{kind: kList, schema: s, elem: elem}, nil
	case "object":
		if s.Properties != nil {
			return &fastType{kind: kObject, schema: s}, nil
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
			elem, err := typeOfSchema(s.AdditionalProperties.Structural)
			if err != nil {
				return nil, err
			}
			return &fastType{kind: kMap, schema: s, elem: elem}, nil
		}
	}
	return nil, fmt.Errorf("type %q", s.Type)
}

// conv is v as apiextensions converts data of t's schema, or a bail
// where its conversion would differ (another type, or null).
func (t *fastType) conv(v any) any {
	ok := false
	switch t.kind {
	case kBool:
		_, ok = v.(bool)
	case kInt:
		_, ok = v.(int64)
	case kString:
		_, ok = v.(string)
	case kList:
		_, ok = v.([]any)
	case kObject, kMap:
		_, ok = v.(map[string]any)
	}
	if !ok {
		panic(fastBail{})
	}
	return v
}

// fastCompiler compiles the rules of one schema node.
type fastCompiler struct {
	scope []fastVar
	slots int
}

type fastVar struct {
	name string
	slot int
	typ  *fastType
}

// compileFast compiles a rule, parsed by the rules' CEL environment, for
// self of schema s (the node's, with apiVersion, kind and metadata for a
// resource's root), or says why not.
func compileFast(parsed *celgo.Ast, s *structuralschema.Structural, resourceRoot bool, limit uint64) (*fastRule, *fastType, error) {
	if resourceRoot {
		s = model.WithTypeAndObjectMeta(s)
	}
	self, err := typeOfSchema(s)
	if err != nil {
		return nil, nil, fmt.Errorf("self: %w", err)
	}
	c := &fastCompiler{scope: []fastVar{{name: "self", slot: 0, typ: self}}, slots: 1}
	fn, t, err := c.expr(parsed.NativeRep().Expr(), false)
	if err != nil {
		return nil, nil, err
	}
	if t.kind != kBool {
		return nil, nil, fmt.Errorf("not a bool")
	}
	return &fastRule{root: fn, vars: c.slots, limit: limit}, self, nil
}

func (c *fastCompiler) lookup(name string) (fastVar, bool) {
	for i := len(c.scope) - 1; i >= 0; i-- {
		if c.scope[i].name == name {
			return c.scope[i], true
		}
	}
	return fastVar{}, false
}

// qualifier is one field or index applied to an attribute.
type qualifier struct {
	field  string // CEL name
	key    string // the object's key (unescaped)
	index  int64
	isIdx  bool
	result *fastType
}

// apply qualifies v (cost one, even when it fails).
func (q *qualifier) apply(st *fastState, v any) any {
	st.cost++
	if q.isIdx {
		l := v.([]any)
		if q.index < 0 || q.index >= int64(len(l)) {
			return &fastErr{msg: fmt.Sprintf("index out of bounds: %d", q.index)}
		}
		return q.result.conv(l[q.index])
	}
	f, ok := v.(map[string]any)[q.key]
	if !ok || f == nil { // a null is an absent field
		return &fastErr{msg: "no such key: " + q.field}
	}
	return q.result.conv(f)
}

// present tests for the field (cost one). As cel-go, it converts the
// field's value: a value of another type gives up.
func (q *qualifier) present(st *fastState, v any) bool {
	st.cost++
	f, ok := v.(map[string]any)[q.key]
	if !ok || f == nil {
		return false
	}
	q.result.conv(f)
	return true
}

// selectQualifier is field of an object of type t.
func selectQualifier(t *fastType, field string) (*qualifier, error) {
	if t.kind != kObject {
		return nil, fmt.Errorf("field %s of a %v", field, t.kind)
	}
	key, ok := apiservercel.Unescape(field)
	if !ok {
		return nil, fmt.Errorf("field %s", field)
	}
	prop, ok := t.schema.Properties[key]
	if !ok {
		return nil, fmt.Errorf("no property %s", key)
	}
	pt, err := typeOfSchema(&prop)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return &qualifier{field: field, key: key, result: pt}, nil
}

// attribute compiles a variable with fields and constant indexes applied
// (one cel-go attribute), or ok false when e is not one. inBranch: e is a
// ternary's branch, whose attribute cel-go resolves without observing it.
func (c *fastCompiler) attribute(e ast.Expr, inBranch bool) (fastFn, *fastType, bool, error) {
	var quals []ast.Expr
	base := e
	for {
		switch {
		case base.Kind() == ast.SelectKind && !base.AsSelect().IsTestOnly():
			quals = append(quals, base)
			base = base.AsSelect().Operand()
			continue
		case base.Kind() == ast.CallKind && base.AsCall().FunctionName() == operators.Index && len(base.AsCall().Args()) == 2 &&
			base.AsCall().Args()[1].Kind() == ast.LiteralKind:
			quals = append(quals, base)
			base = base.AsCall().Args()[0]
			continue
		}
		break
	}
	if base.Kind() != ast.IdentKind {
		if len(quals) == 0 {
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("qualifiers of a computed value")
	}
	v, ok := c.lookup(base.AsIdent())
	if !ok {
		return nil, nil, false, fmt.Errorf("identifier %s", base.AsIdent())
	}
	t := v.typ
	qs := make([]*qualifier, 0, len(quals))
	for i := len(quals) - 1; i >= 0; i-- {
		q := quals[i]
		var qual *qualifier
		if q.Kind() == ast.SelectKind {
			var err error
			if qual, err = selectQualifier(t, q.AsSelect().FieldName()); err != nil {
				return nil, nil, false, err
			}
		} else {
			lit, ok := q.AsCall().Args()[1].AsLiteral().(types.Int)
			if !ok || t.kind != kList {
				return nil, nil, false, fmt.Errorf("index")
			}
			qual = &qualifier{index: int64(lit), isIdx: true, result: t.elem}
		}
		qs = append(qs, qual)
		t = qual.result
	}
	var observed uint64 = 1
	if inBranch {
		observed = 0
	}
	slot := v.slot
	return func(st *fastState) any {
		val := st.vars[slot]
		for _, q := range qs {
			val = q.apply(st, val)
			if _, isErr := val.(*fastErr); isErr {
				break
			}
		}
		st.cost += observed
		return val
	}, t, true, nil
}

// presence compiles has(e.field).
func (c *fastCompiler) presence(sel ast.SelectExpr) (fastFn, *fastType, error) {
	op := sel.Operand()
	opFn, opType, ok, err := c.attribute(op, true) // its attribute is not observed
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("has() of a computed value")
	}
	q, err := selectQualifier(opType, sel.FieldName())
	if err != nil {
		return nil, nil, err
	}
	return func(st *fastState) any {
		v := opFn(st)
		if e, isErr := v.(*fastErr); isErr {
			return e
		}
		return q.present(st, v)
	}, tBool, nil
}

func (c *fastCompiler) expr(e ast.Expr, inBranch bool) (fastFn, *fastType, error) {
	switch e.Kind() {
	case ast.LiteralKind:
		var v any
		var t *fastType
		switch lit := e.AsLiteral().(type) {
		case types.Bool:
			v, t = bool(lit), tBool
		case types.Int:
			v, t = int64(lit), tInt
		case types.String:
			v, t = string(lit), tString
		default:
			return nil, nil, fmt.Errorf("literal of type %v", lit.Type())
		}
		return func(*fastState) any { return v }, t, nil
	case ast.IdentKind, ast.SelectKind:
		if e.Kind() == ast.SelectKind && e.AsSelect().IsTestOnly() {
			return c.presence(e.AsSelect())
		}
		fn, t, _, err := c.attribute(e, inBranch)
		return fn, t, err
	case ast.CallKind:
		return c.call(e, inBranch)
	case ast.ListKind:
		return c.list(e)
	case ast.ComprehensionKind:
		return c.comprehension(e.AsComprehension())
	}
	return nil, nil, fmt.Errorf("expression kind %v", e.Kind())
}

// list compiles a list built by the rule: [] (a constant) or [x].
func (c *fastCompiler) list(e ast.Expr) (fastFn, *fastType, error) {
	l := e.AsList()
	if len(l.OptionalIndices()) > 0 {
		return nil, nil, fmt.Errorf("optional list elements")
	}
	elems := l.Elements()
	if len(elems) == 0 {
		return func(*fastState) any { return []any{} }, &fastType{kind: kList}, nil
	}
	if len(elems) != 1 || elems[0].Kind() == ast.LiteralKind {
		return nil, nil, fmt.Errorf("list literal")
	}
	fn, t, err := c.expr(elems[0], false)
	if err != nil {
		return nil, nil, err
	}
	return func(st *fastState) any {
		v := fn(st)
		st.cost += 10 // common.ListCreateBaseCost
		if e, isErr := v.(*fastErr); isErr {
			return e
		}
		return []any{v}
	}, &fastType{kind: kList, elem: t}, nil
}

// comprehension compiles a fold (the macros all, exists, exists_one,
// filter) over a list or a map's keys.
func (c *fastCompiler) comprehension(comp ast.ComprehensionExpr) (fastFn, *fastType, error) {
	if comp.HasIterVar2() {
		return nil, nil, fmt.Errorf("two-variable comprehension")
	}
	rangeFn, rangeType, err := c.expr(comp.IterRange(), false)
	if err != nil {
		return nil, nil, err
	}
	var elem *fastType
	switch rangeType.kind {
	case kList:
		elem = rangeType.elem
	case kMap:
		elem = tString
	default:
		return nil, nil, fmt.Errorf("comprehension over a %v", rangeType.kind)
	}
	initFn, accuType, err := c.expr(comp.AccuInit(), false)
	if err != nil {
		return nil, nil, err
	}
	iterSlot, accuSlot := c.slots, c.slots+1
	c.slots += 2
	depth := len(c.scope)
	c.scope = append(c.scope, fastVar{name: comp.IterVar(), slot: iterSlot, typ: elem}, fastVar{name: comp.AccuVar(), slot: accuSlot, typ: accuType})
	defer func() { c.scope = c.scope[:depth] }()
	condFn, _, err := c.expr(comp.LoopCondition(), false)
	if err != nil {
		return nil, nil, err
	}
	stepFn, stepType, err := c.expr(comp.LoopStep(), false)
	if err != nil {
		return nil, nil, err
	}
	if accuType.kind == kList && accuType.elem == nil {
		accuType.elem = stepType.elem // filter's [] accumulates [x]
	}
	if stepType.kind != accuType.kind {
		return nil, nil, fmt.Errorf("accumulator of two types")
	}
	resultFn, resultType, err := c.expr(comp.Result(), false)
	if err != nil {
		return nil, nil, err
	}
	isMap := rangeType.kind == kMap
	return func(st *fastState) any {
		r := rangeFn(st)
		if e, isErr := r.(*fastErr); isErr {
			return e
		}
		accu := initFn(st)
		if isMap {
			for k := range r.(map[string]any) {
				st.vars[iterSlot], st.vars[accuSlot] = k, accu
				if b, ok := condFn(st).(bool); ok && !b {
					break
				}
				accu = stepFn(st)
			}
		} else {
			for _, item := range r.([]any) {
				st.vars[iterSlot], st.vars[accuSlot] = elem.conv(item), accu
				if b, ok := condFn(st).(bool); ok && !b {
					break
				}
				accu = stepFn(st)
			}
		}
		st.vars[accuSlot] = accu
		return resultFn(st)
	}, resultType, nil
}

// stringSize is a string's size for cel-go (its code points).
func stringSize(s string) uint64 { return uint64(utf8.RuneCountInString(s)) }

// actualSize is cel-go's actualSize: a string's or list's size, else 1.
func actualSize(v any) uint64 {
	switch v := v.(type) {
	case string:
		return stringSize(v)
	case []any:
		return uint64(len(v))
	case map[string]any:
		return uint64(len(v))
	}
	return 1
}

func traversal(size uint64, factor float64) uint64 {
	return uint64(math.Ceil(float64(size) * factor))
}

func firstErr(vals ...any) *fastErr {
	for _, v := range vals {
		if e, ok := v.(*fastErr); ok {
			return e
		}
	}
	return nil
}

func (c *fastCompiler) call(e ast.Expr, inBranch bool) (fastFn, *fastType, error) {
	call := e.AsCall()
	fn := call.FunctionName()
	var argExprs []ast.Expr
	if call.IsMemberFunction() {
		argExprs = append(argExprs, call.Target())
	}
	argExprs = append(argExprs, call.Args()...)

	switch fn {
	case operators.Index:
		f, t, _, err := c.attribute(e, inBranch)
		return f, t, err
	case operators.Conditional:
		cond, ct, err := c.expr(argExprs[0], false)
		if err != nil {
			return nil, nil, err
		}
		yes, yt, err := c.expr(argExprs[1], true)
		if err != nil {
			return nil, nil, err
		}
		no, nt, err := c.expr(argExprs[2], true)
		if err != nil {
			return nil, nil, err
		}
		if ct.kind != kBool || yt.kind != nt.kind || (yt.kind > kString && yt.kind != kList) {
			return nil, nil, fmt.Errorf("ternary types")
		}
		if yt.kind == kList && yt.elem == nil {
			yt = nt
		}
		return func(st *fastState) any {
			switch v := cond(st).(type) {
			case bool:
				if v {
					return yes(st)
				}
				return no(st)
			case *fastErr:
				return v
			}
			panic(fastBail{})
		}, yt, nil
	case operators.In:
		return c.in(argExprs)
	}

	args := make([]fastFn, len(argExprs))
	argTypes := make([]*fastType, len(argExprs))
	for i, a := range argExprs {
		f, t, err := c.expr(a, false)
		if err != nil {
			return nil, nil, err
		}
		args[i], argTypes[i] = f, t
	}
	kinds := make([]fastKind, len(argTypes))
	for i, t := range argTypes {
		kinds[i] = t.kind
	}
	member := call.IsMemberFunction()
	strings2 := binary(kinds, kString, kString)
	var a0, a1 fastFn
	a0 = args[0]
	if len(args) == 2 {
		a1 = args[1]
	}
	scalar := func(k fastKind) bool { return k == kBool || k == kInt || k == kString || k == kDuration }

	switch {
	case fn == operators.LogicalAnd || fn == operators.LogicalOr:
		if kinds[0] != kBool || kinds[1] != kBool {
			return nil, nil, fmt.Errorf("%s types", fn)
		}
		stop := fn == operators.LogicalOr // the value that decides
		return func(st *fastState) any {
			var err *fastErr
			for _, a := range [2]fastFn{a0, a1} {
				switch v := a(st).(type) {
				case bool:
					if v == stop {
						return stop
					}
				case *fastErr:
					if err == nil {
						err = v
					}
				}
			}
			if err != nil {
				return err
			}
			return !stop
		}, tBool, nil
	case fn == operators.LogicalNot && kinds[0] == kBool:
		return func(st *fastState) any {
			v := a0(st)
			st.cost++
			if b, ok := v.(bool); ok {
				return !b
			}
			return v
		}, tBool, nil
	case fn == operators.NotStrictlyFalse && kinds[0] == kBool:
		return func(st *fastState) any {
			v := a0(st)
			st.cost++
			if b, ok := v.(bool); ok {
				return b
			}
			return true
		}, tBool, nil
	case (fn == operators.Equals || fn == operators.NotEquals) && kinds[0] == kinds[1] && scalar(kinds[0]):
		ne := fn == operators.NotEquals
		return func(st *fastState) any {
			l, r := a0(st), a1(st)
			st.cost += traversal(min(actualSize(l), actualSize(r)), 0.1)
			if e := firstErr(l, r); e != nil {
				return e
			}
			return (l == r) != ne
		}, tBool, nil
	case (fn == operators.Less || fn == operators.LessEquals || fn == operators.Greater || fn == operators.GreaterEquals) &&
		kinds[0] == kinds[1] && (kinds[0] == kInt || kinds[0] == kString || kinds[0] == kDuration):
		return func(st *fastState) any {
			l, r := a0(st), a1(st)
			if kinds[0] == kString {
				st.cost += traversal(min(actualSize(l), actualSize(r)), 0.1)
			} else {
				st.cost++
			}
			if e := firstErr(l, r); e != nil {
				return e
			}
			var cmp int
			switch kinds[0] {
			case kInt:
				cmp = compare(l.(int64), r.(int64))
			case kDuration:
				cmp = compare(int64(l.(time.Duration)), int64(r.(time.Duration)))
			default:
				cmp = strings.Compare(l.(string), r.(string))
			}
			switch fn {
			case operators.Less:
				return cmp < 0
			case operators.LessEquals:
				return cmp <= 0
			case operators.Greater:
				return cmp > 0
			}
			return cmp >= 0
		}, tBool, nil
	case fn == operators.Add && kinds[0] == kInt && kinds[1] == kInt:
		return func(st *fastState) any {
			l, r := a0(st), a1(st)
			st.cost++
			if e := firstErr(l, r); e != nil {
				return e
			}
			x, y := l.(int64), r.(int64)
			if (y > 0 && x > math.MaxInt64-y) || (y < 0 && x < math.MinInt64-y) {
				return &fastErr{msg: "integer overflow"}
			}
			return x + y
		}, tInt, nil
	case fn == operators.Add && strings2:
		return func(st *fastState) any {
			l, r := a0(st), a1(st)
			st.cost += traversal(actualSize(l)+actualSize(r), 0.1)
			if e := firstErr(l, r); e != nil {
				return e
			}
			return l.(string) + r.(string)
		}, tString, nil
	case fn == operators.Add && kinds[0] == kList && kinds[1] == kList:
		t := argTypes[0]
		if t.elem == nil {
			t = argTypes[1]
		}
		return func(st *fastState) any {
			l, r := a0(st), a1(st)
			st.cost++
			if e := firstErr(l, r); e != nil {
				return e
			}
			x, y := l.([]any), r.([]any)
			out := make([]any, 0, len(x)+len(y))
			return append(append(out, x...), y...)
		}, t, nil
	case fn == "duration" && len(args) == 1 && kinds[0] == kString && !member:
		if argExprs[0].Kind() == ast.LiteralKind {
			// cel-go folds a conversion of a constant (OptOptimize).
			d, err := time.ParseDuration(string(argExprs[0].AsLiteral().(types.String)))
			if err != nil {
				return nil, nil, err
			}
			return func(*fastState) any { return d }, &fastType{kind: kDuration}, nil
		}
		return func(st *fastState) any {
			v := a0(st)
			st.cost++
			if e, isErr := v.(*fastErr); isErr {
				return e
			}
			d, err := time.ParseDuration(v.(string))
			if err != nil {
				return &fastErr{msg: "type conversion error from 'string' to 'google.protobuf.Duration'"}
			}
			return d
		}, &fastType{kind: kDuration}, nil
	case fn == "size" && len(args) == 1 && (kinds[0] == kString || kinds[0] == kList || kinds[0] == kMap):
		return func(st *fastState) any {
			v := a0(st)
			st.cost++
			if e, isErr := v.(*fastErr); isErr {
				return e
			}
			switch v := v.(type) {
			case string:
				return int64(stringSize(v))
			case []any:
				return int64(len(v))
			}
			return int64(len(v.(map[string]any)))
		}, tInt, nil
	case (fn == "startsWith" || fn == "endsWith") && member && strings2:
		has := strings.HasPrefix
		if fn == "endsWith" {
			has = strings.HasSuffix
		}
		return func(st *fastState) any {
			s, x := a0(st), a1(st)
			st.cost += traversal(actualSize(x), 0.1)
			if e := firstErr(s, x); e != nil {
				return e
			}
			return has(s.(string), x.(string))
		}, tBool, nil
	case fn == "contains" && member && strings2:
		return func(st *fastState) any {
			s, x := a0(st), a1(st)
			st.cost += traversal(actualSize(s), 0.1) * traversal(actualSize(x), 0.1)
			if e := firstErr(s, x); e != nil {
				return e
			}
			return strings.Contains(s.(string), x.(string))
		}, tBool, nil
	case fn == "matches" && strings2 && argExprs[1].Kind() == ast.LiteralKind:
		pattern := string(argExprs[1].AsLiteral().(types.String))
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, nil, err
		}
		regexCost := traversal(stringSize(pattern), 0.25) // common.RegexStringLengthCostFactor
		return func(st *fastState) any {
			s := a0(st)
			st.cost += traversal(1+actualSize(s), 0.1) * regexCost
			if e, isErr := s.(*fastErr); isErr {
				return e
			}
			return re.MatchString(s.(string))
		}, tBool, nil
	case fn == "substring" && member && binary(kinds, kString, kInt):
		return func(st *fastState) any {
			s, i := a0(st), a1(st)
			st.cost += traversal(actualSize(s), 0.1) // apiserver's library.CostEstimator
			if e := firstErr(s, i); e != nil {
				return e
			}
			str, start := s.(string), i.(int64)
			if !utf8.ValidString(str) {
				panic(fastBail{})
			}
			n := int64(stringSize(str))
			if start < 0 || start > n {
				return &fastErr{msg: fmt.Sprintf("index out of range: %d", start)}
			}
			if start == 0 {
				return str
			}
			for j := range str {
				if start == 0 {
					return str[j:]
				}
				start--
			}
			return ""
		}, tString, nil
	}
	return nil, nil, fmt.Errorf("function %s%v", fn, kinds)
}

// binary says whether kinds are a and b.
func binary(kinds []fastKind, a, b fastKind) bool {
	return len(kinds) == 2 && kinds[0] == a && kinds[1] == b
}

// in compiles x in [constants] (cel-go tests a set, at no cost).
func (c *fastCompiler) in(args []ast.Expr) (fastFn, *fastType, error) {
	x, xt, err := c.expr(args[0], false)
	if err != nil {
		return nil, nil, err
	}
	if xt.kind != kString {
		return nil, nil, fmt.Errorf("in of a %v", xt.kind)
	}
	if args[1].Kind() != ast.ListKind {
		// x in a list of the data: cel-go's InList, which costs the
		// list's size.
		l, lt, err := c.expr(args[1], false)
		if err != nil {
			return nil, nil, err
		}
		if lt.kind != kList || lt.elem == nil || lt.elem.kind != kString {
			return nil, nil, fmt.Errorf("in of a %v", lt.kind)
		}
		return func(st *fastState) any {
			v, list := x(st), l(st)
			st.cost += actualSize(list)
			if e := firstErr(v, list); e != nil {
				return e
			}
			for _, item := range list.([]any) {
				if lt.elem.conv(item) == v {
					return true
				}
			}
			return false
		}, tBool, nil
	}
	if len(args[1].AsList().OptionalIndices()) > 0 {
		return nil, nil, fmt.Errorf("in of a list with optional elements")
	}
	set := map[string]bool{}
	for _, el := range args[1].AsList().Elements() {
		s, ok := el.AsLiteral().(types.String)
		if el.Kind() != ast.LiteralKind || !ok {
			return nil, nil, fmt.Errorf("in of a list of non-strings")
		}
		set[string(s)] = true
	}
	if len(set) == 0 {
		return nil, nil, fmt.Errorf("in of an empty list")
	}
	return func(st *fastState) any {
		v := x(st)
		if e, isErr := v.(*fastErr); isErr {
			return e
		}
		return set[v.(string)]
	}, tBool, nil
}

func compare(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
