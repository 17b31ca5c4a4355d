package cli

import (
	"bytes"
	"github.com/berth-gateway/berth/examples"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/render"
)

// runBerth runs the root command with args and stdin, returning stdout,
// stderr and the error Execute returned.
func runBerth(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := NewRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.Execute()
	return stdout.String(), stderr.String(), err
}

func TestRenderSeedMatchesGolden(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.crt")
	// The CA of render's golden tests, so the output is byte-identical.
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBATAKBggqhkjOPQQDAjAQMQ4wDAYDVQQDEwViZXJ0aDAe\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{"seed": examples.GatewayNamespaceMode, "clusterip": examples.ClusterIPEnvoyProxy} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile("../../render/testdata/" + name + ".out.yaml")
			if err != nil {
				t.Fatal(err)
			}
			// render's goldens use render.DefaultOptions; the command's
			// default shutdown-manager image is its own (TestRenderDefaults).
			stdout, stderr, err := runBerth(t, "", "render", "-f", "../../examples/"+in, "--ca-file", ca,
				"--shutdown-manager-image", render.DefaultOptions().ShutdownManagerImage)
			if err != nil {
				t.Fatalf("render: %v (stderr %q)", err, stderr)
			}
			// The golden's comment headers are render.YAML's; the command
			// prints them on stderr.
			var objects []string
			for _, line := range strings.SplitAfter(string(want), "\n") {
				if !strings.HasPrefix(line, "# ") {
					objects = append(objects, line)
				}
			}
			if stdout != strings.Join(objects, "") {
				t.Errorf("berth render output differs from render/testdata/%s.out.yaml", name)
			}
			if !strings.Contains(stderr, "Gateway team-a/gateway-a: 4 objects, inventory ConfigMap team-a/envoy-team-a-gateway-a-b65c6264-inventory") {
				t.Errorf("stderr lacks the inventory line:\n%s", stderr)
			}
		})
	}
}

func TestRenderStdinAndFiles(t *testing.T) {
	seed, err := os.ReadFile("../../examples/" + examples.GatewayNamespaceMode)
	if err != nil {
		t.Fatal(err)
	}
	// The class comes from a file, the Gateways from stdin.
	class, rest, _ := strings.Cut(string(seed), "---\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "class.yaml"), []byte(class), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runBerth(t, rest, "render", "-f", filepath.Join(dir, "class.yaml"), "-f", "-", "--xds-host", "xds.example.internal", "--xds-port", "443")
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	for _, want := range []string{"name: envoy-team-a-gateway-a-b65c6264", "name: envoy-team-b-gateway-b-0ac91f5a", "address: xds.example.internal\n", "port_value: 443\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, want := range []string{
		"warning: Gateway team-a/gateway-a: no CA bundle given",
		"warning: berth render does not read, and ignored: 2 Deployment (apps/v1), 2 HTTPRoute, 2 Service, 2 ServiceAccount (v1)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout, "#") {
		t.Errorf("comments on stdout:\n%s", stdout)
	}
}

func TestRenderErrors(t *testing.T) {
	const class = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: berth}\nspec:\n  controllerName: gateway.envoyproxy.io/gatewayclass-controller\n"
	const classRef = class + "  parametersRef: {group: gateway.envoyproxy.io, kind: EnvoyProxy, name: proxy, namespace: infra}\n"
	const gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: team-a}\nspec:\n  gatewayClassName: berth\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n"
	for _, tc := range []struct {
		name, in string
		args     []string
		want     []string
	}{
		{"bad yaml", class + "---\n" + gw + "---\n  bad: [\n", nil, []string{"<stdin>:14 (document 3): parse yaml"}},
		{"unknown field", class + "---\n" + strings.Replace(gw, "gatewayClassName", "gatewayClass", 1), nil,
			[]string{`<stdin>:7 (document 2): Gateway team-a/gw: strict decoding failed: unknown field "spec.gatewayClass"`}},
		{"missing class", gw, nil, []string{`<stdin>:1 (document 1): Gateway team-a/gw: GatewayClass "berth" not found`}},
		{"missing envoyproxy", classRef + "---\n" + gw, nil, []string{"<stdin>:1 (document 1): GatewayClass berth parametersRef EnvoyProxy infra/proxy: not found"}},
		{"invalid envoyproxy", classRef + "---\n" + gw + "---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyProxy\nmetadata: {name: proxy, namespace: infra}\nspec:\n  provider:\n    type: Kubernetes\n    kubernetes:\n      envoyHpa: {minReplicas: 3, maxReplicas: 1}\n",
			nil, []string{"<stdin>:15 (document 3): GatewayClass berth parametersRef EnvoyProxy infra/proxy: invalid: spec.provider.kubernetes.envoyHpa.minReplicas: 3 exceeds maxReplicas 1"}},
		{"parametersRef to another kind", strings.Replace(classRef, "kind: EnvoyProxy", "kind: ConfigMap", 1) + "---\n" + gw, nil,
			[]string{"<stdin>:1 (document 1): GatewayClass berth parametersRef ConfigMap.gateway.envoyproxy.io infra/proxy: unsupported kind"}},
		{"reserved port", class + "---\n" + strings.Replace(gw, "8080", "19000", 1), nil, []string{"<stdin>:7 (document 2): gateway team-a/gw: listener http: port 19000 is reserved"}},
		{"invalid option", class + "---\n" + gw, []string{"--xds-port", "0"}, []string{"invalid render options: xDS port 0 is out of range"}},
		{"no input", "", []string{}, []string{"no input"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"render", "-f", "-"}, tc.args...)
			if tc.name == "no input" {
				args = []string{"render"}
			}
			stdout, _, err := runBerth(t, tc.in, args...)
			if err == nil {
				t.Fatal("no error")
			}
			if code := ExitCode(err); code == 0 {
				t.Errorf("exit code 0")
			}
			if stdout != "" {
				t.Errorf("partial output on stdout: %q", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRenderOtherControllerIsSkipped(t *testing.T) {
	seed, err := os.ReadFile("../../examples/" + examples.GatewayNamespaceMode)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runBerth(t, string(seed), "render", "-f", "-", "--controller-name", "example.com/other")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "" || !strings.Contains(stderr, "no Gateway of a GatewayClass") {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
}

// Every kind berth decodes is either read or listed as ignored: a
// ClientTrafficPolicy is read by translate and ignored, loudly, by render.
func TestEveryDecodedKindAccounted(t *testing.T) {
	const in = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: ctp, namespace: ns}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: g}]
`
	// setKinds lists every typed field of a manifest.Set.
	typed := 0
	for f := range reflect.TypeFor[manifest.Set]().Fields() {
		if f.Type.Kind() == reflect.Slice && f.Name != "Other" {
			typed++
		}
	}
	if n := len(setKinds(&manifest.Set{})); n != typed {
		t.Errorf("setKinds lists %d kinds, manifest.Set has %d", n, typed)
	}
	_, stderr, err := runBerth(t, in, "render", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if want := "warning: berth render does not read, and ignored: 1 ClientTrafficPolicy\n"; !strings.Contains(stderr, want) {
		t.Errorf("render stderr lacks %q:\n%s", want, stderr)
	}
	_, stderr, err = runBerth(t, in, "translate", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "ignored") {
		t.Errorf("translate ignores what it reads:\n%s", stderr)
	}
}
