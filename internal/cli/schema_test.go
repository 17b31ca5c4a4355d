package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const schemaGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: berth}
spec: {controllerName: gateway.berth.dev/controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g, namespace: ns}
spec:
  gatewayClassName: berth
  listeners: [{name: http, port: 80, protocol: HTTP}]
`

// schemaRoute is an HTTPRoute whose rule has a RequestRedirect filter
// without requestRedirect: a CEL rule of the HTTPRoute CRD refuses it.
func schemaRoute(name string) string {
	return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ` + name + `, namespace: ns}
spec:
  parentRefs: [{name: g}]
  rules: [{filters: [{type: RequestRedirect}]}]
`
}

// The CRD stage refuses what the apiserver would, with its words, exit 1
// and nothing on stdout; --validate=false skips it; render, which does not
// read routes, does not check them.
func TestSchemaStage(t *testing.T) {
	schemaStage(t, schemaGateway+schemaRoute("r"), "<stdin>:13 (document 3): HTTPRoute ns/r: spec.rules[0].filters[0]: Invalid value: filter.requestRedirect must be specified for RequestRedirect filter.type")
}

// schemaStage checks that translate refuses in with want (exit 1, nothing
// on stdout), that --validate=false skips the check, and that render, which
// reads neither routes nor core kinds, does not check them.
func schemaStage(t *testing.T, in, want string) {
	t.Helper()
	stdout, _, err := runBerth(t, in, "translate", "-f", "-")
	if err == nil || err.Error() != want {
		t.Fatalf("translate: %v, want %s", err, want)
	}
	if ExitCode(err) != ExitFailed || stdout != "" {
		t.Errorf("exit %d, stdout %q", ExitCode(err), stdout)
	}
	if _, stderr, err := runBerth(t, in, "translate", "-f", "-", "--validate=false"); err != nil {
		t.Fatalf("translate --validate=false: %v (%s)", err, stderr)
	}
	if _, stderr, err := runBerth(t, in, "render", "-f", "-"); err != nil {
		t.Fatalf("render: %v (%s)", err, stderr)
	}
}

// Of several refused objects, the first in input order is reported,
// whichever is validated first.
func TestSchemaStageFirstInInputOrder(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(a, []byte(schemaGateway+schemaRoute("z")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(strings.Repeat(schemaRoute("x"), 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, order := range [][]string{{b, a}, {a, b}} {
		_, _, err := runBerth(t, "", "translate", "-f", order[0], "-f", order[1])
		if err == nil || !strings.HasPrefix(err.Error(), order[0]+":") {
			t.Errorf("-f %s -f %s: %v", order[0], order[1], err)
		}
	}
	_, _, err := runBerth(t, "", "translate", "-f", b)
	if err == nil || !strings.HasPrefix(err.Error(), b+":2 (document 1): HTTPRoute ns/x:") {
		t.Errorf("-f %s: %v", b, err)
	}
}

// The core kinds translate reads are refused as the apiserver refuses
// them (corevalidation), with the object and every field error; render,
// which reads no Services or Secrets, does not check them.
func TestSchemaStageCoreKinds(t *testing.T) {
	schemaStage(t, schemaGateway+`---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: ns}
type: kubernetes.io/tls
stringData: {tls.crt: x}
`, `<stdin>:13 (document 3): Secret ns/cert: data[tls.key]: Required value`)
}
