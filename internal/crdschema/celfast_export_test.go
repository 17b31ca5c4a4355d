package crdschema

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// RuleCheck is what CompareCELRules saw of the rules compiled to closures:
// how many the closures evaluated, how many they gave up on (cel-go's
// program ran instead), and every rule where the closures' result (value
// or error message) or cost differs from cel-go's program on the same self.
type RuleCheck struct {
	Fast, Bails int
	Diffs       []string
}

// CompareCELRules is CompareCEL that also evaluates every rule the
// closures evaluate with cel-go's program, comparing result and cost.
func (v *Validator) CompareCELRules(obj map[string]any, budget int64) (ours, ref field.ErrorList, oursLeft, refLeft int64, check RuleCheck, ok bool) {
	ver, _, _ := v.check(obj)
	if ver == nil || ver.cel == nil {
		return nil, nil, 0, 0, check, false
	}
	chk := func(n *celNode, i int, act *activation, res any, cost uint64, fast bool) {
		if !fast {
			check.Bails++
			return
		}
		check.Fast++
		want := ""
		var wantCost uint64
		// A comprehension over a map stops at the first failing key in
		// Go's map order: accept a cost that one of cel-go's runs gives.
		for range 100 {
			result, details, err := n.compiled[i].Program.ContextEval(context.Background(), act)
			wantCost = *details.ActualCost()
			if err != nil {
				want = "error: " + err.Error()
			} else {
				want = fmt.Sprint(result == types.True)
			}
			if wantCost == cost {
				break
			}
		}
		got := fmt.Sprint(res)
		if e, isErr := res.(*fastErr); isErr {
			got = "error: " + e.msg
		}
		if got != want || cost != wantCost {
			check.Diffs = append(check.Diffs, fmt.Sprintf("rule %q: closures %s (cost %d), cel-go %s (cost %d)", n.rules[i].Rule, got, cost, want, wantCost))
		}
	}
	ours, oursLeft = ver.cel.validateChecked(nil, obj, budget, chk)
	ref, refLeft = reference(ver).Validate(context.Background(), nil, ver.structural, obj, nil, budget)
	return ours, ref, oursLeft, refLeft, check, true
}

// CELFallbacks lists the rules of every served version of every kind of v
// that run on cel-go's program, not on closures, and why: one line each,
// sorted.
func (v *Validator) CELFallbacks() ([]string, error) {
	var out []string
	for _, gk := range v.Kinds() {
		for _, name := range v.ServedVersions(gk) {
			if _, err := v.StructuralOf(gk.WithVersion(name)); err != nil {
				return nil, err
			}
			ver := v.kinds[gk].versions[name]
			seen := map[string]bool{}
			eachNode(ver.cel, func(n *celNode) {
				for i, why := range n.fastWhy {
					if n.fast[i] == nil && why != "" {
						line := fmt.Sprintf("%s %s: %s: %s", gk.WithVersion(name).GroupVersion(), gk.Kind, why, n.rules[i].Rule)
						if !seen[line] {
							seen[line] = true
							out = append(out, line)
						}
					}
				}
			})
		}
	}
	sort.Strings(out)
	return out, nil
}

// CELRuleCount is the number of rules of gvk's schema and how many have
// closures.
func (v *Validator) CELRuleCount(gvk schema.GroupVersionKind) (rules, fast int, err error) {
	if _, err := v.StructuralOf(gvk); err != nil {
		return 0, 0, err
	}
	eachNode(v.kinds[gvk.GroupKind()].versions[gvk.Version].cel, func(n *celNode) {
		for i := range n.compiled {
			rules++
			if n.fast[i] != nil {
				fast++
			}
		}
	})
	return rules, fast, nil
}

// CELOnly prepares obj as Validate does and returns what evaluates only
// its CEL rules: with the closures, or (closures false) every rule on
// cel-go's program as before them.
func (v *Validator) CELOnly(obj map[string]any, closures bool) (func() field.ErrorList, error) {
	ver, errs, _ := v.check(obj)
	if ver == nil || ver.cel == nil {
		return nil, fmt.Errorf("no CEL rules: %v", errs)
	}
	root := ver.cel
	if !closures {
		root = compileCEL(ver.structural, celconfig.PerCallLimit)
		eachNode(root, func(n *celNode) { n.fast = make([]*fastRule, len(n.compiled)) })
	}
	return func() field.ErrorList {
		errs, _ := root.validate(nil, obj, celconfig.RuntimeCELCostBudget)
		return errs
	}, nil
}

// eachNode calls fn on n and every node under it.
func eachNode(n *celNode, fn func(*celNode)) {
	if n == nil {
		return
	}
	fn(n)
	eachNode(n.items, fn)
	eachNode(n.additional, fn)
	for _, p := range n.props {
		eachNode(p.node, fn)
	}
	for _, a := range n.allOf {
		eachNode(a, fn)
	}
}
