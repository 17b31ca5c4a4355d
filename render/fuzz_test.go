package render

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/manifest"
)

// mustRenderValid is the fuzz oracle: whatever renders passes checkBundle
// and checkNames, and rendering is deterministic.
func mustRenderValid(t *testing.T, render func() ([]*Bundle, error)) {
	bundles, err := render()
	if err != nil {
		var pe *ParametersError
		var ge *GatewayError
		var se *StaticError
		if !errors.As(err, &pe) && !errors.As(err, &ge) && !errors.As(err, &se) {
			t.Fatalf("untyped render error: %v", err)
		}
		return
	}
	for _, b := range bundles {
		if err := errors.Join(checkBundle(b, testOptions()), checkNames(b)); err != nil {
			t.Fatalf("bundle of %s: %v", b.Gateway, err)
		}
	}
	first, err := YAML(bundles)
	if err != nil {
		t.Fatal(err)
	}
	again, err := render()
	if err != nil {
		t.Fatalf("second render failed: %v", err)
	}
	second, err := YAML(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("render is not deterministic")
	}
}

// FuzzRenderManifest feeds arbitrary manifests (seeded with every golden
// input) through decoding and RenderStatic.
func FuzzRenderManifest(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := manifest.DecodeAll(manifest.Input{Source: "fuzz", Reader: bytes.NewReader(data)})
		if err != nil {
			return
		}
		mustRenderValid(t, func() ([]*Bundle, error) {
			return RenderStatic(Static{GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies},
				testControllerName, testOptions())
		})
	})
}

// FuzzRenderSpec builds Gateways and EnvoyProxies from arbitrary field
// values, reaching deeper than text mutations of whole manifests do.
func FuzzRenderSpec(f *testing.F) {
	f.Add("team-a", "gateway-a", uint16(8080), uint16(80), "HTTP", "LoadBalancer", "", int32(1), int32(0), int32(0), "", "", "x", "y", "", "", "")
	f.Add("n", "g.with.dots", uint16(19001), uint16(443), "UDP", "ClusterIP", "svc", int32(-1), int32(3), int32(1), "1", "", "bad key", "v", "img", "NodePort", "")
	f.Add(strings.Repeat("a", 63), strings.Repeat("b", 253), uint16(0), uint16(65535), "TLS", "NodePort", "Bad_Name", int32(5), int32(2), int32(9), "", "50%", "k", strings.Repeat("v", 64), "", "", "example.com/lb")
	f.Add("team-a", "gw", uint16(8080), uint16(8080), "HTTPS", "", "", int32(2), int32(0), int32(0), "", "", "a", "b", "", "LoadBalancer", "example.com/lb")
	f.Fuzz(func(t *testing.T, ns, name string, port1, port2 uint16, proto, svcType, svcName string,
		replicas, hpaMin, hpaMax int32, pdbMin, pdbMax, labelKey, labelValue, image, classSvcType, classLBClass string) {
		gw := &gwv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gwv1.GatewaySpec{
				GatewayClassName: "berth",
				Listeners: []gwv1.Listener{
					{Name: "a", Port: gwv1.PortNumber(port1), Protocol: gwv1.ProtocolType(proto)},
					{Name: "b", Port: gwv1.PortNumber(port2), Protocol: gwv1.HTTPProtocolType},
				},
				Infrastructure: &gwv1.GatewayInfrastructure{
					Labels:        map[gwv1.LabelKey]gwv1.LabelValue{gwv1.LabelKey(labelKey): gwv1.LabelValue(labelValue)},
					Annotations:   map[gwv1.AnnotationKey]gwv1.AnnotationValue{gwv1.AnnotationKey(labelKey): "v"},
					ParametersRef: &gwv1.LocalParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "p"},
				},
			},
		}
		k := &v1alpha1.EnvoyProxyKubernetesProvider{
			EnvoyService:    &v1alpha1.KubernetesServiceSpec{Labels: map[string]string{labelKey: labelValue}},
			EnvoyDeployment: &v1alpha1.KubernetesDeploymentSpec{Replicas: &replicas},
		}
		if svcType != "" {
			typ := v1alpha1.ServiceType(svcType)
			k.EnvoyService.Type = &typ
		}
		if svcName != "" {
			k.EnvoyService.Name = &svcName
		}
		if image != "" {
			k.EnvoyDeployment.Container = &v1alpha1.KubernetesContainerSpec{ImageRepository: &image}
		}
		if hpaMax != 0 {
			k.EnvoyHpa = &v1alpha1.KubernetesHorizontalPodAutoscalerSpec{MinReplicas: &hpaMin, MaxReplicas: &hpaMax}
		}
		if pdbMin != "" || pdbMax != "" {
			k.EnvoyPDB = &v1alpha1.KubernetesPodDisruptionBudgetSpec{}
			if pdbMin != "" {
				v := intstr.Parse(pdbMin)
				k.EnvoyPDB.MinAvailable = &v
			}
			if pdbMax != "" {
				v := intstr.Parse(pdbMax)
				k.EnvoyPDB.MaxUnavailable = &v
			}
		}
		ep := &v1alpha1.EnvoyProxy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"},
			Spec:       v1alpha1.EnvoyProxySpec{Provider: &v1alpha1.EnvoyProxyProvider{Type: v1alpha1.ProviderTypeKubernetes, Kubernetes: k}},
		}
		class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth"}, Spec: gwv1.GatewayClassSpec{ControllerName: testControllerName}}
		in := Input{GatewayClass: class, Gateway: gw, GatewayParameters: ep}
		if classSvcType != "" || classLBClass != "" {
			// A class-level EnvoyProxy underneath, merged with the Gateway's.
			cs := &v1alpha1.KubernetesServiceSpec{}
			if classSvcType != "" {
				typ := v1alpha1.ServiceType(classSvcType)
				cs.Type = &typ
			}
			if classLBClass != "" {
				cs.LoadBalancerClass = &classLBClass
			}
			class.Spec.ParametersRef = &gwv1.ParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "class", Namespace: (*gwv1.Namespace)(&ns)}
			in.ClassParameters = &v1alpha1.EnvoyProxy{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "class"},
				Spec: v1alpha1.EnvoyProxySpec{Provider: &v1alpha1.EnvoyProxyProvider{Type: v1alpha1.ProviderTypeKubernetes,
					Kubernetes: &v1alpha1.EnvoyProxyKubernetesProvider{EnvoyService: cs}}},
			}
		}
		mustRenderValid(t, func() ([]*Bundle, error) {
			b, err := Render(in, testOptions())
			if err != nil {
				return nil, err
			}
			return []*Bundle{b}, nil
		})
	})
}
