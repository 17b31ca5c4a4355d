package examples

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// l4-routes.yaml: the Service opens the TCP, TLS and UDP listener ports
// (UDP with protocol UDP), every route is accepted and the translation
// validates.
func TestL4Routes(t *testing.T) {
	set, bundles := renderFile(t, "l4-routes.yaml")
	var ports []string
	for _, o := range bundles[0].Objects {
		if svc, ok := o.(*corev1.Service); ok {
			for _, p := range svc.Spec.Ports {
				ports = append(ports, fmt.Sprintf("%d/%s->%s", p.Port, p.Protocol, p.TargetPort.String()))
			}
		}
	}
	slices.Sort(ports)
	if want := []string{"443/TCP->10443", "53/UDP->10053", "5432/TCP->5432"}; !slices.Equal(ports, want) {
		t.Errorf("Service ports %v, want %v", ports, want)
	}
	results := translate.Translate(translate.InputFromSet(set), translate.DefaultOptions())
	if len(results) != 1 {
		t.Fatalf("%d Gateways translated", len(results))
	}
	if err := translate.Validate(results[0].Resources); err != nil {
		t.Fatal(err)
	}
	if len(results[0].Routes) != 3 {
		t.Fatalf("%d route statuses, want 3", len(results[0].Routes))
	}
	for _, r := range results[0].Routes {
		if c := r.Condition(gwv1.RouteConditionAccepted); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("%s %s: %+v", r.Kind, r.Route, c)
		}
	}
}
