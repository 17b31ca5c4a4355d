package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/xds/translate"
)

// Every input kind is wired (watched, read from a translation input) and
// known to the scheme; a kind added to readiness.InputKinds without its
// wiring fails here, and checkWirings refuses to start.
func TestInputKindsWired(t *testing.T) {
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c := &Controller{}
	wirings := c.inputWirings()
	if len(wirings) != len(readiness.InputKinds) {
		t.Errorf("%d wirings for %d input kinds", len(wirings), len(readiness.InputKinds))
	}
	// One object of every input kind in a translation input.
	om := metav1.ObjectMeta{Namespace: "n", Name: "x"}
	in := &translate.Input{
		ListenerSets:          []*gwv1.ListenerSet{{ObjectMeta: om}},
		HTTPRoutes:            []*gwv1.HTTPRoute{{ObjectMeta: om}},
		GRPCRoutes:            []*gwv1.GRPCRoute{{ObjectMeta: om}},
		TCPRoutes:             []*gwv1.TCPRoute{{ObjectMeta: om}},
		TLSRoutes:             []*gwv1.TLSRoute{{ObjectMeta: om}},
		UDPRoutes:             []*gwv1.UDPRoute{{ObjectMeta: om}},
		BackendTLSPolicies:    []*gwv1.BackendTLSPolicy{{ObjectMeta: om}},
		ClientTrafficPolicies: []*v1alpha1.ClientTrafficPolicy{{ObjectMeta: om}},
	}
	for _, k := range readiness.InputKinds {
		w, ok := wirings[k.Kind.GroupKind()]
		if !ok || w.translated == nil || w.gateways == nil {
			t.Errorf("%s: not wired", k.Kind)
			continue
		}
		if _, err := scheme.New(k.Kind); err != nil {
			t.Errorf("%s: %v", k.Kind, err)
		}
		objs := w.translated(in)
		if len(objs) != 1 {
			t.Errorf("%s: %d objects of a translation input, want 1", k.Kind, len(objs))
			continue
		}
		gvks, _, err := scheme.ObjectKinds(objs[0])
		if err != nil || len(gvks) == 0 || gvks[0].GroupKind() != k.Kind.GroupKind() {
			t.Errorf("%s: a translation input gives %v (%v)", k.Kind, gvks, err)
		}
	}
}

// The xDS reconciler digests the class and EnvoyProxies its translation
// read, as the status reconciler does from the same objects.
func TestTranslatedGatewayInputs(t *testing.T) {
	ns := gwv1.Namespace("infra")
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth", UID: "c", Generation: 2},
		Spec: gwv1.GatewayClassSpec{ParametersRef: &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "p", Namespace: &ns}}}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gw"}, Spec: gwv1.GatewaySpec{GatewayClassName: "berth"}}
	ep := &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "p", UID: "e", Generation: 3}}
	other := &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "p", UID: "o", Generation: 1}}
	in := &translate.Input{GatewayClasses: []*gwv1.GatewayClass{class}, EnvoyProxies: []*v1alpha1.EnvoyProxy{other, ep}}
	if got, want := translatedGatewayInputs(gw, in).Digest(), readiness.GatewayInputs(gw, class, ep, nil).Digest(); got != want {
		t.Errorf("digest %s, want %s (the class's EnvoyProxy)", got, want)
	}
	in.EnvoyProxies = []*v1alpha1.EnvoyProxy{other}
	if got, want := translatedGatewayInputs(gw, in).Digest(), readiness.GatewayInputs(gw, class, nil, nil).Digest(); got != want {
		t.Errorf("missing EnvoyProxy: digest %s, want %s", got, want)
	}
	in.GatewayClasses = nil
	if got, want := translatedGatewayInputs(gw, in).Digest(), readiness.GatewayInputs(gw, nil, nil, nil).Digest(); got != want {
		t.Errorf("missing class: digest %s, want %s", got, want)
	}
}
