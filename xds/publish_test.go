package xds_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// Publish applies translate.Validate, the validation `berth translate`
// applies: a snapshot the offline command would refuse (here a route regex
// RE2 rejects, which is consistent as far as references go) is refused with
// an error naming the resource, the previous snapshot stays served, and
// nothing of it reaches a connected proxy.
func TestPublishServesOnlyWhatValidates(t *testing.T) {
	h := newHarness(t, nil)
	good := h.publish(t, gwA, idA, fixA.Resources())
	if want := translate.Version(fixA.Resources()); good != want {
		t.Fatalf("Publish version %s, translate.Version %s: want one version", good, want)
	}
	c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	before := c.State()

	bad := fixA.Resources()
	rc := proto.Clone(bad[resourcev3.RouteType][0]).(*routev3.RouteConfiguration)
	rc.VirtualHosts[0].Routes[0].Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/(unclosed"}}}
	bad[resourcev3.RouteType][0] = rc
	if translate.Validate(bad) == nil {
		t.Fatal("the invalid snapshot passes translate.Validate")
	}
	_, err := h.srv.Publish(gwA, idA, bad)
	if !errors.Is(err, translate.ErrInvalidResources) {
		t.Fatalf("Publish = %v, want an error wrapping translate.ErrInvalidResources", err)
	}
	for _, want := range []string{`"route/8080"`, "invalid regular expression", gwA.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Publish error %q does not name %s", err, want)
		}
	}
	if v, _ := h.srv.Published(gwA); v != good {
		t.Fatalf("Published = %s after the refused snapshot, want %s", v, good)
	}
	served := h.srv.PublishedResources(gwA, resourcev3.RouteType)
	if len(served) != len(fixA.Resources()[resourcev3.RouteType]) || !proto.Equal(served["route/8080"], fixA.Resources()[resourcev3.RouteType][0]) {
		t.Fatalf("PublishedResources(route) = %v after the refused snapshot, want the first snapshot's route/8080", served)
	}
	if got := h.srv.PublishedResources(gwB, resourcev3.RouteType); got != nil {
		t.Fatalf("PublishedResources of a Gateway never published = %v, want nil", got)
	}

	// A valid change after the refused one: the proxy's next response is
	// that change, so the refused snapshot never reached it.
	changed := fixA
	changed.EndpointIP = "10.0.0.9"
	h.publish(t, gwA, idA, changed.Resources())
	if err := c.Wait(ctxT(t), func(s xdstest.State) bool { return xdstest.EndpointIPs(s)["10.0.0.9"] }); err != nil {
		t.Fatal(err)
	}
	after := c.State()
	if after.Responses != before.Responses+1 {
		t.Fatalf("%d responses after one refused and one valid publish, want 1", after.Responses-before.Responses)
	}
	if after.Versions[resourcev3.RouteType] != before.Versions[resourcev3.RouteType] {
		t.Fatalf("route version changed %s → %s: the refused route table was served", before.Versions[resourcev3.RouteType], after.Versions[resourcev3.RouteType])
	}
}

// BenchmarkPublish publishes one Gateway of 100 HTTPRoutes (1,000 Envoy
// routes): "full" alternates two route tables (everything is validated),
// "endpoints" alternates two endpoint addresses (the unchanged route table
// is not validated again).
func BenchmarkPublish(b *testing.B) {
	snapshot := func(prefix, ip string) map[string][]cachetypes.Resource {
		in := translate.Input{
			GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
			Gateways: []*gwv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Namespace: gwA.Namespace, Name: gwA.Name}, Spec: gwv1.GatewaySpec{
				GatewayClassName: "eg", Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}},
			}}},
			Services: []*corev1.Service{{ObjectMeta: metav1.ObjectMeta{Namespace: gwA.Namespace, Name: "app"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}},
			EndpointSlices: []*discoveryv1.EndpointSlice{{
				ObjectMeta:  metav1.ObjectMeta{Namespace: gwA.Namespace, Name: "app-1", Labels: map[string]string{discoveryv1.LabelServiceName: "app"}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}}},
			}},
		}
		for r := 0; r < 100; r++ {
			route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: gwA.Namespace, Name: fmt.Sprintf("r%d", r)}, Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: gwv1.ObjectName(gwA.Name)}}},
			}}
			for i := 0; i < 10; i++ {
				route.Spec.Rules = append(route.Spec.Rules, gwv1.HTTPRouteRule{
					Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Value: ptr(fmt.Sprintf("/%s%d/%d", prefix, r, i))}}},
					BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "app", Port: ptr(gwv1.PortNumber(80))}}}},
				})
			}
			in.HTTPRoutes = append(in.HTTPRoutes, route)
		}
		return translate.Translate(in, translate.DefaultOptions())[0].Resources
	}
	for _, c := range []struct {
		name string
		a, b map[string][]cachetypes.Resource
	}{
		{"full", snapshot("a", "10.0.0.1"), snapshot("b", "10.0.0.1")},
		{"endpoints", snapshot("a", "10.0.0.1"), snapshot("a", "10.0.0.2")},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := newHarness(b, nil)
			h.publish(b, gwA, idA, c.a)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				res := c.b
				if i%2 == 1 {
					res = c.a
				}
				h.publish(b, gwA, idA, res)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
