package translate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/translate"
)

// FuzzTranslateHTTPRoute feeds arbitrary HTTPRoutes (JSON, seeded with
// every route of the golden inputs) to a Gateway with HTTP and HTTPS-less
// listeners on shared ports: translation must never panic, and whatever it
// produces must pass Validate.
func FuzzTranslateHTTPRoute(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.in.yaml")
	for _, in := range inputs {
		r, err := os.Open(in)
		if err != nil {
			f.Fatal(err)
		}
		set, err := manifest.DecodeAll(manifest.Input{Source: in, Reader: r})
		r.Close()
		if err != nil {
			f.Fatal(err)
		}
		for _, route := range set.HTTPRoutes {
			b, err := json.Marshal(route)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	from := gwv1.NamespacesFromAll
	host := gwv1.Hostname("*.example.com")
	base := translate.Input{
		GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
		Services: []*corev1.Service{
			{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "v1", Namespace: "front"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		route := &gwv1.HTTPRoute{}
		if err := json.Unmarshal(data, route); err != nil {
			return
		}
		// Point every parentRef at the one Gateway so the route is translated.
		route.Namespace = "default"
		route.Spec.ParentRefs = []gwv1.ParentReference{{Name: "gw"}}
		gw := &gwv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "default"},
			Spec: gwv1.GatewaySpec{GatewayClassName: "eg", Listeners: []gwv1.Listener{
				{Name: "a", Port: 80, Protocol: gwv1.HTTPProtocolType, AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}},
				{Name: "b", Port: 80, Protocol: gwv1.HTTPProtocolType, Hostname: &host},
				{Name: "c", Port: 8080, Protocol: gwv1.HTTPProtocolType},
			}},
		}
		in := base
		in.Gateways = []*gwv1.Gateway{gw}
		in.HTTPRoutes = []*gwv1.HTTPRoute{route, route.DeepCopy()}
		in.HTTPRoutes[1].Name += "-copy"
		for _, r := range translate.Translate(in, translate.DefaultOptions()) {
			if err := translate.Validate(r.Resources); err != nil {
				t.Fatalf("translated resources do not validate: %v\nroute: %s", err, data)
			}
		}
	})
}
