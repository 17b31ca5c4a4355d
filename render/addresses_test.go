package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// TestDualStackClusterIPs: an IPv4 and an IPv6 address on a ClusterIP
// Service ask for a dual-stack Service (the apiserver defaults SingleStack,
// which refuses two cluster IPs); one address stays single-stack.
func TestDualStackClusterIPs(t *testing.T) {
	for _, tc := range []struct {
		addrs  []string
		policy *corev1.IPFamilyPolicy
	}{
		{[]string{"10.96.0.50"}, nil},
		{[]string{"10.96.0.50", "fd00::50"}, ptr.To(corev1.IPFamilyPolicyRequireDualStack)},
	} {
		gw := testGateway(&gwv1.LocalParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "proxy"})
		for _, a := range tc.addrs {
			gw.Spec.Addresses = append(gw.Spec.Addresses, gwv1.GatewaySpecAddress{Type: ptr.To(gwv1.IPAddressType), Value: a})
		}
		ep := proxy("team-a", "proxy", &v1alpha1.EnvoyProxyKubernetesProvider{
			EnvoyService: &v1alpha1.KubernetesServiceSpec{Type: ptr.To(v1alpha1.ServiceTypeClusterIP)}})
		b, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw, GatewayParameters: ep}, testOptions())
		if err != nil {
			t.Fatalf("%v: %v", tc.addrs, err)
		}
		var svc *corev1.Service
		for _, o := range b.Objects {
			if s, ok := o.(*corev1.Service); ok {
				svc = s
			}
		}
		if svc == nil {
			t.Fatalf("%v: no Service rendered", tc.addrs)
		}
		if len(svc.Spec.ClusterIPs) != len(tc.addrs) || svc.Spec.ClusterIP != tc.addrs[0] {
			t.Errorf("%v: clusterIP %q clusterIPs %v", tc.addrs, svc.Spec.ClusterIP, svc.Spec.ClusterIPs)
		}
		if got := svc.Spec.IPFamilyPolicy; (got == nil) != (tc.policy == nil) || got != nil && *got != *tc.policy {
			t.Errorf("%v: ipFamilyPolicy %v, want %v", tc.addrs, got, tc.policy)
		}
	}
}
