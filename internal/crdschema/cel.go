package crdschema

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	celgo "github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apiextensions-apiserver/pkg/features"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

// This file evaluates a CRD version's x-kubernetes-validations as
// apiextensions-apiserver's cel.Validator does on create (validation.go of
// k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel), with the same
// compiled programs (cel.Compile, the same environment, cost estimates and
// limits) and the same walk, budget and error messages. What differs:
//
//   - the rules the embedded CRDs use are evaluated by closures over the
//     unstructured object (celfast.go) with cel-go's results and costs;
//     cel-go's programs evaluate the others (testdata/cel-fallbacks.txt
//     lists them) and whatever the closures give up on;
//   - self is converted by common.UnstructuredToVal with a schema adaptor
//     whose Properties, Items and AdditionalProperties are built once per
//     CRD version (schemaNode) instead of on every field access, which
//     is most of the library's cost;
//   - there is no old object (berth validates creates): rules that use
//     oldSelf run only when optionalOldSelf is set (oldSelf is then
//     none), as the apiserver runs them on create; no ratcheting;
//   - a map's properties are visited in name order (the library's order is
//     Go's map order, so the order of its errors varies from run to run);
//   - no metrics and no klog line for a messageExpression that fails.
//
// The differential tests compare both on every fixture and on random and
// rule-targeted mutations, and every rule the closures evaluate with
// cel-go's program (value or error message, and cost).

// schemaNode is model.Structural (the library's common.Schema adaptor of a
// structural schema) with its children adapted once, so that reading a
// field of self costs a map lookup. It is read-only after construction and
// safe for concurrent use.
type schemaNode struct {
	*model.Structural
	props      map[string]common.Schema
	items      common.Schema
	additional common.SchemaOrBool
	typed      common.Schema // WithTypeAndObjectMeta of an embedded resource
}

type schemaOrBool struct {
	schema common.Schema
	allows bool
}

func (s *schemaOrBool) Schema() common.Schema { return s.schema }
func (s *schemaOrBool) Allows() bool          { return s.allows }

// newSchemaNode adapts s and every schema under it.
func newSchemaNode(s *structuralschema.Structural) *schemaNode {
	n := &schemaNode{Structural: &model.Structural{Structural: s}}
	if s.Properties != nil {
		n.props = make(map[string]common.Schema, len(s.Properties))
		for name, prop := range s.Properties {
			n.props[name] = newSchemaNode(&prop)
		}
	}
	if s.Items != nil {
		n.items = newSchemaNode(s.Items)
	}
	if a := s.AdditionalProperties; a != nil {
		sb := &schemaOrBool{allows: a.Bool}
		if a.Structural != nil {
			sb.schema = newSchemaNode(a.Structural)
		}
		n.additional = sb
	}
	if s.XEmbeddedResource {
		if t := model.WithTypeAndObjectMeta(s); t == s {
			n.typed = n
		} else {
			n.typed = newSchemaNode(t)
		}
	}
	return n
}

func (n *schemaNode) Properties() map[string]common.Schema { return n.props }
func (n *schemaNode) Items() common.Schema                 { return n.items }
func (n *schemaNode) AdditionalProperties() common.SchemaOrBool {
	return n.additional
}

func (n *schemaNode) WithTypeAndObjectMeta() common.Schema {
	if n.typed != nil {
		return n.typed
	}
	return newSchemaNode(model.WithTypeAndObjectMeta(n.Structural.Structural))
}

// celNode holds the compiled rules of one schema node and the nodes under
// it that have rules, as the library's cel.Validator does.
type celNode struct {
	typ        string        // the node's schema type, as errors report it
	self       common.Schema // what self is converted with
	rules      []apiextensionsv1.ValidationRule
	compiled   []cel.CompilationResult
	compileErr error
	fast       []*fastRule // per rule: its closures (celfast.go), nil: cel-go's program
	fastWhy    []string    // per rule without closures: why
	fastSelf   *fastType   // self's type for the closures
	fastVars   int         // the most variable slots a rule's closures use

	items      *celNode
	additional *celNode
	props      []celProp // in name order
	allOf      []*celNode
}

type celProp struct {
	name string
	node *celNode
}

// compileCEL compiles the x-kubernetes-validations of s, the structural
// schema of a resource, as cel.NewValidator(s, true, perCallLimit) does.
// It is nil when s has none.
func compileCEL(s *structuralschema.Structural, perCallLimit uint64) *celNode {
	if !hasRules(s) {
		return nil
	}
	c := celCompiler{
		perCallLimit: perCallLimit,
		envSet:       environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()),
		loader:       cel.StoredExpressionsEnvLoader(),
		parsed:       map[string]*celgo.Ast{},
	}
	return c.node(s, s, newSchemaNode(s), true, model.SchemaDeclType(s, true))
}

type celCompiler struct {
	perCallLimit uint64
	envSet       *environment.EnvSet
	loader       cel.EnvLoader
	parsed       map[string]*celgo.Ast // the rules parsed for closures, by text
}

// compileFast compiles n's rules to closures where it can.
func (c celCompiler) compileFast(n *celNode, s *structuralschema.Structural, resourceRoot bool) {
	if len(n.compiled) == 0 {
		return
	}
	n.fast = make([]*fastRule, len(n.compiled))
	n.fastWhy = make([]string, len(n.compiled))
	for i, compiled := range n.compiled {
		if compiled.Program == nil || compiled.Error != nil {
			continue // compiled.Error is reported as the library reports it
		}
		if compiled.UsesOldSelf {
			n.fastWhy[i] = "oldSelf"
			continue
		}
		parsed := c.parsed[n.rules[i].Rule]
		if parsed == nil {
			var iss *celgo.Issues
			if parsed, iss = c.envSet.StoredExpressionsEnv().Parse(n.rules[i].Rule); iss.Err() != nil {
				n.fastWhy[i] = iss.Err().Error()
				continue
			}
			c.parsed[n.rules[i].Rule] = parsed
		}
		fr, self, err := compileFast(parsed, s, resourceRoot, c.perCallLimit)
		if err != nil {
			n.fastWhy[i] = err.Error()
			continue
		}
		n.fast[i], n.fastSelf, n.fastVars = fr, self, max(n.fastVars, fr.vars)
	}
}

// node mirrors the library's validator(): rules is the schema whose
// x-kubernetes-validations apply (an allOf branch or the node itself), s
// the node's structural schema and adapted its adaptor.
func (c celCompiler) node(rules, s *structuralschema.Structural, adapted *schemaNode, resourceRoot bool, declType *apiservercel.DeclType) *celNode {
	withRules := *s
	withRules.XValidations = rules.XValidations
	compiled, err := cel.Compile(&withRules, declType, c.perCallLimit, c.envSet, c.loader)

	n := &celNode{typ: s.Type, self: adapted, rules: rules.XValidations, compiled: compiled, compileErr: err}
	if resourceRoot {
		n.self = adapted.WithTypeAndObjectMeta()
	}
	c.compileFast(n, s, resourceRoot)
	var elemType *apiservercel.DeclType
	if declType != nil {
		elemType = declType.ElemType
	}
	if rules.Items != nil && s.Items != nil {
		n.items = c.node(rules.Items, s.Items, adapted.items.(*schemaNode), s.Items.XEmbeddedResource, elemType)
	}
	names := make([]string, 0, len(rules.Properties))
	for name := range rules.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prop, ok := s.Properties[name]
		if !ok {
			continue // only the structural spine has value validations
		}
		var fieldType *apiservercel.DeclType
		if escaped, ok := apiservercel.Escape(name); ok {
			if declType == nil {
				continue
			}
			f, ok := declType.Fields[escaped]
			if !ok {
				continue // fields of unknown types are not validated
			}
			fieldType = f.Type
		} else if fieldType = model.SchemaDeclType(&prop, prop.XEmbeddedResource); fieldType == nil {
			continue
		}
		ruleProp := rules.Properties[name]
		if p := c.node(&ruleProp, &prop, adapted.props[name].(*schemaNode), prop.XEmbeddedResource, fieldType); p != nil {
			n.props = append(n.props, celProp{name: name, node: p})
		}
	}
	if ra, sa := rules.AdditionalProperties, s.AdditionalProperties; ra != nil && ra.Structural != nil && sa != nil && sa.Structural != nil {
		n.additional = c.node(ra.Structural, sa.Structural, adapted.additional.Schema().(*schemaNode), sa.Structural.XEmbeddedResource, elemType)
	}
	if rules.ValueValidation != nil {
		for i := range rules.ValueValidation.AllOf {
			if a := c.node(nestedToStructural(&rules.ValueValidation.AllOf[i]), s, adapted, resourceRoot, declType); a != nil {
				n.allOf = append(n.allOf, a)
			}
		}
	}
	if len(compiled) == 0 && err == nil && n.items == nil && n.additional == nil && n.props == nil && n.allOf == nil {
		return nil
	}
	return n
}

// nestedToStructural is the library's conversion of an allOf branch.
func nestedToStructural(nested *structuralschema.NestedValueValidation) *structuralschema.Structural {
	if nested == nil {
		return nil
	}
	s := &structuralschema.Structural{
		ValueValidation:      &nested.ValueValidation,
		ValidationExtensions: nested.ValidationExtensions,
		Generic:              nested.ForbiddenGenerics,
		Extensions:           nested.ForbiddenExtensions,
		Items:                nestedToStructural(nested.Items),
	}
	if len(nested.Properties) > 0 {
		s.Properties = make(map[string]structuralschema.Structural, len(nested.Properties))
		for k, v := range nested.Properties {
			s.Properties[k] = *nestedToStructural(&v)
		}
	}
	if nested.AdditionalProperties != nil {
		s.AdditionalProperties = &structuralschema.StructuralOrBool{Structural: nestedToStructural(nested.AdditionalProperties)}
	}
	return s
}

func hasRules(s *structuralschema.Structural) bool {
	if s == nil {
		return false
	}
	if len(s.XValidations) > 0 || hasRules(s.Items) {
		return true
	}
	if s.AdditionalProperties != nil && hasRules(s.AdditionalProperties.Structural) {
		return true
	}
	for _, p := range s.Properties {
		if hasRules(&p) {
			return true
		}
	}
	return false
}

// validate evaluates the rules of n and under it on obj with the cost
// budget left, as the library's Validator.validate does without an old
// object; the budget is negative once it ran out.
func (n *celNode) validate(path *field.Path, obj any, budget int64) (field.ErrorList, int64) {
	return n.validateChecked(path, obj, budget, nil)
}

// celWalk is the state of one validate: the path of the node being
// validated, made a *field.Path only for an error, and the closures'
// state, shared by every rule.
type celWalk struct {
	root *field.Path
	segs []pathSeg
	st   fastState
	chk  fastChecker
}

// pathSeg is a property (pathChild), a map's key (pathKey) or an item
// (pathIndex).
type pathSeg struct {
	name  string
	index int
	kind  uint8
}

const (
	pathChild = iota
	pathKey
	pathIndex
)

func (w *celWalk) path() *field.Path {
	p := w.root
	for _, s := range w.segs {
		switch s.kind {
		case pathChild:
			p = p.Child(s.name)
		case pathKey:
			p = p.Key(s.name)
		default:
			p = p.Index(s.index)
		}
	}
	return p
}

// validateChecked is validate that, with chk, also evaluates every rule
// the closures evaluate with cel-go's program and records both.
func (n *celNode) validateChecked(path *field.Path, obj any, budget int64, chk fastChecker) (field.ErrorList, int64) {
	return n.walk(&celWalk{root: path, chk: chk}, obj, budget)
}

func (n *celNode) walk(w *celWalk, obj any, budget int64) (field.ErrorList, int64) {
	if n == nil || obj == nil {
		return nil, budget
	}
	errs, budget := n.expressions(w, obj, budget)
	if budget < 0 {
		return errs, budget
	}
	for _, a := range n.allOf {
		var more field.ErrorList
		more, budget = a.walk(w, obj, budget)
		errs = append(errs, more...)
		if budget < 0 {
			return errs, budget
		}
	}
	switch obj := obj.(type) {
	case []any:
		if n.items == nil {
			return errs, budget
		}
		for i, item := range obj {
			var more field.ErrorList
			w.segs = append(w.segs, pathSeg{index: i, kind: pathIndex})
			more, budget = n.items.walk(w, item, budget)
			w.segs = w.segs[:len(w.segs)-1]
			errs = append(errs, more...)
			if budget < 0 {
				return errs, budget
			}
		}
	case map[string]any:
		if n.additional != nil {
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				var more field.ErrorList
				w.segs = append(w.segs, pathSeg{name: k, kind: pathKey})
				more, budget = n.additional.walk(w, obj[k], budget)
				w.segs = w.segs[:len(w.segs)-1]
				errs = append(errs, more...)
				if budget < 0 {
					return errs, budget
				}
			}
		}
		for _, p := range n.props {
			v, ok := obj[p.name]
			if !ok {
				continue
			}
			var more field.ErrorList
			w.segs = append(w.segs, pathSeg{name: p.name, kind: pathChild})
			more, budget = p.node.walk(w, v, budget)
			w.segs = w.segs[:len(w.segs)-1]
			errs = append(errs, more...)
			if budget < 0 {
				return errs, budget
			}
		}
	}
	return errs, budget
}

// expressions evaluates n's own rules on obj (validateExpressions).
func (n *celNode) expressions(w *celWalk, obj any, budget int64) (errs field.ErrorList, _ int64) {
	var fieldPath *field.Path
	path := func() *field.Path {
		if fieldPath == nil {
			fieldPath = w.path()
		}
		return fieldPath
	}
	if n.compileErr != nil {
		return field.ErrorList{field.Invalid(path(), n.typ, fmt.Sprintf("rule compiler initialization error: %v", n.compileErr))}, budget
	}
	if len(n.compiled) == 0 {
		return nil, budget
	}
	if budget <= 0 {
		return field.ErrorList{field.Invalid(path(), n.typ, "validation failed due to running out of cost budget, no further validation rules will be run")}, -1
	}
	// The activations of cel-go's programs, made when one runs.
	var self, optional *activation
	activations := func() {
		if self == nil {
			self = &activation{self: common.UnstructuredToVal(obj, n.self)}
			// Without an old object, a rule that may use oldSelf sees it as none.
			optional = &activation{self: self.self, hasOldSelf: true, oldSelf: types.OptionalNone}
		}
	}
	ratcheting := utilfeature.DefaultFeatureGate.Enabled(features.CRDValidationRatcheting)
	for i, compiled := range n.compiled {
		rule := n.rules[i]
		if compiled.Error != nil {
			errs = append(errs, field.Invalid(path(), n.typ, fmt.Sprintf("rule compile error: %v", compiled.Error)))
			continue
		}
		if compiled.Program == nil {
			continue // an empty rule
		}
		optionalOldSelf := rule.OptionalOldSelf != nil && *rule.OptionalOldSelf
		if compiled.UsesOldSelf && (!ratcheting || !optionalOldSelf) {
			continue // a transition rule: not run on create
		}
		var (
			passed bool
			cost   uint64
			err    error
			fast   bool
		)
		if fr := n.fast[i]; fr != nil && !optionalOldSelf {
			if len(w.st.vars) < n.fastVars {
				w.st.vars = make([]any, n.fastVars)
			}
			var res any
			if res, cost, fast = fr.eval(&w.st, obj, n.fastSelf); fast {
				switch res := res.(type) {
				case bool:
					passed = res
				case *fastErr:
					err = res
				}
			}
			if w.chk != nil {
				activations()
				w.chk(n, i, self, res, cost, fast)
			}
		}
		if !fast {
			activations()
			act := self
			if optionalOldSelf {
				act = optional
			}
			result, details, evalErr := compiled.Program.ContextEval(context.Background(), act)
			if details == nil {
				return append(errs, field.InternalError(path(), fmt.Errorf("runtime cost could not be calculated for validation rule: %v, no further validation rules will be run", ruleErrorString(rule)))), -1
			}
			actual := details.ActualCost()
			if actual == nil {
				return append(errs, field.Invalid(path(), n.typ, fmt.Sprintf("runtime cost could not be calculated for validation rule: %v, no further validation rules will be run", ruleErrorString(rule)))), -1
			}
			passed, cost, err = result == types.True, *actual, evalErr
		}
		if cost > math.MaxInt64 || int64(cost) > budget {
			return append(errs, field.Invalid(path(), n.typ, "validation failed due to running out of cost budget, no further validation rules will be run")), -1
		}
		budget -= int64(cost)
		if err != nil {
			switch {
			case strings.HasPrefix(err.Error(), "no such overload"):
				errs = append(errs, field.Invalid(path(), n.typ, fmt.Sprintf("'%v': call arguments did not match a supported operator, function or macro signature for rule: %v", err, ruleErrorString(rule))))
			case strings.HasPrefix(err.Error(), "operation cancelled: actual cost limit exceeded"):
				return append(errs, field.Invalid(path(), n.typ, fmt.Sprintf("'%v': no further validation rules will be run due to call cost exceeds limit for rule: %v", err, ruleErrorString(rule)))), -1
			default:
				errs = append(errs, field.Invalid(path(), n.typ, fmt.Sprintf("%v evaluating rule: %v", err, ruleErrorString(rule))))
			}
			continue
		}
		if passed {
			continue
		}

		rulePath := path()
		if compiled.NormalizedRuleFieldPath != "" {
			rulePath = rulePath.Child(compiled.NormalizedRuleFieldPath)
		}
		detail, ok := "", false
		if compiled.MessageExpression != nil {
			// As the library: the message sees the rule's self but never
			// an optional oldSelf.
			activations()
			msg, left, msgErr := evalMessageExpression(compiled.MessageExpression, rule.MessageExpression, self, budget)
			switch {
			case msgErr == nil:
				detail, ok, budget = msg, true, left
			case msgErr.Type == apiservercel.ErrorTypeInternal:
				return append(errs, field.InternalError(rulePath, msgErr)), -1
			case msgErr.Type == apiservercel.ErrorTypeInvalid:
				return append(errs, field.Invalid(rulePath, n.typ, msgErr.Error())), -1
			default:
				budget = left
			}
		}
		if !ok {
			detail = ruleMessageOrDefault(rule)
		}
		value := obj
		if n.typ == "object" || n.typ == "array" {
			value = field.OmitValueType{}
		}
		errs = append(errs, fieldErrorForReason(rulePath, value, detail, rule.Reason))
	}
	return errs, budget
}

// fastChecker is called for every rule that has closures, with what they
// gave (ok false: they gave up), for the differential tests.
type fastChecker func(n *celNode, rule int, act *activation, result any, cost uint64, ok bool)

// activation resolves self and oldSelf (the library's validationActivation).
type activation struct {
	self, oldSelf any
	hasOldSelf    bool
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case cel.ScopedVarName:
		return a.self, true
	case cel.OldScopedVarName:
		return a.oldSelf, a.hasOldSelf
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// evalMessageExpression is the library's: the message, the budget left,
// or why there is none.
func evalMessageExpression(expr celgo.Program, src string, act interpreter.Activation, budget int64) (string, int64, *apiservercel.Error) {
	result, details, err := expr.ContextEval(context.Background(), act)
	if details == nil || details.ActualCost() == nil {
		return "", -1, &apiservercel.Error{Type: apiservercel.ErrorTypeInternal, Detail: fmt.Sprintf("runtime cost could not be calculated for messageExpression: %q", src)}
	}
	cost := *details.ActualCost()
	if cost > math.MaxInt64 || int64(cost) > budget {
		return "", -1, &apiservercel.Error{Type: apiservercel.ErrorTypeInvalid, Detail: "messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run"}
	}
	left := budget - int64(cost)
	if err != nil {
		if strings.HasPrefix(err.Error(), "operation cancelled: actual cost limit exceeded") {
			return "", -1, &apiservercel.Error{Type: apiservercel.ErrorTypeInvalid, Detail: fmt.Sprintf("no further validation rules will be run due to call cost exceeds limit for messageExpression: %q", src)}
		}
		return "", left, &apiservercel.Error{Detail: fmt.Sprintf("messageExpression evaluation failed due to: %v", err.Error())}
	}
	msg, ok := result.Value().(string)
	if !ok {
		return "", left, &apiservercel.Error{Detail: "messageExpression failed to convert to string"}
	}
	msg = strings.TrimSpace(msg)
	switch {
	case len(msg) > celconfig.MaxEvaluatedMessageExpressionSizeBytes:
		return "", left, &apiservercel.Error{Detail: fmt.Sprintf("messageExpression beyond allowable length of %d", celconfig.MaxEvaluatedMessageExpressionSizeBytes)}
	case strings.Contains(msg, "\n"):
		return "", left, &apiservercel.Error{Detail: "messageExpression should not contain line breaks"}
	case msg == "":
		return "", left, &apiservercel.Error{Detail: "messageExpression should evaluate to a non-empty string"}
	}
	return msg, left, nil
}

func fieldErrorForReason(path *field.Path, value any, detail string, reason *apiextensionsv1.FieldValueErrorReason) *field.Error {
	if reason == nil {
		return field.Invalid(path, value, detail)
	}
	switch *reason {
	case apiextensionsv1.FieldValueForbidden:
		return field.Forbidden(path, detail)
	case apiextensionsv1.FieldValueRequired:
		return field.Required(path, detail)
	case apiextensionsv1.FieldValueDuplicate:
		return field.Duplicate(path, value)
	}
	return field.Invalid(path, value, detail)
}

func ruleMessageOrDefault(rule apiextensionsv1.ValidationRule) string {
	if rule.Message == "" {
		return "failed rule: " + ruleErrorString(rule)
	}
	return strings.TrimSpace(rule.Message)
}

func ruleErrorString(rule apiextensionsv1.ValidationRule) string {
	if rule.Message != "" {
		return strings.TrimSpace(rule.Message)
	}
	return strings.TrimSpace(rule.Rule)
}
