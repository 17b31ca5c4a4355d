// Package clustertest proves that crdschema (custom resources) and
// corevalidation (the core kinds berth reads) refuse exactly what a real
// kube-apiserver, with the same CRDs installed, refuses: every object of a
// table of bad (and good) objects, and of examples/ and the seed
// manifests, is validated offline as berth render and translate validate
// it and created with a server-side dry run.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/cli"
	"github.com/berth-gateway/berth/internal/crdschema"
	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: g}]
  rules:
`

const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g}
spec:
  gatewayClassName: berth
  listeners:
`

// row is an object of a table: its name, document, and what both must say.
type row struct {
	name, doc string
	// refused: both must refuse it (the kinds whose rows were added to
	// prove their CRDs are checked).
	refused bool
}

// table are objects the apiserver refuses or accepts for a reason of the
// CRDs: schema, enums, lengths, list types, CEL rules, ObjectMeta.
var table = []row{
	{name: "valid route", doc: route + "  - matches: [{path: {type: PathPrefix, value: /a}}]\n"},
	{name: "route with status", doc: route + "  - {}\nstatus: {parents: [{}]}\n"},
	{name: "regex path without value", doc: route + "  - matches: [{path: {type: RegularExpression}}]\n"},
	{name: "filter without its field", doc: route + "  - filters: [{type: RequestRedirect}]\n"},
	{name: "relative exact path", doc: route + "  - matches: [{path: {type: Exact, value: a}}]\n"},
	{name: "bad path type", doc: route + "  - matches: [{path: {type: Glob, value: /a}}]\n"},
	{name: "parentRef name too long", doc: strings.Replace(route, "[{name: g}]", "[{name: "+strings.Repeat("a", 254)+"}]", 1) + "  - {}\n"},
	{name: "bad hostname", doc: strings.Replace(route, "spec:\n", "spec:\n  hostnames: ['*.*.example']\n", 1) + "  - {}\n"},
	{name: "redirect and URL rewrite", doc: route + "  - filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /x}}}, {type: URLRewrite, urlRewrite: {hostname: a.example}}]\n"},
	{name: "bad label value", doc: strings.Replace(route, "{name: r}", "{name: r, labels: {team: -bad-}}", 1) + "  - {}\n"},
	{name: "bad name", doc: strings.Replace(route, "{name: r}", "{name: Bad_Name}", 1) + "  - {}\n"},
	{name: "valid gateway", doc: gateway + "  - {name: http, port: 80, protocol: HTTP}\n"},
	{name: "no gatewayClassName", doc: strings.Replace(gateway, "  gatewayClassName: berth\n", "", 1) + "  - {name: http, port: 80, protocol: HTTP}\n"},
	{name: "TCP listener with a hostname", doc: gateway + "  - {name: tcp, port: 80, protocol: TCP, hostname: a.example}\n"},
	{name: "duplicate listener names", doc: gateway + "  - {name: http, port: 80, protocol: HTTP}\n  - {name: http, port: 81, protocol: HTTP}\n"},
	{name: "same port protocol hostname", doc: gateway + "  - {name: a, port: 80, protocol: HTTP}\n  - {name: b, port: 80, protocol: HTTP}\n"},
	{name: "65 listeners", doc: gateway + strings.Repeat("  - {name: l, port: 80, protocol: HTTP}\n", 65)},
	{name: "port 0", doc: gateway + "  - {name: http, port: 0, protocol: HTTP}\n"},
	{name: "huge infrastructure annotation", doc: strings.Replace(gateway, "spec:\n", "spec:\n  infrastructure: {annotations: {big: "+strings.Repeat("x", 5000)+"}}\n", 1) + "  - {name: http, port: 80, protocol: HTTP}\n"},
	{name: "bad infrastructure label", doc: strings.Replace(gateway, "spec:\n", "spec:\n  infrastructure: {labels: {team: -bad-}}\n", 1) + "  - {name: http, port: 80, protocol: HTTP}\n"},
	{name: "bad IP address", doc: strings.Replace(gateway, "spec:\n", "spec:\n  addresses: [{type: IPAddress, value: not-an-ip}]\n", 1) + "  - {name: http, port: 80, protocol: HTTP}\n"},
	{name: "HTTPS listener without TLS", doc: gateway + "  - {name: https, port: 443, protocol: HTTPS}\n"},
	{name: "gRPC service with a slash", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec:\n  rules: [{matches: [{method: {service: bad/service}}]}]\n"},
	{name: "ReferenceGrant without from", doc: "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: r}\nspec:\n  from: []\n  to: [{group: '', kind: Service}]\n"},
	{name: "ListenerSet without listeners", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: l}\nspec:\n  parentRef: {name: g}\n  listeners: []\n"},
	{name: "TCPRoute without backends", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: t}\nspec:\n  rules: [{backendRefs: []}]\n"},
	{name: "TCPRoute backend port out of range", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: t}\nspec:\n  parentRefs: [{name: g}]\n  rules: [{backendRefs: [{name: s, port: 70000}]}]\n", refused: true},
	{name: "TLSRoute bad hostname", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: t}\nspec:\n  parentRefs: [{name: g}]\n  hostnames: ['*.*.example']\n  rules: [{backendRefs: [{name: s, port: 443}]}]\n", refused: true},
	{name: "UDPRoute backend without a port", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: UDPRoute\nmetadata: {name: u}\nspec:\n  parentRefs: [{name: g}]\n  rules: [{backendRefs: [{name: s}]}]\n", refused: true},
	{name: "BackendTLSPolicy with both CA kinds", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: b}\nspec:\n  targetRefs: [{group: '', kind: Service, name: s}]\n  validation: {hostname: s.example, wellKnownCACertificates: System, caCertificateRefs: [{group: '', kind: ConfigMap, name: c}]}\n", refused: true},
	{name: "ListenerSet TCP listener with a hostname", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: l}\nspec:\n  parentRef: {name: g}\n  listeners: [{name: t, port: 9000, protocol: TCP, hostname: a.example}]\n", refused: true},
	{name: "EnvoyProxy of an unknown provider", doc: "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyProxy\nmetadata: {name: p}\nspec: {provider: {type: Docker}}\n"},
	{name: "GatewayClass with a bad controllerName", doc: "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: crdschema-test}\nspec: {controllerName: no-slash}\n"},
}

// coreTable are core objects berth's offline commands read, refused or
// accepted by the apiserver's own validation (corevalidation).
var coreTable = []row{
	{name: "valid service", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{name: http, port: 80, targetPort: web, appProtocol: kubernetes.io/h2c}], selector: {app: a}}\n"},
	{name: "service with a bad name, port and port name", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Svc}\nspec: {ports: [{name: x y, port: 0}]}\n", refused: true},
	{name: "service without ports", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: a}}\n", refused: true},
	{name: "service ports without names", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}, {port: 81}]}\n", refused: true},
	{name: "service duplicate port", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{name: a, port: 80}, {name: b, port: 80}]}\n", refused: true},
	{name: "service bad protocol and target port", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, protocol: HTTP, targetPort: not_a_port}]}\n", refused: true},
	{name: "service bad appProtocol", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, appProtocol: 'a b'}]}\n", refused: true},
	{name: "service unknown type", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: Internal, ports: [{port: 80}]}\n", refused: true},
	{name: "service nodePort on ClusterIP", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, nodePort: 30080}]}\n", refused: true},
	{name: "service bad clusterIP", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.300, ports: [{port: 80}]}\n", refused: true},
	{name: "service two IPv4 clusterIPs", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.1, 10.0.0.2], ports: [{port: 80}]}\n", refused: true},
	{name: "service bad selector", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}], selector: {app: -bad-}}\n", refused: true},
	{name: "service externalTrafficPolicy on ClusterIP", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {externalTrafficPolicy: Local, ports: [{port: 80}]}\n", refused: true},
	{name: "service sourceRanges on ClusterIP", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {loadBalancerSourceRanges: [10.0.0.0/8], ports: [{port: 80}]}\n", refused: true},
	{name: "service loadBalancerClass on ClusterIP", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {loadBalancerClass: example.com/lb, ports: [{port: 80}]}\n", refused: true},
	{name: "service bad affinity timeout", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, ports: [{port: 80}]}\n", refused: true},
	{name: "service loopback externalIP", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {externalIPs: [127.0.0.1], ports: [{port: 80}]}\n", refused: true},
	{name: "valid ExternalName service", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: ExternalName, externalName: backend.example.com.}\n"},
	{name: "ExternalName with a bad name", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: ExternalName, externalName: bad_name}\n", refused: true},
	{name: "valid LoadBalancer service", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer, externalTrafficPolicy: Cluster, loadBalancerSourceRanges: [10.0.0.0/8], ports: [{port: 80}]}\n"},
	{name: "valid tls secret", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: a, tls.key: b}\n"},
	{name: "tls secret without its keys, bad key", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata: {bad/key: aGVsbG8=}\n", refused: true},
	{name: "dockerconfigjson secret not JSON", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{'}\n", refused: true},
	{name: "basic-auth secret without keys", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\n", refused: true},
	{name: "secret over 1 MiB", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {big: " + strings.Repeat("x", 1<<20+1) + "}\n", refused: true},
	{name: "configmap bad key and duplicate", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'a b': x, ca.crt: y}\nbinaryData: {ca.crt: eQ==}\n", refused: true},
	{name: "configmap bad finalizer", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, finalizers: [nonstandard]}\n", refused: true},
	{name: "valid namespace", doc: "apiVersion: v1\nkind: Namespace\nmetadata: {name: corevalidation-test}\n"},
	{name: "namespace with a bad name", doc: "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad.Namespace}\n", refused: true},
	{name: "valid endpointslice", doc: "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nports: [{name: http, port: 80}]\nendpoints: [{addresses: [10.1.2.3], hostname: pod-a}]\n"},
	{name: "endpointslice bad addresses", doc: "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints: [{addresses: ['::1', 127.0.0.1, not-an-ip]}, {addresses: []}]\n", refused: true},
	{name: "endpointslice bad type and ports", doc: "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IP\nports: [{name: a, protocol: HTTP}, {name: a}]\n", refused: true},
}

// object is one document: what the apiserver gets and what berth decodes.
type object struct {
	name string
	raw  *unstructured.Unstructured
	// mustRefuse: a table row both must refuse.
	mustRefuse bool
}

func TestRefusesWhatTheAPIServerRefuses(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	for _, row := range append(table[:len(table):len(table)], coreTable...) {
		rowObjs := docs(t, "table/"+row.name, []byte(row.doc))
		for i := range rowObjs {
			rowObjs[i].mustRefuse = row.refused
		}
		objs = append(objs, rowObjs...)
	}
	files, _ := filepath.Glob("../../../examples/*.yaml")
	seed, _ := filepath.Glob("../../../../shared/seed/*.yaml")
	if len(seed) == 0 {
		t.Log("no ../shared/seed beside the repository: examples/ only")
	}
	for _, f := range append(files, seed...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, docs(t, filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), data)...)
	}
	tested, refused := 0, 0
	for _, o := range objs {
		gvk := o.raw.GroupVersionKind()
		if !v.Has(gvk.GroupKind()) && !coreKinds[gvk.Kind] {
			continue
		}
		tested++
		t.Run(o.name, func(t *testing.T) {
			if gvk.Kind != "GatewayClass" && gvk.Kind != "Namespace" { // the cluster-scoped kinds
				o.raw.SetNamespace(ns)
			}
			// Offline, as berth render and translate read it.
			js, err := o.raw.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var offline string
			set, err := manifest.DecodeAll(manifest.Input{Source: "in", Reader: bytes.NewReader(js)})
			if err != nil {
				offline = err.Error()
			} else {
				typed := typedObjects(set)
				if len(typed) != 1 {
					t.Fatalf("decoded %d objects", len(typed))
				}
				errs, err := cli.ValidateObject(v, set, typed[0])
				if err != nil {
					t.Fatal(err)
				}
				offline = crdschema.FieldErrors(errs)
			}
			server := create(t, env, o.raw)
			switch {
			case offline == "" && server != "":
				t.Fatalf("offline accepts, the apiserver refuses: %s", server)
			case offline != "" && server == "":
				t.Fatalf("offline refuses, the apiserver accepts: %s", offline)
			case offline == "":
				if o.mustRefuse {
					t.Fatal("offline and the apiserver accept it; the row is meant to be refused")
				}
				return
			}
			refused++
			t.Logf("refused:\n  offline:   %s\n  apiserver: %s", offline, server)
			if err != nil {
				return
			}
			for _, e := range strings.Split(offline, ", ") {
				if !strings.Contains(server, e) {
					t.Errorf("the apiserver's message lacks %q", e)
				}
			}
		})
	}
	if tested < len(table)+len(coreTable) || refused == 0 {
		t.Fatalf("%d objects tested, %d refused", tested, refused)
	}
}

// docs splits data into its documents.
func docs(t *testing.T, name string, data []byte) []object {
	t.Helper()
	var out []object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		u := &unstructured.Unstructured{}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) || u.UnmarshalJSON(js) != nil {
			continue // comments only, or not an object (helm values)
		}
		if len(out) > 0 || !strings.HasPrefix(name, "table/") {
			name = name + "/" + u.GetKind() + "/" + u.GetName()
		}
		out = append(out, object{name: name, raw: u})
	}
}

// coreKinds are the core kinds berth's offline commands read and
// corevalidation validates.
var coreKinds = map[string]bool{"Service": true, "EndpointSlice": true, "Secret": true, "Namespace": true, "ConfigMap": true}

// typedObjects are the objects of a set of the kinds that have a CRD and of
// coreKinds.
func typedObjects(s *manifest.Set) []any {
	var out []any
	for _, l := range [][]any{toAny(s.GatewayClasses), toAny(s.Gateways), toAny(s.ListenerSets), toAny(s.HTTPRoutes), toAny(s.GRPCRoutes),
		toAny(s.TCPRoutes), toAny(s.TLSRoutes), toAny(s.UDPRoutes), toAny(s.ReferenceGrants), toAny(s.EnvoyProxies),
		toAny(s.BackendTLSPolicies), toAny(s.ClientTrafficPolicies),
		toAny(s.Services), toAny(s.EndpointSlices), toAny(s.Secrets), toAny(s.Namespaces), toAny(s.ConfigMaps)} {
		out = append(out, l...)
	}
	return out
}

func toAny[T any](l []*T) []any {
	out := make([]any, len(l))
	for i, o := range l {
		out[i] = o
	}
	return out
}

// create creates obj with a server-side dry run and returns the
// apiserver's refusal ("" when it accepts).
func create(t *testing.T, env *testenv.Env, obj *unstructured.Unstructured) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gvk := obj.GroupVersionKind()
	m, err := env.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("map %s: %v", gvk, err)
	}
	ri := env.Dynamic.Resource(m.Resource)
	opts := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		_, err = ri.Namespace(obj.GetNamespace()).Create(ctx, obj, opts)
	} else {
		_, err = ri.Create(ctx, obj, opts)
	}
	switch {
	case err == nil:
		return ""
	case apierrors.IsAlreadyExists(err):
		return "" // a Namespace of the manifests: validated before storage
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return err.Error()
	}
	t.Fatalf("create %s %s: %v", gvk.Kind, obj.GetName(), err)
	return ""
}
