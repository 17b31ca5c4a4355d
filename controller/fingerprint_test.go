package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/render"
)

// renderFingerprint moves with every input render reads (each object's
// identity and generation, the CA bundle) and with a parameters object
// appearing; it stays for the same inputs.
func TestRenderFingerprint(t *testing.T) {
	meta := func(name string, gen int64) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: name, UID: k8stypes.UID("uid-" + name), Generation: gen}
	}
	input := func() render.Input {
		return render.Input{
			GatewayClass:    &gwv1.GatewayClass{ObjectMeta: meta("class", 1)},
			Gateway:         &gwv1.Gateway{ObjectMeta: meta("gw", 1)},
			ClassParameters: &v1alpha1.EnvoyProxy{ObjectMeta: meta("proxy", 1)},
		}
	}
	base := renderFingerprint(input(), []byte("ca"))
	if again := renderFingerprint(input(), []byte("ca")); again != base {
		t.Errorf("same inputs, fingerprints %s and %s", base, again)
	}
	changes := map[string]func(*render.Input, *[]byte){
		"Gateway generation":  func(in *render.Input, _ *[]byte) { in.Gateway.Generation = 2 },
		"Gateway UID":         func(in *render.Input, _ *[]byte) { in.Gateway.UID = "other" },
		"class generation":    func(in *render.Input, _ *[]byte) { in.GatewayClass.Generation = 2 },
		"class parameters":    func(in *render.Input, _ *[]byte) { in.ClassParameters.Generation = 2 },
		"no class parameters": func(in *render.Input, _ *[]byte) { in.ClassParameters = nil },
		"Gateway parameters": func(in *render.Input, _ *[]byte) {
			in.GatewayParameters = &v1alpha1.EnvoyProxy{ObjectMeta: meta("own", 1)}
		},
		"parameters moved":     func(in *render.Input, _ *[]byte) { in.GatewayParameters, in.ClassParameters = in.ClassParameters, nil },
		"CA bundle":            func(_ *render.Input, ca *[]byte) { *ca = []byte("rotated") },
		"parameters recreated": func(in *render.Input, _ *[]byte) { in.ClassParameters.UID = "new" },
	}
	for name, change := range changes {
		in, ca := input(), []byte("ca")
		change(&in, &ca)
		if renderFingerprint(in, ca) == base {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
}
