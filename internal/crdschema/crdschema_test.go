package crdschema_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/crdschema"
	"github.com/berth-gateway/berth/internal/localcluster"
)

// The embedded CRDs are the module's at the pinned version and api/crd's,
// byte for byte (go generate ./internal/crdschema copies them).
func TestEmbeddedCRDsAreTheSources(t *testing.T) {
	gw, err := localcluster.GatewayAPICRDDir(context.Background())
	if err != nil {
		t.Skipf("the gateway-api module is not available: %v", err)
	}
	if _, err := os.Stat(gw); err != nil {
		t.Skipf("the gateway-api module is not in the module cache: %v", err)
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := crdschema.SourceFiles(gw, filepath.Join(root, "api", "crd"))
	if err != nil {
		t.Fatal(err)
	}
	copies, err := filepath.Glob(filepath.Join("crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != len(src) {
		t.Fatalf("crds/ holds %d files, the sources %d: run go generate ./internal/crdschema", len(copies), len(src))
	}
	for i, s := range src {
		if filepath.Base(s) != filepath.Base(copies[i]) {
			t.Fatalf("crds/%s is not %s: run go generate ./internal/crdschema", filepath.Base(copies[i]), s)
		}
		a, _ := os.ReadFile(s)
		b, _ := os.ReadFile(copies[i])
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run go generate ./internal/crdschema", copies[i], s)
		}
	}
}

func TestKinds(t *testing.T) {
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, gk := range v.Kinds() {
		got = append(got, gk.String())
	}
	want := "BackendTLSPolicy.gateway.networking.k8s.io ClientTrafficPolicy.gateway.envoyproxy.io EnvoyProxy.gateway.envoyproxy.io " +
		"GRPCRoute.gateway.networking.k8s.io Gateway.gateway.networking.k8s.io GatewayClass.gateway.networking.k8s.io " +
		"HTTPRoute.gateway.networking.k8s.io ListenerSet.gateway.networking.k8s.io ReferenceGrant.gateway.networking.k8s.io " +
		"TCPRoute.gateway.networking.k8s.io TLSRoute.gateway.networking.k8s.io UDPRoute.gateway.networking.k8s.io"
	if strings.Join(got, " ") != want {
		t.Errorf("kinds:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if v.Has(schema.GroupKind{Kind: "Service"}) {
		t.Error("a CRD for Service")
	}
}

func validate(t *testing.T, doc string) string {
	t.Helper()
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{}
	if err := utiljson.Unmarshal(js, &obj); err != nil { // int64 numbers, as the apiserver decodes them
		t.Fatal(err)
	}
	errs, known := v.Validate(obj)
	if !known {
		t.Fatal("not a CRD kind")
	}
	return crdschema.FieldErrors(errs)
}

const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: g}]
  rules:
`

// validateCases are objects and the messages Validate gives them; the
// differential CEL test evaluates them too.
var validateCases = []struct {
	name, doc string
	want      []string // parts of the message; none: valid
}{
	{name: "valid route", doc: route + "  - matches: [{path: {type: PathPrefix, value: /a}}]\n"},
	{name: "defaulted path", doc: route + "  - matches: [{}]\n"},
	{name: "status is dropped", doc: route + "  - {}\nstatus: {parents: [{}]}\n"},
	{name: "regex path without value is defaulted to /", doc: route + "  - matches: [{path: {type: RegularExpression}}]\n"},
	{name: "relative exact path", doc: route + "  - matches: [{path: {type: Exact, value: a}}]\n",
		want: []string{"spec.rules[0].matches[0].path: Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"}},
	{name: "bad enum", doc: route + "  - matches: [{path: {type: Glob, value: /a}}]\n",
		want: []string{`spec.rules[0].matches[0].path.type: Unsupported value: "Glob"`, "some validation rules were not checked"}},
	{name: "too long", doc: strings.Replace(route, "[{name: g}]", "[{name: "+strings.Repeat("a", 254)+"}]", 1) + "  - {}\n",
		want: []string{"spec.parentRefs[0].name: Too long: may not be more than 253 bytes"}},
	{name: "filter CEL rule", doc: route + "  - filters: [{type: RequestRedirect}]\n",
		want: []string{"spec.rules[0].filters[0]: Invalid value: filter.requestRedirect must be specified for RequestRedirect filter.type"}},
	{name: "missing required field", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: ns}\nspec: {listeners: [{name: a, port: 80, protocol: HTTP}]}\n",
		want: []string{"spec.gatewayClassName: Required value"}},
	{name: "listener hostname rule", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: ns}\nspec: {gatewayClassName: c, listeners: [{name: a, port: 80, protocol: TCP, hostname: a.example}]}\n",
		want: []string{"spec.listeners: Invalid value: hostname must not be specified for protocols ['TCP', 'UDP']"}},
	{name: "invalid name", doc: strings.Replace(route, "name: r,", "name: Bad_Name,", 1) + "  - {}\n",
		want: []string{`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`}},
	{name: "no metadata", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nspec: {}\n",
		want: []string{"metadata.name: Required value: name or generateName is required"}},
	{name: "no namespace is left to berth", doc: strings.Replace(route, ", namespace: ns", "", 1) + "  - {}\n"},
	{name: "unserved version", doc: strings.Replace(route, "/v1\n", "/v1alpha9\n", 1) + "  - {}\n",
		want: []string{`apiVersion: Unsupported value: "gateway.networking.k8s.io/v1alpha9"`}},
	{name: "EnvoyProxy", doc: "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyProxy\nmetadata: {name: p, namespace: ns}\nspec: {provider: {type: Docker}}\n",
		want: []string{`spec.provider.type: Unsupported value: "Docker": supported values: "Kubernetes"`}},
}

func TestValidate(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			got := validate(t, tc.doc)
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if len(tc.want) > 0 && got == "" {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s\nlacks %s", got, w)
				}
			}
		})
	}
}

// BenchmarkCompile is the cost of compiling a kind on first use.
func BenchmarkCompile(b *testing.B) {
	for _, kind := range []string{"HTTPRoute", "Gateway"} {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				v, err := crdschema.New(os.DirFS("crds"))
				if err != nil {
					b.Fatal(err)
				}
				errs, _ := v.Validate(map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind, "metadata": map[string]any{"name": "x"}})
				if len(errs) == 0 {
					b.Fatal("no error for an object without spec")
				}
			}
		})
	}
}

// benchRoute is an HTTPRoute of ten rules as go run ./hack/scaleinput
// writes them (the whole-process translate benchmark's input).
func benchRoute(b *testing.B) map[string]any {
	var sb strings.Builder
	sb.WriteString(strings.Replace(route, "  rules:\n", "  hostnames: [app-0.example.com]\n  rules:\n", 1))
	for i := range 10 {
		fmt.Fprintf(&sb, "  - matches:\n    - path: {type: PathPrefix, value: /r0/rule%d}\n", i)
		if i%3 == 0 {
			sb.WriteString("      headers: [{type: Exact, name: x-version, value: v2}]\n")
		}
		sb.WriteString("    backendRefs: [{name: a, port: 80, weight: 90}, {name: b, port: 80, weight: 10}]\n")
	}
	js, err := yaml.YAMLToJSON([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	obj := map[string]any{}
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		b.Fatal(err)
	}
	return obj
}

// BenchmarkValidateRoute is Validate of one ten-rule HTTPRoute, with
// berth's CEL evaluation (berth) and with apiextensions-apiserver's
// cel.Validator (library), the rest the same; and Validate up to the CEL
// rules (check-berth, check-library).
func BenchmarkValidateRoute(b *testing.B) {
	v, err := crdschema.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	obj := benchRoute(b)
	for _, tc := range []struct {
		name     string
		validate func(map[string]any) field.ErrorList
	}{
		{"berth", func(o map[string]any) field.ErrorList { errs, _ := v.Validate(o); return errs }},
		{"library", v.ValidateWithLibraryCEL},
		// Validate up to the CEL rules, with berth's OpenAPI schema walk
		// and with the apiserver's steps (kube-openapi's validator).
		{"check-berth", v.Check},
		{"check-library", v.CheckWithLibrarySchema},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if errs := tc.validate(runtime.DeepCopyJSON(obj)); len(errs) > 0 {
				b.Fatal(crdschema.FieldErrors(errs))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tc.validate(runtime.DeepCopyJSON(obj))
			}
		})
	}
}
