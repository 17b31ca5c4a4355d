package controller

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/translate"
)

// TestStrippedCacheTranslatesAlike: every golden input of xds/translate,
// its Services and EndpointSlices stripped as the controller's cache
// strips them, translates to exactly the output of the input as written.
func TestStrippedCacheTranslatesAlike(t *testing.T) {
	paths, err := filepath.Glob("../xds/translate/testdata/*.in.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	slices := 0
	for _, path := range paths {
		in := goldenInput(t, path)
		want, err := translate.Marshal(translate.Translate(in, translate.DefaultOptions()), translate.FormatYAML)
		if err != nil {
			t.Fatal(err)
		}
		stripped := in
		stripped.Services = nil
		for _, s := range in.Services {
			o, _ := stripService(s.DeepCopy())
			stripped.Services = append(stripped.Services, o.(*corev1.Service))
		}
		stripped.EndpointSlices = nil
		for _, s := range in.EndpointSlices {
			o, _ := stripEndpointSlice(s.DeepCopy())
			stripped.EndpointSlices = append(stripped.EndpointSlices, o.(*discoveryv1.EndpointSlice))
			slices++
		}
		got, err := translate.Marshal(translate.Translate(stripped, translate.DefaultOptions()), translate.FormatYAML)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: stripped Services and EndpointSlices translate differently", path)
		}
	}
	if slices == 0 {
		t.Fatal("no EndpointSlice in the golden inputs")
	}
}

// TestStripKeepsWhatStatusReads: a stripped Service keeps what the
// gateway controller reads (type, cluster IPs, load-balancer status,
// labels); a stripped EndpointSlice drops what no one reads.
func TestStripKeepsWhatStatusReads(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "envoy", UID: "u", ResourceVersion: "7", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{…}"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.0.0.7", ClusterIPs: []string{"10.0.0.7"},
			Selector: map[string]string{"app": "envoy"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}}},
	}
	o, _ := stripService(svc.DeepCopy())
	got := o.(*corev1.Service)
	if !equality.Semantic.DeepEqual(serviceAddresses(got), serviceAddresses(svc)) || got.Spec.Type != svc.Spec.Type ||
		!equality.Semantic.DeepEqual(got.Labels, svc.Labels) || got.ResourceVersion != "7" {
		t.Errorf("stripped Service lost what status reads: %+v", got)
	}
	if got.Annotations != nil || got.Spec.Selector != nil {
		t.Errorf("stripped Service kept annotations or selector: %+v", got)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "team-a", Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.4"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true)},
			NodeName: ptr.To("node-1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-1"}}},
	}
	o, _ = stripEndpointSlice(slice.DeepCopy())
	want := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "team-a", Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.0.4"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if !equality.Semantic.DeepEqual(o, want) {
		t.Errorf("stripped EndpointSlice:\n%+v\nwant\n%+v", o, want)
	}
}

func goldenInput(t *testing.T, path string) translate.Input {
	t.Helper()
	set, err := manifest.ReadFiles([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return translate.InputFromSet(set)
}
