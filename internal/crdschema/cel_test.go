package crdschema_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/crdschema"
	"github.com/berth-gateway/berth/internal/golden"
)

// fixtureDirs hold the repository's example and test inputs (relative to
// this package); ../shared/seed is read when present.
var fixtureDirs = []string{"../../examples", "../../render/testdata", "../../xds/translate/testdata",
	"../../internal/cli/testdata", "../../internal/manifest/testdata", "../../../shared/seed"}

// decodeYAML decodes each document of a YAML stream as the apiserver
// decodes JSON (int64 integers).
func decodeYAML(r io.Reader) ([]map[string]any, error) {
	var out []map[string]any
	rd := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		obj := map[string]any{}
		if err := utiljson.Unmarshal(js, &obj); err != nil || len(obj) == 0 {
			continue // not an object (a comment, a scalar, a Helm value list)
		}
		out = append(out, obj)
	}
}

// fixtures are the objects of a CRD kind of the repository's inputs and of
// the Validate table, by name.
func fixtures(t testing.TB, v *crdschema.Validator) (names []string, objs map[string]map[string]any) {
	t.Helper()
	objs = map[string]map[string]any{}
	add := func(name string, docs []map[string]any) {
		for i, obj := range docs {
			gv, _ := schema.ParseGroupVersion(fmt.Sprint(obj["apiVersion"]))
			if !v.Has(gv.WithKind(fmt.Sprint(obj["kind"])).GroupKind()) {
				continue
			}
			n := fmt.Sprintf("%s#%d", name, i)
			names = append(names, n)
			objs[n] = obj
		}
	}
	for _, dir := range fixtureDirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fs.SkipDir
				}
				return err
			}
			if d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			docs, err := decodeYAML(f)
			if err != nil {
				return nil // not YAML objects (a template, a golden output)
			}
			add(path, docs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range validateCases {
		docs, err := decodeYAML(strings.NewReader(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		add("validateCases/"+tc.name, docs)
	}
	return names, objs
}

// sameCEL evaluates obj's CEL rules with berth's evaluator and with the
// library's and fails unless both give the same errors (each field by
// field, in the same order once sorted: the library's order is Go's map
// order) and leave the same budget. It returns berth's errors.
func sameCEL(t testing.TB, v *crdschema.Validator, name string, obj map[string]any, budget int64) field.ErrorList {
	t.Helper()
	ours, ref, oursLeft, refLeft, check, ok := v.CompareCELRules(runtime.DeepCopyJSON(obj), budget)
	if !ok {
		return nil
	}
	ruleChecks.Fast += check.Fast
	ruleChecks.Bails += check.Bails
	for _, d := range check.Diffs {
		t.Errorf("%s: %s", name, d)
	}
	a, b := dump(ours), dump(ref)
	// A rule that iterates over a map (self.all(k, ...) on labels) stops
	// at the first failing key, in Go's map order: the library's cost,
	// not its verdict, varies from run to run. Accept a budget left that
	// one of its runs gives.
	for i := 0; a == b && oursLeft != refLeft && i < 100; i++ {
		_, _, _, refLeft, _ = v.CompareCEL(runtime.DeepCopyJSON(obj), budget)
	}
	if a != b {
		js, _ := utiljson.Marshal(obj)
		t.Errorf("%s: berth's CEL errors differ from apiextensions-apiserver's\nberth:\n%s\nlibrary:\n%s\nobject: %s", name, a, b, js)
	} else if oursLeft != refLeft {
		t.Errorf("%s: budget left %d, the library's %d", name, oursLeft, refLeft)
	}
	return ours
}

// ruleChecks adds up what sameCEL saw of the rules compiled to closures.
var ruleChecks crdschema.RuleCheck

// dump is every field of every error, one a line, sorted.
func dump(errs field.ErrorList) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = fmt.Sprintf("%#v | %s", *e, e.Error())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestCELSameAsApiserverOnFixtures(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	names, objs := fixtures(t, v)
	if len(names) < 20 {
		t.Fatalf("only %d fixture objects found", len(names))
	}
	failed := 0
	for _, name := range names {
		if len(sameCEL(t, v, name, objs[name], celconfig.RuntimeCELCostBudget)) > 0 {
			failed++
		}
	}
	t.Logf("%d fixture objects, %d with CEL errors", len(names), failed)
	if failed == 0 {
		t.Error("no fixture object fails a CEL rule: the comparison covers no error path")
	}
}

// generator draws random values of a schema: enum values, the literals of
// the CRD's rules and a few edge values, so that rules fail as often as
// they pass.
type generator struct {
	seed    uint64
	r       *rand.Rand
	strings []string
	ints    []int64
	// wrongTypes: a mutation sometimes sets a value of another type than
	// the schema's (or null), as a user's mistake would.
	wrongTypes bool
}

// wrongValue is a value of a random JSON type, or null.
func (g *generator) wrongValue() any {
	switch g.r.IntN(7) {
	case 0:
		return nil
	case 1:
		return g.strings[g.r.IntN(len(g.strings))]
	case 2:
		return g.ints[g.r.IntN(len(g.ints))]
	case 3:
		return float64(g.ints[g.r.IntN(len(g.ints))]) + 0.5
	case 4:
		return g.r.IntN(2) == 0
	case 5:
		return []any{g.strings[g.r.IntN(len(g.strings))]}
	}
	return map[string]any{"type": g.strings[g.r.IntN(len(g.strings))]}
}

var (
	quoted  = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"`)
	numbers = regexp.MustCompile(`\b\d+\b`)
)

func newGenerator(seed uint64, s *structuralschema.Structural) *generator {
	g := &generator{seed: seed, r: rand.New(rand.NewPCG(seed, 16)),
		strings: []string{"", "a", "x", "/", "/a", "/a/b", "a.example.com", "*.example.com", "A_B", "1", "a b", "HTTP", "TLS", "default", "*", "GET", "10.0.0.1", "a/b", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "a/b"},
		ints:    []int64{0, 1, -1, 80, 443, 65535, 65536}}
	seen := map[string]bool{}
	var walk func(*structuralschema.Structural)
	walk = func(s *structuralschema.Structural) {
		if s == nil {
			return
		}
		for _, r := range s.XValidations {
			for _, m := range quoted.FindAllStringSubmatch(r.Rule, -1) {
				lit := m[1] + m[2]
				if !seen[lit] && !strings.Contains(lit, `\`) {
					seen[lit] = true
					g.strings = append(g.strings, lit)
				}
			}
			for _, m := range numbers.FindAllString(r.Rule, -1) {
				if n, err := strconv.ParseInt(m, 10, 64); err == nil && !seen["#"+m] {
					seen["#"+m] = true
					g.ints = append(g.ints, n, n+1)
				}
			}
		}
		walk(s.Items)
		if s.AdditionalProperties != nil {
			walk(s.AdditionalProperties.Structural)
		}
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := s.Properties[n]
			walk(&p)
		}
	}
	walk(s)
	return g
}

func (g *generator) value(s *structuralschema.Structural, depth int) any {
	if s.ValueValidation != nil && len(s.ValueValidation.Enum) > 0 && g.r.IntN(8) > 0 {
		return runtime.DeepCopyJSONValue(s.ValueValidation.Enum[g.r.IntN(len(s.ValueValidation.Enum))].Object)
	}
	if s.XIntOrString {
		if g.r.IntN(2) == 0 {
			return g.ints[g.r.IntN(len(g.ints))]
		}
		return g.strings[g.r.IntN(len(g.strings))]
	}
	switch s.Type {
	case "object":
		m := map[string]any{}
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		var required map[string]bool
		if s.ValueValidation != nil {
			required = map[string]bool{}
			for _, n := range s.ValueValidation.Required {
				required[n] = true
			}
		}
		for _, n := range names {
			if required[n] || (depth < 7 && g.r.IntN(3) == 0) {
				p := s.Properties[n]
				m[n] = g.value(&p, depth+1)
			}
		}
		if a := s.AdditionalProperties; a != nil && a.Structural != nil && depth < 7 {
			for range g.r.IntN(3) {
				m[g.strings[g.r.IntN(len(g.strings))]] = g.value(a.Structural, depth+1)
			}
		}
		return m
	case "array":
		var l []any
		if s.Items != nil && depth < 7 {
			for range g.r.IntN(4) {
				l = append(l, g.value(s.Items, depth+1))
			}
			if len(l) > 0 && g.r.IntN(4) == 0 { // for the uniqueness rules
				l = append(l, runtime.DeepCopyJSONValue(l[0]))
			}
		}
		if l == nil {
			l = []any{}
		}
		return l
	case "string":
		return g.strings[g.r.IntN(len(g.strings))]
	case "integer":
		return g.ints[g.r.IntN(len(g.ints))]
	case "number":
		return float64(g.ints[g.r.IntN(len(g.ints))]) / 2
	case "boolean":
		return g.r.IntN(2) == 0
	}
	return map[string]any{}
}

// mutate replaces (or, for a property, deletes) one random node of obj
// with a random value of its schema.
func (g *generator) mutate(obj map[string]any, s *structuralschema.Structural) {
	type site struct {
		set    func(any)
		del    func()
		schema *structuralschema.Structural
	}
	var sites []site
	var walk func(v any, s *structuralschema.Structural, set func(any))
	walk = func(v any, s *structuralschema.Structural, set func(any)) {
		sites = append(sites, site{set: set, schema: s})
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys) // a seeded run is the same run
			for _, k := range keys {
				c := v[k]
				var cs *structuralschema.Structural
				if p, ok := s.Properties[k]; ok {
					cs = &p
				} else if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
					cs = s.AdditionalProperties.Structural
				}
				if cs == nil || k == "metadata" || k == "apiVersion" || k == "kind" {
					continue
				}
				walk(c, cs, func(n any) { v[k] = n })
				sites[len(sites)-1].del = func() { delete(v, k) }
			}
		case []any:
			if s.Items != nil {
				for i, c := range v {
					walk(c, s.Items, func(n any) { v[i] = n })
				}
			}
		}
	}
	walk(obj, s, nil)
	x := sites[g.r.IntN(len(sites))]
	switch {
	case x.set == nil: // the root
		spec := s.Properties["spec"]
		obj["spec"] = g.value(&spec, 1)
	case x.del != nil && g.r.IntN(4) == 0:
		x.del()
	case g.wrongTypes && g.r.IntN(4) == 0:
		x.set(g.wrongValue())
	default:
		x.set(g.value(x.schema, 3))
	}
}

// ruleMessages are the messages each rule of s gives when it fails, as
// the library words them.
func ruleMessages(s *structuralschema.Structural, out map[string]bool) {
	if s == nil {
		return
	}
	for _, r := range s.XValidations {
		if m := strings.TrimSpace(r.Message); m != "" {
			out[m] = true
		} else {
			out["failed rule: "+strings.TrimSpace(r.Rule)] = true
		}
	}
	ruleMessages(s.Items, out)
	if s.AdditionalProperties != nil {
		ruleMessages(s.AdditionalProperties.Structural, out)
	}
	for _, p := range s.Properties {
		ruleMessages(&p, out)
	}
}

// fixture is a fixture object and its name.
type fixture struct {
	name string
	obj  map[string]any
}

// eachServedVersion calls each with every served version of every kind of
// v, its structural schema and the fixtures of that kind and version.
func eachServedVersion(t *testing.T, v *crdschema.Validator, each func(gvk schema.GroupVersionKind, s *structuralschema.Structural, fixtures []fixture)) {
	t.Helper()
	names, objs := fixtures(t, v)
	for _, gk := range v.Kinds() {
		for _, ver := range v.ServedVersions(gk) {
			gvk := gk.WithVersion(ver)
			s, err := v.StructuralOf(gvk)
			if err != nil {
				t.Fatal(err)
			}
			var fxs []fixture
			for _, name := range names {
				if fx := objs[name]; fx["apiVersion"] == gvk.GroupVersion().String() && fx["kind"] == gvk.Kind {
					fxs = append(fxs, fixture{name, fx})
				}
			}
			each(gvk, s, fxs)
		}
	}
}

// object is a generated object of s, of kind gvk, with a name and namespace.
func (g *generator) object(s *structuralschema.Structural, gvk schema.GroupVersionKind) map[string]any {
	obj := g.value(s, 0).(map[string]any)
	obj["apiVersion"], obj["kind"] = gvk.GroupVersion().String(), gvk.Kind
	obj["metadata"] = map[string]any{"name": "n", "namespace": "ns"}
	return obj
}

// Random objects of every served version of every embedded kind, and
// random mutations of the fixtures, give the same CEL errors from berth's
// evaluator and the library's; most rules fail at least once.
func TestCELSameAsApiserverOnRandomObjects(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	n := 80
	if testing.Short() {
		n = 30
	}
	rules, failed := map[string]bool{}, map[string]bool{}
	eachServedVersion(t, v, func(gvk schema.GroupVersionKind, s *structuralschema.Structural, fixtures []fixture) {
		ruleMessages(s, rules)
		g := newGenerator(uint64(len(gvk.String())), s)
		record := func(errs field.ErrorList) {
			for _, e := range errs {
				failed[e.Detail] = true
			}
		}
		for i := range n {
			record(sameCEL(t, v, fmt.Sprintf("random %s #%d", gvk, i), g.object(s, gvk), celconfig.RuntimeCELCostBudget))
		}
		for _, fx := range fixtures {
			for i := range n / 3 {
				obj := runtime.DeepCopyJSON(fx.obj)
				for range 1 + g.r.IntN(3) {
					g.mutate(obj, s)
				}
				record(sameCEL(t, v, fmt.Sprintf("%s mutation #%d", fx.name, i), obj, celconfig.RuntimeCELCostBudget))
			}
		}
	})
	var missed []string
	for m := range rules {
		if !failed[m] {
			missed = append(missed, m)
		}
	}
	sort.Strings(missed)
	t.Logf("%d of %d rules failed at least once; never failed:\n%s", len(rules)-len(missed), len(rules), strings.Join(missed, "\n"))
	if len(rules)-len(missed) < len(rules)*2/3 {
		t.Errorf("only %d of %d rules failed at least once", len(rules)-len(missed), len(rules))
	}
}

// fuzzFixtures runs a fuzz target over the fixtures: each input picks a
// fixture of a served kind/version and hands run a copy of it, its
// structural schema and a generator seeded by the input; mutations is the
// input's count of changes to make (below maxMutations).
func fuzzFixtures(f *testing.F, maxMutations uint8, run func(t *testing.T, v *crdschema.Validator, name string, obj map[string]any, s *structuralschema.Structural, g *generator, mutations int)) {
	v, err := crdschema.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	names, objs := fixtures(f, v)
	schemas := map[string]*structuralschema.Structural{}
	for _, name := range names {
		obj := objs[name]
		gv, _ := schema.ParseGroupVersion(fmt.Sprint(obj["apiVersion"]))
		if s, err := v.StructuralOf(gv.WithKind(fmt.Sprint(obj["kind"]))); err == nil {
			schemas[name] = s
		}
	}
	for i := range 8 {
		f.Add(uint64(i), uint16(i*7), uint8(i)%maxMutations)
	}
	f.Fuzz(func(t *testing.T, seed uint64, which uint16, mutations uint8) {
		name := names[int(which)%len(names)]
		s := schemas[name]
		if s == nil {
			t.Skip("a version that is not served")
		}
		run(t, v, name, runtime.DeepCopyJSON(objs[name]), s, newGenerator(seed, s), 1+int(mutations%maxMutations))
	})
}

// FuzzCELSameAsApiserver compares both evaluators on random mutations of
// the fixtures: go test ./internal/crdschema -run XXX -fuzz FuzzCEL.
func FuzzCELSameAsApiserver(f *testing.F) {
	fuzzFixtures(f, 4, func(t *testing.T, v *crdschema.Validator, name string, obj map[string]any, s *structuralschema.Structural, g *generator, mutations int) {
		g.wrongTypes = g.seed%2 == 1
		for range mutations {
			g.mutate(obj, s)
		}
		sameCEL(t, v, name, obj, celconfig.RuntimeCELCostBudget)
	})
}

// A synthetic CRD exercises what the embedded CRDs do not use
// (messageExpression, reason, fieldPath, allOf, optionalOldSelf, maps,
// int-or-string, embedded resources, the per-call cost limit, the
// budget): both evaluators agree, and the errors are the expected ones.
func TestCELSameAsApiserverOnSyntheticCRD(t *testing.T) {
	v, err := crdschema.New(os.DirFS("testdata/synthetic"))
	if err != nil {
		t.Fatal(err)
	}
	const head = "apiVersion: test.berth.dev/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}\n"
	for _, tc := range []struct {
		name, doc string
		budget    int64
		want      []string
	}{
		{name: "valid", doc: head + "spec: {name: a, min: 1, max: 2, port: 8, tags: [a], labels: {a: v1}, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}}"},
		{name: "root rule", doc: strings.Replace(head, "name: w", "name: forbidden", 1) + "spec: {name: a}",
			want: []string{"<nil>: Invalid value: the name is forbidden"}},
		{name: "messageExpression", doc: head + "spec: {name: a, min: 3, max: 2}",
			want: []string{"spec: Invalid value: min 3 is above max 2"}},
		{name: "empty messageExpression falls back to message", doc: head + "spec: {name: a, mode: bad}",
			want: []string{"spec: Invalid value: mode must not be bad"}},
		{name: "messageExpression with a line break", doc: head + "spec: {name: a, mode: multiline}",
			want: []string{"spec: Invalid value: failed rule: !has(self.mode) || self.mode != 'multiline'"}},
		{name: "reason and fieldPath", doc: head + "spec: {name: x}",
			want: []string{"spec.name: Forbidden: name x is forbidden"}},
		{name: "reason required", doc: head + "spec: {min: 1}",
			want: []string{"spec: Required value: name is required"}},
		{name: "reason duplicate", doc: head + "spec: {name: a, tags: [a, b, c]}",
			want: []string{"spec: Duplicate value"}},
		{name: "allOf", doc: head + "spec: {name: a, min: -1}",
			want: []string{"spec: Invalid value: min must not be negative"}},
		{name: "optionalOldSelf runs on create, oldSelf is none", doc: head + "spec: {name: a, mode: optional}",
			want: []string{"spec: Invalid value: oldSelf is none"}},
		{name: "a messageExpression does not see an optional oldSelf", doc: head + "spec: {name: a, mode: oldmessage}",
			want: []string{"spec: Invalid value: the message expression could not see oldSelf"}},
		{name: "items", doc: head + "spec: {name: a, tags: [a, bad]}",
			want: []string{`spec.tags[1]: Invalid value: "bad": failed rule: self != 'bad'`}},
		{name: "additionalProperties", doc: head + "spec: {name: a, labels: {b: x, a: w}}",
			want: []string{`spec.labels[a]: Invalid value: "w": values start with v`, `spec.labels[b]: Invalid value: "x": values start with v`}},
		{name: "int-or-string: no such overload", doc: head + "spec: {name: a, port: http}",
			want: []string{"spec.port: Invalid value: \"\": 'no such overload': call arguments did not match a supported operator, function or macro signature for rule: port must be positive"}},
		{name: "embedded resource", doc: head + "spec: {name: a, template: {apiVersion: v1, kind: Secret, metadata: {name: a-long-name}}}",
			want: []string{"spec.template: Invalid value: only ConfigMaps", "spec.template: Invalid value: short names"}},
		{name: "per-call cost limit", doc: head + "spec: {name: a, costly: [" + strings.Repeat("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,", 40) + "]}",
			want: []string{"spec.costly: Invalid value: "}},
		{name: "budget runs out", doc: head + "spec: {name: a, min: 3, max: 2, tags: [bad, bad, bad]}", budget: 20,
			want: []string{"running out of cost budget, no further validation rules will be run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := decodeYAML(strings.NewReader(tc.doc))
			if err != nil || len(docs) != 1 {
				t.Fatal(docs, err)
			}
			budget := tc.budget
			if budget == 0 {
				budget = celconfig.RuntimeCELCostBudget
			}
			got := crdschema.FieldErrors(sameCEL(t, v, tc.name, docs[0], budget))
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("refused: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s\nlacks %s", got, w)
				}
			}
		})
	}
}

// Objects made to fail the rules the random objects rarely fail: both
// evaluators agree and the rule's message is among the errors.
func TestCELSameAsApiserverOnRuleFailures(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	gateway := "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: ns}\nspec:\n  gatewayClassName: c\n  listeners: [{name: a, port: 80, protocol: HTTP}]\n"
	manyMatches := ""
	for range 16 {
		manyMatches += "  - matches: [" + strings.Repeat("{path: {value: /a}},", 9) + "]\n"
	}
	exactRewrite := "  - matches: [{path: {type: Exact, value: /a}}]\n"
	for _, tc := range []struct{ doc, want string }{
		{gateway + "  addresses: [{type: Hostname, value: a.example}, {type: Hostname, value: a.example}]\n", "Hostname values must be unique"},
		{route + "  - filters: [{type: CORS, cors: {allowOrigins: ['*', 'https://a.example']}}]\n", "AllowOrigins cannot contain '*' alongside other origins"},
		{route + "  - filters: [{type: CORS, cors: {allowMethods: ['*', GET]}}]\n", "AllowMethods cannot contain '*' alongside other methods"},
		{route + "  - filters: [{type: CORS, cors: {allowHeaders: ['*', x-a]}}]\n", "AllowHeaders cannot contain '*' alongside other methods"},
		{route + "  - timeouts: {request: 1s, backendRequest: 2s}\n", "backendRequest timeout cannot be longer than request timeout"},
		{route + "  - timeouts: {request: 1x, backendRequest: 2s}\n", "type conversion error from 'string' to 'google.protobuf.Duration' evaluating rule: backendRequest timeout"},
		{route + exactRewrite + "    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]\n",
			"When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"},
		{route + exactRewrite + "    backendRefs: [{name: a, port: 80, filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]\n",
			"Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"},
		{route + exactRewrite + "    backendRefs: [{name: a, port: 80, filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}]\n",
			"Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified"},
		{route + manyMatches, "the total number of matches across all rules in a route must be less than 128"},
		{"apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: p, namespace: ns}\nspec:\n  targetRefs: [{group: '', kind: Service, name: a}, {group: '', kind: Service, name: a, sectionName: x}]\n  validation: {hostname: a.example, wellKnownCACertificates: System}\n",
			"sectionName must be specified when targetRefs includes 2 or more references to the same target"},
	} {
		docs, err := decodeYAML(strings.NewReader(tc.doc))
		if err != nil || len(docs) != 1 {
			t.Fatal(docs, err)
		}
		got := crdschema.FieldErrors(sameCEL(t, v, tc.want, docs[0], celconfig.RuntimeCELCostBudget))
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s\nlacks %s", got, tc.want)
		}
	}
}

// Validate is safe for concurrent use: goroutines validating the fixtures
// at once get what one validating them alone gets (run with -race to
// check the shared compiled rules and schema adaptors).
func TestValidateConcurrently(t *testing.T) {
	v, err := crdschema.New(os.DirFS("crds")) // compiled by the goroutines below
	if err != nil {
		t.Fatal(err)
	}
	e, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	names, objs := fixtures(t, e)
	done := make(chan map[string]string)
	for range 4 {
		go func() {
			got := map[string]string{}
			for _, name := range names {
				errs, _ := v.Validate(runtime.DeepCopyJSON(objs[name]))
				got[name] = crdschema.FieldErrors(errs)
			}
			done <- got
		}()
	}
	for range 4 {
		got := <-done
		for _, name := range names {
			errs, _ := e.Validate(runtime.DeepCopyJSON(objs[name]))
			if want := crdschema.FieldErrors(errs); got[name] != want {
				t.Errorf("%s: %s, alone %s", name, got[name], want)
			}
		}
	}
}

// embeddedAndSynthetic are the validators of the embedded CRDs and of the
// synthetic CRD.
func embeddedAndSynthetic(t *testing.T) (embedded, synthetic *crdschema.Validator) {
	t.Helper()
	embedded, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if synthetic, err = crdschema.New(os.DirFS("testdata/synthetic")); err != nil {
		t.Fatal(err)
	}
	return embedded, synthetic
}

// The rules that run on cel-go's program rather than on closures, and
// why, are testdata/cel-fallbacks.txt (go test -run TestCELFallbacks
// -update rewrites it): a rule that stops being compiled shows in the
// diff. Most of HTTPRoute's rules run on closures.
func TestCELFallbacks(t *testing.T) {
	v, synthetic := embeddedAndSynthetic(t)
	var all []string
	for _, v := range []*crdschema.Validator{v, synthetic} {
		lines, err := v.CELFallbacks()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, lines...)
	}
	golden.Compare(t, "testdata/cel-fallbacks.txt", []byte(strings.Join(all, "\n")+"\n"))
	rules, fast, err := v.CELRuleCount(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HTTPRoute v1: %d of %d rules on closures", fast, rules)
	if fast < rules*9/10 {
		t.Errorf("only %d of HTTPRoute's %d rules on closures", fast, rules)
	}
}

// TestMain reports how many rule evaluations the differential tests
// compared (closures against cel-go's program) and fails when none did.
func TestMain(m *testing.M) {
	code := m.Run()
	if ruleChecks.Fast+ruleChecks.Bails > 0 {
		fmt.Printf("closures evaluated %d rules (each compared with cel-go's program) and gave up on %d\n", ruleChecks.Fast, ruleChecks.Bails)
	}
	os.Exit(code)
}

// BenchmarkCELRoute is the CEL rules alone of the ten-rule HTTPRoute of
// BenchmarkValidateRoute: on closures, and on cel-go's programs.
func BenchmarkCELRoute(b *testing.B) {
	v, err := crdschema.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	for _, closures := range []bool{true, false} {
		name := "closures"
		if !closures {
			name = "cel-go"
		}
		b.Run(name, func(b *testing.B) {
			eval, err := v.CELOnly(benchRoute(b), closures)
			if err != nil {
				b.Fatal(err)
			}
			if errs := eval(); len(errs) > 0 {
				b.Fatal(crdschema.FieldErrors(errs))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				eval()
			}
		})
	}
}

// Values the closures do not model (another type than the schema's, a
// null, a rule above the per-call cost limit) make them give up; cel-go's
// program then gives the library's result.
func TestCELClosuresGiveUp(t *testing.T) {
	v, synthetic := embeddedAndSynthetic(t)
	for _, tc := range []struct {
		v    *crdschema.Validator
		name string
		doc  string
	}{
		{v, "an integer for a string", route + "  - matches: [{path: {type: PathPrefix, value: 5}}]\n"},
		{v, "a string for an object", route + "  - matches: [{path: x}]\n"},
		{v, "an object for a list", route + "  - filters: {type: CORS}\n"},
		{v, "a null item", route + "  - filters: [null]\n"},
		{v, "a float for an integer", route + "  - backendRefs: [{name: a, port: 80.5}]\n"},
		{synthetic, "per-call cost limit", "apiVersion: test.berth.dev/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}\nspec: {name: a, costly: [" + strings.Repeat("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,", 40) + "]}"},
	} {
		docs, err := decodeYAML(strings.NewReader(tc.doc))
		if err != nil || len(docs) != 1 {
			t.Fatal(docs, err)
		}
		before := ruleChecks
		sameCEL(t, tc.v, tc.name, docs[0], celconfig.RuntimeCELCostBudget)
		if ruleChecks.Bails == before.Bails {
			t.Errorf("%s: the closures did not give up (%d rules on closures)", tc.name, ruleChecks.Fast-before.Fast)
		}
	}

	// Mutations of the fixtures with values of other types: the same
	// errors and budget either way.
	names, objs := fixtures(t, v)
	before := ruleChecks
	for i, name := range names {
		obj := objs[name]
		gv, _ := schema.ParseGroupVersion(fmt.Sprint(obj["apiVersion"]))
		s, err := v.StructuralOf(gv.WithKind(fmt.Sprint(obj["kind"])))
		if err != nil {
			continue // a version that is not served
		}
		g := newGenerator(uint64(i), s)
		g.wrongTypes = true
		for j := range 5 {
			mutated := runtime.DeepCopyJSON(obj)
			for range 1 + g.r.IntN(3) {
				g.mutate(mutated, s)
			}
			sameCEL(t, v, fmt.Sprintf("%s wrong-type mutation #%d", name, j), mutated, celconfig.RuntimeCELCostBudget)
		}
	}
	t.Logf("wrong-type mutations: %d rules on closures, %d given up", ruleChecks.Fast-before.Fast, ruleChecks.Bails-before.Bails)
}
