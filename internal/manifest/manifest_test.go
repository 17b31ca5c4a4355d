package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func decodeString(t *testing.T, src string) (*Set, error) {
	t.Helper()
	return DecodeAll(Input{Source: "in.yaml", Reader: strings.NewReader(src)})
}

// examplesDir holds the repository's one copy of the seed manifests.
var examplesDir = filepath.Join("..", "..", "examples")

func TestDecodeSeeds(t *testing.T) {
	for _, tc := range []struct {
		file                                       string
		classes, gateways, routes, proxies, others int
	}{
		{"gateway-namespace-mode.yaml", 1, 2, 2, 0, 4},
		{"clusterip-envoyproxy.yaml", 1, 2, 2, 1, 4},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(examplesDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, err := DecodeAll(Input{Source: tc.file, Reader: f})
			if err != nil {
				t.Fatal(err)
			}
			got := []int{len(s.GatewayClasses), len(s.Gateways), len(s.HTTPRoutes), len(s.EnvoyProxies), len(s.Other)}
			want := []int{tc.classes, tc.gateways, tc.routes, tc.proxies, tc.others}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("counts (classes, gateways, routes, proxies, others) = %v, want %v", got, want)
				}
			}
			if len(s.Services) != 2 {
				t.Fatalf("services = %d, want 2", len(s.Services))
			}
			gw := s.Gateways[1]
			if gw.Namespace != "team-b" || gw.Spec.Listeners[0].Port != 8081 {
				t.Fatalf("second gateway = %s/%s port %d", gw.Namespace, gw.Name, gw.Spec.Listeners[0].Port)
			}
			if o := s.Origin(gw); o.Source != tc.file || o.Index < 2 {
				t.Fatalf("origin of gateway-b = %+v", o)
			}
		})
	}
}

func TestDecodeKinds(t *testing.T) {
	s, err := decodeString(t, `
# leading comment only document
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: team-a}
- apiVersion: v1
  kind: Secret
  metadata: {name: cert, namespace: team-a}
  stringData: {tls.crt: x}
---
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: rg, namespace: team-b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: team-a}]
  to: [{group: "", kind: Service}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-abc, namespace: team-a}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, namespace: team-a}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc, namespace: team-a}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: tcp, namespace: team-a}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: tls, namespace: team-a}
spec: {hostnames: [a.example.com]}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: udp, namespace: team-a}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
spec: {anything: [goes]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Namespaces) != 1 || len(s.Secrets) != 1 || len(s.ReferenceGrants) != 1 || len(s.EndpointSlices) != 1 ||
		len(s.ConfigMaps) != 1 || len(s.GRPCRoutes) != 1 || len(s.TCPRoutes) != 1 || len(s.TLSRoutes) != 1 || len(s.UDPRoutes) != 1 ||
		len(s.Other) != 1 || s.TLSRoutes[0].Spec.Hostnames[0] != "a.example.com" {
		t.Fatalf("unexpected set: %+v", s)
	}
	if string(s.Secrets[0].Data["tls.crt"]) != "x" { // stringData merged into data
		t.Fatalf("secret data lost")
	}
	if o := s.Origin(s.ReferenceGrants[0]); o.Index != 3 || o.Line != 16 {
		t.Fatalf("reference grant origin = %+v, want document 3 (empty documents are not counted) at line 16", o)
	}
	if got := s.Other[0].GetKind(); got != "Widget" {
		t.Fatalf("other kind = %q", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	gw := "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: ns}\n"
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the message
		unknown  bool     // wraps ErrUnknownField
	}{
		{"bad yaml", "---\n" + gw + "---\nkind: [\n", []string{"in.yaml:6 (document 2): parse yaml"}, false},
		{"unknown field", gw + "spec:\n  gatewayClassName: eg\n  listners: []\n", []string{`in.yaml:1 (document 1): Gateway ns/gw: strict decoding failed: unknown field "spec.listners"`}, true},
		{"duplicate key", gw + "spec:\n  gatewayClassName: eg\n  gatewayClassName: other\n", []string{"in.yaml:1 (document 1): parse yaml", `"gatewayClassName" already set`}, false},
		{"wrong case", gw + "spec:\n  GatewayClassName: eg\n", []string{"(document 1): Gateway ns/gw: ", "GatewayClassName"}, true},
		{"missing kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{"(document 1): kind is missing"}, false},
		{"missing apiVersion", "kind: Service\nmetadata: {name: x}\n", []string{"(document 1): Service x: apiVersion is missing"}, false},
		{"missing name", "apiVersion: v1\nkind: Service\nmetadata: {namespace: a}\n", []string{"(document 1): Service: metadata.name is missing"}, false},
		{"unsupported version", "apiVersion: gateway.envoyproxy.io/v1beta9\nkind: EnvoyProxy\nmetadata: {name: p, namespace: a}\n", []string{`EnvoyProxy a/p: unsupported apiVersion "gateway.envoyproxy.io/v1beta9"`}, false},
		{"invalid envoyproxy", "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyProxy\nmetadata: {name: p, namespace: a}\nspec:\n  provider:\n    type: Kubernetes\n    kubernetes:\n      envoyService: {typ: ClusterIP}\n", []string{`EnvoyProxy a/p: strict decoding failed: unknown field "spec.provider.kubernetes.envoyService.typ"`}, true},
		{"wrong type", gw + "spec:\n  gatewayClassName: eg\n  listeners: [{name: http, port: http, protocol: HTTP}]\n", []string{"in.yaml:1 (document 1): Gateway ns/gw: "}, false},
		{"scalar document", "just a string\n", []string{"in.yaml:1 (document 1): document is not a YAML mapping"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeString(t, tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *manifest.Error: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := errors.Is(err, ErrUnknownField); got != tc.unknown {
				t.Errorf("errors.Is(ErrUnknownField) = %v, want %v (%v)", got, tc.unknown, err)
			}
		})
	}
}

func TestReadFiles(t *testing.T) {
	stdin := strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: from-stdin}\n")
	s, err := ReadFiles([]string{filepath.Join(examplesDir, "gateway-namespace-mode.yaml"), "-"}, stdin)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Gateways) != 2 || len(s.Namespaces) != 1 || s.Origin(s.Namespaces[0]).Source != StdinSource {
		t.Fatalf("gateways %d, namespaces %d", len(s.Gateways), len(s.Namespaces))
	}
	if _, err := ReadFiles([]string{"-", "-"}, strings.NewReader("")); err == nil {
		t.Fatal("stdin accepted twice")
	}
	if _, err := ReadFiles([]string{"testdata/missing.yaml"}, nil); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// A Secret's stringData merges into data, overwriting its keys, as the
// apiserver merges it on write.
func TestSecretStringData(t *testing.T) {
	s, err := decodeString(t, `apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: ns}
type: kubernetes.io/tls
data:
  tls.crt: b2xk
  extra: a2VwdA==
stringData:
  tls.crt: new
  tls.key: key
`)
	if err != nil {
		t.Fatal(err)
	}
	sec := s.Secrets[0]
	got := map[string]string{}
	for k, v := range sec.Data {
		got[k] = string(v)
	}
	want := map[string]string{"tls.crt": "new", "tls.key": "key", "extra": "kept"}
	if len(got) != len(want) || got["tls.crt"] != want["tls.crt"] || got["tls.key"] != want["tls.key"] || got["extra"] != want["extra"] {
		t.Fatalf("data %v, want %v", got, want)
	}
	if sec.StringData != nil {
		t.Fatalf("stringData left: %v", sec.StringData)
	}
}
