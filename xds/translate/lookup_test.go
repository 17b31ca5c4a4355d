package translate_test

import (
	"bytes"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// listLookup is a translate.Lookup over lists, searched linearly, and
// counting its calls.
type listLookup struct {
	in    translate.Input
	calls int
}

func (l *listLookup) Service(k k8stypes.NamespacedName) *corev1.Service {
	l.calls++
	for _, s := range l.in.Services {
		if s.Namespace == k.Namespace && s.Name == k.Name {
			return s
		}
	}
	return nil
}

func (l *listLookup) EndpointSlices(k k8stypes.NamespacedName) []*discoveryv1.EndpointSlice {
	l.calls++
	var out []*discoveryv1.EndpointSlice
	for _, s := range l.in.EndpointSlices {
		if s.Namespace == k.Namespace && s.Labels[discoveryv1.LabelServiceName] == k.Name {
			out = append(out, s)
		}
	}
	return out
}

func (l *listLookup) Secret(k k8stypes.NamespacedName) *corev1.Secret {
	l.calls++
	for _, s := range l.in.Secrets {
		if s.Namespace == k.Namespace && s.Name == k.Name {
			return s
		}
	}
	return nil
}

func (l *listLookup) Namespace(name string) *corev1.Namespace {
	l.calls++
	for _, n := range l.in.Namespaces {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// TestLookupTranslatesAlike: translating each Gateway of every golden input
// alone — the Gateway, the routes naming it, and a Lookup instead of the
// Service, EndpointSlice, Secret and Namespace lists, as the controller does
// — gives exactly the output of translating the whole input.
func TestLookupTranslatesAlike(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	looked := 0
	for _, path := range paths {
		full := loadInput(t, path)
		want := translate.Translate(full, translate.DefaultOptions())
		var got []*translate.Result
		for _, r := range want {
			l := &listLookup{in: full}
			// What the controller lists whole (policies, EnvoyProxies, CA
			// ConfigMaps) is passed whole; the rest through the Lookup.
			in := translate.Input{
				GatewayClasses: full.GatewayClasses, ReferenceGrants: full.ReferenceGrants, Lookup: l,
				EnvoyProxies: full.EnvoyProxies, BackendTLSPolicies: full.BackendTLSPolicies, ConfigMaps: full.ConfigMaps,
				ClientTrafficPolicies: full.ClientTrafficPolicies,
			}
			for _, g := range full.Gateways {
				if g.Namespace == r.Gateway.Namespace && g.Name == r.Gateway.Name {
					in.Gateways = append(in.Gateways, g)
				}
			}
			// The ListenerSets naming the Gateway, and the routes naming
			// the Gateway or one of them.
			parents := map[k8stypes.NamespacedName]bool{r.Gateway: true}
			for _, s := range full.ListenerSets {
				if p := s.Spec.ParentRef; names(s.Namespace, []gwv1.ParentReference{{Namespace: p.Namespace, Name: p.Name}}, map[k8stypes.NamespacedName]bool{r.Gateway: true}) {
					in.ListenerSets = append(in.ListenerSets, s)
					parents[k8stypes.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = true
				}
			}
			in.HTTPRoutes = naming(parents, full.HTTPRoutes, func(x *gwv1.HTTPRoute) []gwv1.ParentReference { return x.Spec.ParentRefs })
			in.GRPCRoutes = naming(parents, full.GRPCRoutes, func(x *gwv1.GRPCRoute) []gwv1.ParentReference { return x.Spec.ParentRefs })
			in.TCPRoutes = naming(parents, full.TCPRoutes, func(x *gwv1.TCPRoute) []gwv1.ParentReference { return x.Spec.ParentRefs })
			in.TLSRoutes = naming(parents, full.TLSRoutes, func(x *gwv1.TLSRoute) []gwv1.ParentReference { return x.Spec.ParentRefs })
			in.UDPRoutes = naming(parents, full.UDPRoutes, func(x *gwv1.UDPRoute) []gwv1.ParentReference { return x.Spec.ParentRefs })
			res, err := translate.NewIndex(in, translate.DefaultOptions()).TranslateGateway(r.Gateway)
			if err != nil {
				t.Fatalf("%s: %s: %v", path, r.Gateway, err)
			}
			looked += l.calls
			got = append(got, res)
		}
		a, err := translate.Marshal(want, translate.FormatYAML)
		if err != nil {
			t.Fatal(err)
		}
		b, err := translate.Marshal(got, translate.FormatYAML)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: translating each Gateway alone through a Lookup differs from translating the whole input", path)
		}
	}
	if looked == 0 {
		t.Error("no translation read through the Lookup")
	}
}

// naming keeps the routes whose parentRefs name Gateway gw.
func naming[R interface{ GetNamespace() string }](parents map[k8stypes.NamespacedName]bool, routes []R, refs func(R) []gwv1.ParentReference) []R {
	var out []R
	for _, r := range routes {
		if names(r.GetNamespace(), refs(r), parents) {
			out = append(out, r)
		}
	}
	return out
}

// names reports whether parentRefs (of a route in ns) name one of parents
// (a Gateway or its ListenerSets).
func names(ns string, refs []gwv1.ParentReference, parents map[k8stypes.NamespacedName]bool) bool {
	for _, p := range refs {
		pns := ns
		if p.Namespace != nil {
			pns = string(*p.Namespace)
		}
		if parents[k8stypes.NamespacedName{Namespace: pns, Name: string(p.Name)}] {
			return true
		}
	}
	return false
}
