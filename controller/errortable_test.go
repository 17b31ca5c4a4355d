package controller_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/examples"
	"github.com/berth-gateway/berth/internal/cli"
	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/render"
)

const tableClass = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: berth}
spec: {controllerName: ` + examples.ControllerName + `}
`

// tableGateway is a Gateway of tableClass in namespace ns with the given
// extra spec lines (indented under spec) and listeners.
func tableGateway(ns, name, spec string, listeners ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: %q", name)
	if ns != "" {
		fmt.Fprintf(&b, ", namespace: %s", ns)
	}
	b.WriteString("}\nspec:\n  gatewayClassName: berth\n" + spec + "  listeners:\n")
	for _, l := range listeners {
		b.WriteString("  - " + l + "\n")
	}
	return b.String()
}

// proxyNamingService is an EnvoyProxy in ns whose Service is ns/shared.
func proxyNamingService(ns, name string) string {
	return fmt.Sprintf(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata: {name: %s, namespace: %s}
spec:
  provider:
    type: Kubernetes
    kubernetes:
      envoyService: {name: shared}
`, name, ns)
}

// tableObject is tableClass, a Gateway ns/g with one HTTP listener and an
// object ns/NAME of a Gateway API kind with the given spec (lines under
// spec:).
func tableObject(kind, name, spec string) string {
	return tableClass + tableGateway("ns", "g", "", "{name: http, port: 80, protocol: HTTP}") + fmt.Sprintf(`---
apiVersion: gateway.networking.k8s.io/v1
kind: %s
metadata: {name: %s, namespace: ns}
spec:
`, kind, name) + spec
}

// tableRoute is tableClass, a Gateway ns/g with one HTTP listener and an
// HTTPRoute ns/r for it with the given rules (lines under rules:).
func tableRoute(rules string) string {
	return tableClass + tableGateway("ns", "g", "", "{name: http, port: 80, protocol: HTTP}") + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: g}]
  rules:
` + rules
}

const gatewayParams = "  infrastructure: {parametersRef: {group: gateway.envoyproxy.io, kind: EnvoyProxy, name: p}}\n"

func manyListeners(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("{name: l%d, port: %d, protocol: HTTP}", i, 8000+i)
	}
	return out
}

// TestErrorTable: every bad input of issue 16 gives the same message from
// berth render, berth translate and the controller's status (the
// reconciler's own pure steps, controller.RenderedConditions), and the
// message names the object, the field and the reason.
func TestErrorTable(t *testing.T) {
	http80 := "{name: http, port: 80, protocol: HTTP}"
	rows := []struct {
		name string
		in   string
		// gateway is the refused Gateway (ns/name).
		gateway string
		// reason is the controller's Accepted reason.
		reason gwv1.GatewayConditionReason
		// want are parts of the message: object, field, reason.
		want []string
		// offlineOnly says why the controller cannot receive the input
		// (the apiserver refuses or changes it first); "" when it can.
		offlineOnly string
		// crd, when set, are parts of the apiserver's refusal (the CRD's
		// schema or CEL rules): berth render and translate refuse the
		// input with it before their own checks. The controller, which
		// such an input cannot reach, still refuses it itself with want
		// (unless gateway is "": not a Gateway's error).
		crd []string
		// routes says the input's error is in a route: berth render,
		// which does not read routes, is not asked.
		routes bool
	}{{
		name: "no namespace", in: tableClass + tableGateway("", "g", "", http80), gateway: "/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway /g", "metadata.namespace: missing"},
	}, {
		name: "reserved port", in: tableClass + tableGateway("ns", "g", "", "{name: admin, port: 19000, protocol: HTTP}"), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "listener admin", "port 19000 is reserved by berth"},
	}, {
		name: "invalid name", in: tableClass + tableGateway("ns", "Bad_Name", "", http80), gateway: "ns/Bad_Name",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/Bad_Name", `name "Bad_Name"`, "RFC 1123 subdomain"},
		crd: []string{`Gateway ns/Bad_Name: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`},
	}, {
		name: "invalid EnvoyProxy",
		in: tableClass + `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata: {name: p, namespace: ns}
spec:
  provider:
    type: Kubernetes
    kubernetes:
      envoyHpa: {minReplicas: 5, maxReplicas: 2}
` + tableGateway("ns", "g", gatewayParams, http80), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalidParameters, want: []string{"Gateway ns/g parametersRef EnvoyProxy ns/p: invalid", "envoyHpa"},
	}, {
		name: "duplicate listener names", in: tableClass + tableGateway("ns", "g", "", http80, "{name: http, port: 81, protocol: HTTP}"), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "spec.listeners[1].name", `"http" is also the name of spec.listeners[0]`},
		crd: []string{`Gateway ns/g: spec.listeners[1]: Duplicate value: {"name":"http"}`, "Listener name must be unique within the Gateway"},
	}, {
		name: "65 listeners", in: tableClass + tableGateway("ns", "g", "", manyListeners(65)...), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "spec.listeners", "65 listeners, at most 64 allowed"},
		crd: []string{"Gateway ns/g: spec.listeners: Too many: 65: must have at most 64 items"},
	}, {
		name: "ports 80 and 10080", in: tableClass + tableGateway("ns", "g", "", http80, "{name: high, port: 10080, protocol: HTTP}"), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "listener high", "port 10080 and port 80 of listener http both map to container port 10080"},
	}, {
		name: "same port protocol and hostname", in: tableClass + tableGateway("ns", "g", "", http80, "{name: again, port: 80, protocol: HTTP}"), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "listener again", "port 80, protocol HTTP and hostname \"\" are those of listener http"},
		crd: []string{"Gateway ns/g: spec.listeners: Invalid value: Combination of port, protocol and hostname must be unique for each listener"},
	}, {
		name: "300 KB annotation",
		in:   tableClass + tableGateway("ns", "g", "  infrastructure: {annotations: {big: "+strings.Repeat("x", 300_000)+"}}\n", http80), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "spec.infrastructure.annotations", `value of "big": 300000 bytes, at most 4096 allowed`},
		crd: []string{"Gateway ns/g: spec.infrastructure.annotations.big: Too long: may not be more than 4096 bytes"},
	}, {
		name: "EnvoyProxy annotations over 256 KiB",
		in: tableClass + `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata: {name: p, namespace: ns}
spec:
  provider:
    type: Kubernetes
    kubernetes:
      envoyService: {annotations: {big: ` + strings.Repeat("x", 300_000) + `}}
` + tableGateway("ns", "g", gatewayParams, http80), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", "Service ns/envoy-ns-g-", "metadata.annotations", "300003 bytes, at most 262144 allowed"},
	}, {
		name: "invalid infrastructure label", in: tableClass + tableGateway("ns", "g", "  infrastructure: {labels: {team: \"-bad-\"}}\n", http80), gateway: "ns/g",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/g", `spec.infrastructure.labels: value of "team"`, "alphanumeric"},
		crd: []string{`Gateway ns/g: spec.infrastructure.labels.team: Invalid value: "-bad-": spec.infrastructure.labels.team in body should match`},
	}, {
		name: "two Gateways name one Service",
		in:   tableClass + proxyNamingService("ns", "p") + tableGateway("ns", "a", gatewayParams, http80) + tableGateway("ns", "b", gatewayParams, http80), gateway: "ns/b",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/b", "Service ns/shared is also an object of Gateway ns/a", "same creation time, name sorts first", "which keeps it"},
	}, {
		name: "a Gateway's Service named like another Gateway's",
		in: tableClass + fmt.Sprintf(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata: {name: p, namespace: ns}
spec:
  provider:
    type: Kubernetes
    kubernetes:
      envoyService: {name: %s}
`, render.ProxyName("ns", "a")) + tableGateway("ns", "a", "", http80) + tableGateway("ns", "b", gatewayParams, http80), gateway: "ns/b",
		reason: gwv1.GatewayReasonInvalid, want: []string{"gateway ns/b", "Service ns/" + render.ProxyName("ns", "a") + " is also an object of Gateway ns/a"},
	}, {
		name: "HTTPRoute filter without its field (CEL)", routes: true, in: tableRoute("  - filters: [{type: RequestRedirect}]\n"), crd: []string{"HTTPRoute ns/r: spec.rules[0].filters[0]: Invalid value: filter.requestRedirect must be specified for RequestRedirect filter.type"},
	}, {
		name: "HTTPRoute relative Exact path (CEL)", routes: true, in: tableRoute("  - matches: [{path: {type: Exact, value: a}}]\n"), crd: []string{"HTTPRoute ns/r: spec.rules[0].matches[0].path: Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"},
	}, {
		name: "HTTPRoute bad enum", routes: true, in: tableRoute("  - matches: [{path: {type: Glob, value: /a}}]\n"), crd: []string{`HTTPRoute ns/r: spec.rules[0].matches[0].path.type: Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression"`},
	}, {
		name: "HTTPRoute name too long", routes: true, in: strings.Replace(tableRoute("  - {}\n"), "[{name: g}]", "[{name: "+strings.Repeat("a", 254)+"}]", 1), crd: []string{"HTTPRoute ns/r: spec.parentRefs[0].name: Too long: may not be more than 253 bytes"},
	}, {
		name: "TCPRoute backend port out of range", routes: true, in: tableObject("TCPRoute", "t", "  parentRefs: [{name: g}]\n  rules: [{backendRefs: [{name: s, port: 70000}]}]\n"),
		crd: []string{"TCPRoute ns/t: spec.rules[0].backendRefs[0].port: Invalid value: 70000: spec.rules[0].backendRefs[0].port in body should be less than or equal to 65535"},
	}, {
		name: "TLSRoute bad hostname", routes: true, in: tableObject("TLSRoute", "t", "  parentRefs: [{name: g}]\n  hostnames: ['*.*.example']\n  rules: [{backendRefs: [{name: s, port: 443}]}]\n"),
		crd: []string{`TLSRoute ns/t: spec.hostnames[0]: Invalid value: "*.*.example": spec.hostnames[0] in body should match`, "spec.hostnames: Invalid value: Wildcards on hostnames must be the first label"},
	}, {
		name: "UDPRoute backend without a port (CEL)", routes: true, in: tableObject("UDPRoute", "u", "  parentRefs: [{name: g}]\n  rules: [{backendRefs: [{name: s}]}]\n"),
		crd: []string{"UDPRoute ns/u: spec.rules[0].backendRefs[0]: Invalid value: Must have port for Service reference"},
	}, {
		name: "BackendTLSPolicy with both CA kinds (CEL)", routes: true, in: tableObject("BackendTLSPolicy", "b", "  targetRefs: [{group: '', kind: Service, name: s}]\n  validation: {hostname: s.example, wellKnownCACertificates: System, caCertificateRefs: [{group: '', kind: ConfigMap, name: c}]}\n"),
		crd: []string{"BackendTLSPolicy ns/b: spec.validation: Invalid value: must not contain both CACertificateRefs and WellKnownCACertificates"},
	}, {
		name: "ListenerSet TCP listener with a hostname (CEL)", in: tableObject("ListenerSet", "l", "  parentRef: {name: g}\n  listeners: [{name: t, port: 9000, protocol: TCP, hostname: a.example}]\n"),
		crd: []string{"ListenerSet ns/l: spec.listeners: Invalid value: hostname must not be specified for protocols ['TCP', 'UDP']"},
	}, {
		name: "Gateway without gatewayClassName", in: strings.Replace(tableGateway("ns", "g", "", http80), "  gatewayClassName: berth\n", "", 1),
		// Validated as written, as the apiserver decodes it: the missing
		// field is "Required value", and the CEL rules are not run on it.
		crd: []string{`Gateway ns/g: spec.gatewayClassName: Required value, <nil>: Invalid value: null: some validation rules were not checked because the object was invalid`},
	}, {
		name: "TCP listener with a hostname (CEL)", in: tableClass + tableGateway("ns", "g", "", "{name: tcp, port: 80, protocol: TCP, hostname: a.example}"),
		crd: []string{"Gateway ns/g: spec.listeners: Invalid value: hostname must not be specified for protocols ['TCP', 'UDP']"},
	}, {
		name: "duplicate Gateways", in: tableClass + tableGateway("ns", "g", "", http80) + tableGateway("ns", "g", "", "{name: other, port: 81, protocol: HTTP}"), gateway: "ns/g",
		want:        []string{"Gateway ns/g is defined twice"},
		offlineOnly: "the apiserver keeps one object per name",
	}}
	opts := render.DefaultOptions()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var msgs []string
			cmds := []string{"render", "translate"}
			if row.routes {
				cmds = cmds[1:]
			}
			for _, cmd := range cmds {
				root := cli.NewRootCmd()
				var stdout, stderr bytes.Buffer
				root.SetArgs([]string{cmd, "-f", "-"})
				root.SetIn(strings.NewReader(row.in))
				root.SetOut(&stdout)
				root.SetErr(&stderr)
				err := root.Execute()
				if err == nil {
					t.Fatalf("berth %s accepted it", cmd)
				}
				if stdout.Len() > 0 {
					t.Errorf("berth %s printed %d bytes on stdout", cmd, stdout.Len())
				}
				// "<stdin>:LINE (document N): message"
				_, msg, ok := strings.Cut(err.Error(), "): ")
				if !ok || !strings.HasPrefix(err.Error(), manifest.StdinSource+":") {
					t.Fatalf("berth %s: %q does not name its input position", cmd, err)
				}
				msgs = append(msgs, msg)
			}
			if len(msgs) == 2 && msgs[0] != msgs[1] {
				t.Errorf("render and translate differ:\n%s\n%s", msgs[0], msgs[1])
			}
			offline := row.want
			if row.crd != nil {
				offline = row.crd
			}
			for _, w := range offline {
				if !strings.Contains(msgs[0], w) {
					t.Errorf("message %q lacks %q", msgs[0], w)
				}
			}
			if row.offlineOnly != "" || row.gateway == "" {
				return
			}
			set, err := manifest.DecodeAll(manifest.Input{Source: "in.yaml", Reader: strings.NewReader(row.in)})
			if err != nil {
				t.Fatal(err)
			}
			inputs, err := render.StaticInputs(render.Static{GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies}, examples.ControllerName)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, in := range inputs {
				if in.Gateway.Namespace+"/"+in.Gateway.Name != row.gateway {
					continue
				}
				found = true
				acc := meta.FindStatusCondition(controller.RenderedConditions(in, opts), string(gwv1.GatewayConditionAccepted))
				if acc == nil || acc.Status != metav1.ConditionFalse || acc.Reason != string(row.reason) {
					t.Fatalf("controller: Accepted %+v, want False %s", acc, row.reason)
				}
				if row.crd != nil {
					for _, w := range row.want {
						if !strings.Contains(acc.Message, w) {
							t.Errorf("controller: message %q lacks %q", acc.Message, w)
						}
					}
				} else if acc.Message != msgs[0] {
					t.Errorf("controller and berth render differ:\n%s\n%s", acc.Message, msgs[0])
				}
			}
			if !found {
				t.Fatalf("no input for Gateway %s", row.gateway)
			}
		})
	}
}

// The Gateway that keeps an object two Gateways name is Accepted, and its
// status names the refused Gateway.
func TestCollisionKeptNote(t *testing.T) {
	in := tableClass + proxyNamingService("ns", "p") +
		tableGateway("ns", "a", gatewayParams, "{name: http, port: 80, protocol: HTTP}") +
		tableGateway("ns", "b", gatewayParams, "{name: http, port: 80, protocol: HTTP}")
	set, err := manifest.DecodeAll(manifest.Input{Source: "in.yaml", Reader: strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	// b was created first: it keeps the Service, whatever the names say.
	set.Gateways[0].CreationTimestamp = metav1.Unix(200, 0)
	set.Gateways[1].CreationTimestamp = metav1.Unix(100, 0)
	inputs, err := render.StaticInputs(render.Static{GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies}, examples.ControllerName)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status metav1.ConditionStatus
		msg    string
	}{
		"a": {metav1.ConditionFalse, "gateway ns/a: Service ns/shared is also an object of Gateway ns/b (created earlier), which keeps it"},
		"b": {metav1.ConditionTrue, "Gateway accepted by berth; Service ns/shared is also an object of Gateway ns/a (created later), which is refused"},
	}
	for _, in := range inputs {
		acc := meta.FindStatusCondition(controller.RenderedConditions(in, render.DefaultOptions()), string(gwv1.GatewayConditionAccepted))
		w := want[in.Gateway.Name]
		if acc == nil || acc.Status != w.status || acc.Message != w.msg {
			t.Errorf("Gateway %s: Accepted %+v, want %s %q", in.Gateway.Name, acc, w.status, w.msg)
		}
	}
}

// A TLS Secret written with stringData is read offline as the apiserver
// stores it (merged into data): translate gives the same output as from
// data, where it used to refuse the certificate as bad PEM.
func TestStringDataSecret(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "examples", "https-listener.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := manifest.DecodeAll(manifest.Input{Source: "in.yaml", Reader: bytes.NewReader(raw)})
	if err != nil {
		t.Fatal(err)
	}
	viaString := string(raw)
	block := "\nstringData:\n"
	for k, v := range set.Secrets[0].Data {
		enc := base64.StdEncoding.EncodeToString(v)
		if !strings.Contains(viaString, "  "+k+": "+enc+"\n") {
			t.Fatalf("example has no data key %s", k)
		}
		viaString = strings.Replace(viaString, "  "+k+": "+enc+"\n", "", 1)
		block += fmt.Sprintf("  %s: %q\n", k, v)
	}
	viaString = strings.Replace(viaString, "\ndata:\n", block, 1)
	outputs := make([]string, 2)
	for i, in := range []string{string(raw), viaString} {
		root := cli.NewRootCmd()
		var stdout, stderr bytes.Buffer
		root.SetArgs([]string{"translate", "-f", "-"})
		root.SetIn(strings.NewReader(in))
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		if err := root.Execute(); err != nil {
			t.Fatalf("input %d: %v\n%s", i, err, in)
		}
		outputs[i] = stdout.String()
	}
	if !strings.Contains(viaString, "stringData:") || strings.Contains(viaString, "\ndata:") {
		t.Fatalf("input not rewritten to stringData:\n%s", viaString)
	}
	if outputs[0] != outputs[1] || !strings.Contains(outputs[0], "secure-team-a-tls") {
		t.Errorf("stringData and data translate differently (or not at all): %d and %d bytes", len(outputs[0]), len(outputs[1]))
	}
}
