package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GRPCRoutes get berth's status.parents entries like HTTPRoutes (Accepted,
// ResolvedRefs with the spec's reasons, for the route's generation), a
// GRPCRoute change re-translates its Gateway, and the listener counts it and
// lists GRPCRoute among its supported kinds.
func TestGRPCRouteStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.create(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "echo"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "grpc", Port: 9000}}},
	})
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	route := &gwv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "echo"},
		Spec: gwv1.GRPCRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: gwv1.ObjectName(gw.Name)}}},
			Rules: []gwv1.GRPCRouteRule{{
				Matches:     []gwv1.GRPCRouteMatch{{Method: &gwv1.GRPCMethodMatch{Service: ptr.To("echo.v1.Echo")}}},
				BackendRefs: []gwv1.GRPCBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "missing", Port: ptr.To(gwv1.PortNumber(9000))}}}},
			}},
		},
	}
	h.create(route)
	key := client.ObjectKeyFromObject(route)
	routeConditions := func(resolvedReason string) func() error {
		return func() error {
			var r gwv1.GRPCRoute
			if err := h.cl.Get(context.Background(), key, &r); err != nil {
				return err
			}
			if len(r.Status.Parents) != 1 || string(r.Status.Parents[0].ControllerName) != h.name {
				return fmt.Errorf("parents %+v", r.Status.Parents)
			}
			got := map[string]metav1.Condition{}
			for _, c := range r.Status.Parents[0].Conditions {
				got[c.Type] = c
			}
			a, rr := got["Accepted"], got["ResolvedRefs"]
			if a.Status != metav1.ConditionTrue || a.ObservedGeneration != r.Generation || rr.Reason != resolvedReason || rr.ObservedGeneration != r.Generation {
				return fmt.Errorf("generation %d, conditions %+v", r.Generation, r.Status.Parents[0].Conditions)
			}
			return nil
		}
	}
	waitFor(t, 60*time.Second, "GRPCRoute Accepted, ResolvedRefs False/BackendNotFound", routeConditions("BackendNotFound"))

	// Fixing the backend reaches the status: the GRPCRoute watch
	// re-translates the Gateway.
	r := gwv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	h.update(&r, func() { r.Spec.Rules[0].BackendRefs[0].Name = "echo" })
	waitFor(t, 60*time.Second, "GRPCRoute ResolvedRefs True", routeConditions("ResolvedRefs"))

	waitFor(t, 30*time.Second, "listener counts the GRPCRoute", func() error {
		var g gwv1.Gateway
		if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: gw.Name}, &g); err != nil {
			return err
		}
		if len(g.Status.Listeners) != 1 || g.Status.Listeners[0].AttachedRoutes != 1 {
			return fmt.Errorf("listeners %+v", g.Status.Listeners)
		}
		for _, k := range g.Status.Listeners[0].SupportedKinds {
			if k.Kind == "GRPCRoute" {
				return nil
			}
		}
		return fmt.Errorf("supportedKinds %+v lacks GRPCRoute", g.Status.Listeners[0].SupportedKinds)
	})
}
