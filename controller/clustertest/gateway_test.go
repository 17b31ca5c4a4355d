package clustertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/render"
)

// The seed manifests, unchanged: LoadBalancer Services wait for an address
// (AddressNotAssigned) until one is assigned, routes are accepted; the
// ClusterIP variant switches both Gateways to my-gateway ClusterIP Services
// (the LoadBalancer ones pruned) and back; deleting gateway-a leaves nothing.
func TestSeedScenario(t *testing.T) {
	h := newHarness(t)
	for _, ns := range []string{"team-a", "team-b"} {
		h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		t.Cleanup(func() {
			_ = h.cl.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		})
	}
	h.name = controllerDefaultName
	h.watchNS = []string{"team-a", "team-b", h.ctrlNS}
	h.start()
	applyFile(t, h.cl, seedFile("gateway-namespace-mode.yaml"))
	t.Cleanup(func() {
		_ = h.cl.Delete(context.Background(), &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "eg"}})
	})

	a := k8stypes.NamespacedName{Namespace: "team-a", Name: "gateway-a"}
	b := k8stypes.NamespacedName{Namespace: "team-b", Name: "gateway-b"}
	for _, key := range []k8stypes.NamespacedName{a, b} {
		h.condition(key, "Accepted", metav1.ConditionTrue, "Accepted", 60*time.Second)
		// No load-balancer implementation serves these Services here, so
		// the truthful answer is AddressNotAssigned, until the test assigns
		// one (an allocator may beat it to it: either way Programmed follows).
		svcKey := k8stypes.NamespacedName{Namespace: key.Namespace, Name: render.ProxyName(key.Namespace, key.Name)}
		waitFor(t, 60*time.Second, "Service "+svcKey.String(), func() error {
			var gw gwv1.Gateway
			if err := h.cl.Get(context.Background(), key, &gw); err != nil {
				return err
			}
			for _, c := range gw.Status.Conditions {
				if c.Type == "Programmed" && (c.Reason == "AddressNotAssigned" || c.Status == metav1.ConditionTrue) {
					return nil
				}
			}
			return fmt.Errorf("conditions %v", gw.Status.Conditions)
		})
		var svc corev1.Service
		if err := h.cl.Get(context.Background(), svcKey, &svc); err != nil {
			t.Fatal(err)
		}
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			t.Fatalf("Service %s is %s, want LoadBalancer", svcKey, svc.Spec.Type)
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			ip := "192.0.2.10"
			if key == b {
				ip = "192.0.2.11"
			}
			h.updateStatus(&svc, func() { svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}} })
		}
		gw := h.programmed(key)
		if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Value == "" || *gw.Status.Addresses[0].Type != gwv1.IPAddressType {
			t.Errorf("%s addresses = %+v, want the LoadBalancer IP", key, gw.Status.Addresses)
		}
		if len(gw.Status.Listeners) != 1 || gw.Status.Listeners[0].AttachedRoutes != 1 {
			t.Errorf("%s listeners = %+v, want one with 1 attached route", key, gw.Status.Listeners)
		}
	}
	for _, r := range []k8stypes.NamespacedName{{Namespace: "team-a", Name: "team-a-route"}, {Namespace: "team-b", Name: "team-b-route"}} {
		waitFor(t, 30*time.Second, "HTTPRoute "+r.String()+" Accepted", func() error {
			var route gwv1.HTTPRoute
			if err := h.cl.Get(context.Background(), r, &route); err != nil {
				return err
			}
			for _, p := range route.Status.Parents {
				for _, c := range p.Conditions {
					if p.ControllerName == controllerDefaultName && c.Type == "Accepted" && c.Status == metav1.ConditionTrue && c.ObservedGeneration == route.Generation {
						return nil
					}
				}
			}
			return fmt.Errorf("parents %+v", route.Status.Parents)
		})
	}
	var deploy appsv1.Deployment
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: "team-a", Name: "envoy-team-a-gateway-a-b65c6264"}, &deploy); err != nil {
		t.Fatalf("the reference's name for gateway-a's Deployment: %v", err)
	}

	// The ClusterIP variant, unchanged: the class now references an EnvoyProxy.
	applyFile(t, h.cl, seedFile("clusterip-envoyproxy.yaml"))
	for _, key := range []k8stypes.NamespacedName{a, b} {
		waitFor(t, 60*time.Second, "my-gateway ClusterIP in "+key.Namespace, func() error {
			var svc corev1.Service
			if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: key.Namespace, Name: "my-gateway"}, &svc); err != nil {
				return err
			}
			if svc.Spec.Type != corev1.ServiceTypeClusterIP {
				return fmt.Errorf("type %s", svc.Spec.Type)
			}
			var old corev1.Service
			if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: key.Namespace, Name: render.ProxyName(key.Namespace, key.Name)}, &old); !isNotFound(err) {
				return fmt.Errorf("LoadBalancer Service not pruned yet (%v)", err)
			}
			return nil
		})
		gw := h.programmed(key)
		var svc corev1.Service
		_ = h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: key.Namespace, Name: "my-gateway"}, &svc)
		waitFor(t, 10*time.Second, "address = clusterIP", func() error {
			_ = h.cl.Get(context.Background(), key, gw)
			if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Value != svc.Spec.ClusterIP {
				return fmt.Errorf("addresses %+v, clusterIP %s", gw.Status.Addresses, svc.Spec.ClusterIP)
			}
			return nil
		})
	}
	if ev := h.events("team-a", "gateway-a", "Pruned"); !contains(ev, "Service team-a/envoy-team-a-gateway-a-b65c6264") {
		t.Errorf("no Pruned event for the LoadBalancer Service; events: %v", ev)
	}

	// And back to LoadBalancer: the seed again (its class has no parametersRef).
	applyFile(t, h.cl, seedFile("gateway-namespace-mode.yaml"))
	waitFor(t, 60*time.Second, "LoadBalancer Service back, my-gateway pruned", func() error {
		var svc corev1.Service
		if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: "team-a", Name: render.ProxyName("team-a", "gateway-a")}, &svc); err != nil {
			return err
		}
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			return fmt.Errorf("type %s", svc.Spec.Type)
		}
		if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: "team-a", Name: "my-gateway"}, &svc); !isNotFound(err) {
			return fmt.Errorf("my-gateway not pruned (%v)", err)
		}
		return nil
	})

	// Delete gateway-a: nothing of it is left, gateway-b is untouched.
	if err := h.cl.Delete(context.Background(), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gateway-a"}}); err != nil {
		t.Fatal(err)
	}
	h.waitGone("team-a", "gateway-a")
	waitFor(t, 30*time.Second, "gateway-a gone", func() error {
		var gw gwv1.Gateway
		if err := h.cl.Get(context.Background(), a, &gw); !isNotFound(err) {
			return fmt.Errorf("still there (%v), finalizers %v", err, gw.Finalizers)
		}
		return nil
	})
	if left := h.bundleObjects("team-b", "gateway-b"); len(left) < 4 {
		t.Errorf("gateway-b's bundle: %v", left)
	}
	// Leave nothing in team-a/team-b for whoever comes next.
	_ = h.cl.Delete(context.Background(), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "gateway-b"}})
	h.waitGone("team-b", "gateway-b")
}

// Programmed stays False (naming the Deployment) while no pod can be
// scheduled, and turns True once kwok makes the Deployment Available.
func TestProgrammedFollowsDeployment(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{NodeSelector: map[string]string{"berth.test/no-such-node": "true"}}}
	h.create(ep)
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	_, c := h.condition(key, "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
	waitFor(t, 30*time.Second, "message naming the Deployment", func() error {
		_, c = h.condition(key, "Programmed", metav1.ConditionFalse, "Pending", 10*time.Second)
		if !strings.HasPrefix(c.Message, "Deployment "+h.ns+"/"+render.ProxyName(h.ns, "gw")+": InProgress") {
			return fmt.Errorf("message %q", c.Message)
		}
		return nil
	})
	// Still False a while later: nothing can run it.
	time.Sleep(2 * time.Second)
	h.condition(key, "Programmed", metav1.ConditionFalse, "Pending", time.Second)

	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(ep), ep); err != nil {
		t.Fatal(err)
	}
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = nil
	if err := h.cl.Update(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	got := h.programmed(key)
	// Readiness is watch-driven: Programmed follows the Deployment's
	// Available condition closely.
	var d appsv1.Deployment
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: render.ProxyName(h.ns, "gw")}, &d); err != nil {
		t.Fatal(err)
	}
	var available time.Time
	for _, dc := range d.Status.Conditions {
		if dc.Type == appsv1.DeploymentAvailable && dc.Status == corev1.ConditionTrue {
			available = dc.LastTransitionTime.Time
		}
	}
	var programmed time.Time
	for _, gc := range got.Status.Conditions {
		if gc.Type == "Programmed" {
			programmed = gc.LastTransitionTime.Time
		}
	}
	// Condition times have second resolution.
	if lag := programmed.Sub(available); lag > 2*time.Second {
		t.Errorf("Programmed %s after the Deployment became Available, want ≤ 1s (±1s rounding)", lag)
	}
	t.Logf("Deployment Available %s, Programmed %s", available.Format(time.RFC3339), programmed.Format(time.RFC3339))
}

// A LoadBalancer Service without an ingress address holds Programmed at
// AddressNotAssigned; once an address is assigned, it is in status.
func TestAddressNotAssigned(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	// A class no allocator serves, so the address comes only from the test.
	ep.Spec.Provider.Kubernetes.EnvoyService = &v1alpha1.KubernetesServiceSpec{
		Type: ptr.To(v1alpha1.ServiceTypeLoadBalancer), LoadBalancerClass: ptr.To("berth.test/none"),
	}
	h.create(ep)
	h.start()
	gw := h.gateway("gw", 80, "proxy")
	key := client.ObjectKeyFromObject(gw)
	_, c := h.condition(key, "Programmed", metav1.ConditionFalse, "AddressNotAssigned", 60*time.Second)
	if !strings.Contains(c.Message, "Service "+h.ns+"/"+render.ProxyName(h.ns, "gw")) {
		t.Errorf("message %q does not name the Service", c.Message)
	}
	var svc corev1.Service
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: render.ProxyName(h.ns, "gw")}, &svc); err != nil {
		t.Fatal(err)
	}
	h.updateStatus(&svc, func() { svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}} })
	got := h.programmed(key)
	if len(got.Status.Addresses) != 1 || got.Status.Addresses[0].Value != "lb.example.com" || *got.Status.Addresses[0].Type != gwv1.HostnameAddressType {
		t.Errorf("addresses %+v, want Hostname lb.example.com", got.Status.Addresses)
	}
}

// HPA on: the Deployment's replicas are left to the HPA (berth does not own
// spec.replicas); HPA off: the HPA is pruned.
func TestHPA(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyHpa = &v1alpha1.KubernetesHorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](1), MaxReplicas: ptr.To[int32](3)}
	h.create(ep)
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw))
	name := render.ProxyName(h.ns, "gw")
	var hpa autoscalingv2.HorizontalPodAutoscaler
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: name}, &hpa); err != nil {
		t.Fatalf("HPA: %v", err)
	}
	var d appsv1.Deployment
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	for _, mf := range d.ManagedFields {
		if mf.Manager == render.FieldManager && mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), `"f:replicas"`) {
			t.Errorf("berth owns spec.replicas while an HPA is configured: %s", mf.FieldsV1.Raw)
		}
	}

	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(ep), ep); err != nil {
		t.Fatal(err)
	}
	ep.Spec.Provider.Kubernetes.EnvoyHpa = nil
	if err := h.cl.Update(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "HPA pruned", func() error {
		err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: name}, &hpa)
		if !isNotFound(err) {
			return fmt.Errorf("HPA still there (%v)", err)
		}
		return nil
	})
	h.programmed(client.ObjectKeyFromObject(gw))
}

// Gateway deleted → every bundle object and the inventory gone, then the Gateway.
func TestGatewayDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw))
	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(gw.Finalizers, ","), render.Finalizer) {
		t.Fatalf("finalizers %v, want %s", gw.Finalizers, render.Finalizer)
	}
	if err := h.cl.Delete(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	h.waitGone(h.ns, "gw")
	waitFor(t, 30*time.Second, "Gateway gone", func() error {
		if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); !isNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
	var inv corev1.ConfigMap
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: render.InventoryName(h.ns, "gw")}, &inv); !isNotFound(err) {
		t.Errorf("inventory still there (%v)", err)
	}
}

// Controller stopped, Gateway deleted, controller started → nothing left.
func TestDeletedWhileControllerDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	stop := h.start()
	gw := h.gateway("gw", 8080, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw))
	stop()
	if err := h.cl.Delete(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); err != nil {
		t.Fatalf("the finalizer should hold the Gateway while berth is down: %v", err)
	}
	h.start()
	h.waitGone(h.ns, "gw")
	waitFor(t, 30*time.Second, "Gateway gone", func() error {
		if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); !isNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// Finalizer forced off while berth is down → the orphaned bundle is swept at
// start; and with berth running, a forced-off finalizer is cleaned at once.
func TestFinalizerForcedOffSwept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	stop := h.start()
	gw1 := h.gateway("gw1", 8080, "proxy")
	gw2 := h.gateway("gw2", 8081, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw1))
	h.programmed(client.ObjectKeyFromObject(gw2))
	stop()
	forceDelete := func(gw *gwv1.Gateway) {
		if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); err != nil {
			t.Fatal(err)
		}
		gw.Finalizers = nil
		if err := h.cl.Update(context.Background(), gw); err != nil {
			t.Fatal(err)
		}
		if err := h.cl.Delete(context.Background(), gw); err != nil {
			t.Fatal(err)
		}
	}
	forceDelete(gw1)
	if left := h.bundleObjects(h.ns, "gw1"); len(left) == 0 {
		t.Fatal("nothing to sweep: the bundle vanished without berth")
	}
	h.start()
	h.waitGone(h.ns, "gw1")
	// Running: gw2's finalizer forced off, its bundle goes too.
	h.programmed(client.ObjectKeyFromObject(gw2))
	forceDelete(gw2)
	h.waitGone(h.ns, "gw2")
}

// An invalid EnvoyProxy: a clear InvalidParameters condition, and the bundle
// applied before is left exactly as it was.
func TestInvalidEnvoyProxyKeepsBundle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	h.create(ep)
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	h.programmed(key)
	name := render.ProxyName(h.ns, "gw")
	var before appsv1.Deployment
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: name}, &before); err != nil {
		t.Fatal(err)
	}

	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(ep), ep); err != nil {
		t.Fatal(err)
	}
	// Valid to the CRD, invalid to berth: externalTrafficPolicy on a ClusterIP Service.
	ep.Spec.Provider.Kubernetes.EnvoyService.ExternalTrafficPolicy = ptr.To(v1alpha1.ServiceExternalTrafficPolicyLocal)
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Replicas: ptr.To[int32](3)}
	if err := h.cl.Update(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	_, c := h.condition(key, "Accepted", metav1.ConditionFalse, "InvalidParameters", 30*time.Second)
	if !strings.Contains(c.Message, "externalTrafficPolicy") || !strings.Contains(c.Message, "EnvoyProxy "+h.ns+"/proxy") {
		t.Errorf("message %q should name the EnvoyProxy and the field", c.Message)
	}
	h.condition(key, "Programmed", metav1.ConditionFalse, "Invalid", 10*time.Second)
	time.Sleep(2 * time.Second)
	var after appsv1.Deployment
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: name}, &after); err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || *after.Spec.Replicas != *before.Spec.Replicas {
		t.Errorf("Deployment changed under an invalid EnvoyProxy: generation %d → %d, replicas %d → %d",
			before.Generation, after.Generation, *before.Spec.Replicas, *after.Spec.Replicas)
	}
	if left := h.bundleObjects(h.ns, "gw"); len(left) < 4 {
		t.Errorf("bundle pruned under an invalid EnvoyProxy: %v", left)
	}

	// A missing EnvoyProxy on the class: the class says so.
	class := gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: h.class}}
	ns := gwv1.Namespace(h.ns)
	h.update(&class, func() {
		class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "missing", Namespace: &ns}
	})
	waitFor(t, 30*time.Second, "GatewayClass InvalidParameters", func() error {
		if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Name: h.class}, &class); err != nil {
			return err
		}
		for _, c := range class.Status.Conditions {
			if c.Type == "Accepted" && c.Status == metav1.ConditionFalse && c.Reason == "InvalidParameters" && c.ObservedGeneration == class.Generation {
				if !strings.Contains(c.Message, "missing") {
					return fmt.Errorf("message %q", c.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", class.Status.Conditions)
	})
}

// A foreign object with berth's name: reported in status and as an event,
// and left untouched.
func TestForeignObjectUntouched(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	name := render.ServiceAccountName(h.ns, "gw")
	foreign := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name, Labels: map[string]string{"owner": "someone-else"}}}
	h.create(foreign)
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	_, c := h.condition(key, "Programmed", metav1.ConditionFalse, "NoResources", 60*time.Second)
	if !strings.Contains(c.Message, "ServiceAccount "+h.ns+"/"+name) {
		t.Errorf("message %q should name the ServiceAccount", c.Message)
	}
	waitFor(t, 30*time.Second, "OwnershipConflict event", func() error {
		if ev := h.events(h.ns, "gw", "OwnershipConflict"); !contains(ev, name) {
			return fmt.Errorf("events %v", ev)
		}
		return nil
	})
	var sa corev1.ServiceAccount
	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(foreign), &sa); err != nil {
		t.Fatal(err)
	}
	if sa.Labels["owner"] != "someone-else" || sa.Labels[render.LabelManagedBy] != "" || len(sa.Annotations) != 0 {
		t.Errorf("foreign ServiceAccount was touched: labels %v annotations %v", sa.Labels, sa.Annotations)
	}
	for _, mf := range sa.ManagedFields {
		if mf.Manager == render.FieldManager {
			t.Errorf("berth manages fields of the foreign ServiceAccount: %+v", mf)
		}
	}
}

// Uninstall: every bundle destroyed, no Gateway left holding berth's finalizer.
func TestUninstall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	stop := h.start()
	gw1 := h.gateway("gw1", 8080, "proxy")
	gw2 := h.gateway("gw2", 8081, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw1))
	h.programmed(client.ObjectKeyFromObject(gw2))
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := controller.Uninstall(ctx, h.env.Config, h.options()); err != nil {
		t.Fatal(err)
	}
	for _, gw := range []*gwv1.Gateway{gw1, gw2} {
		if left := h.bundleObjects(h.ns, gw.Name); len(left) > 0 {
			t.Errorf("%s: left %v", gw.Name, left)
		}
		if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw), gw); err != nil {
			t.Fatal(err)
		}
		if len(gw.Finalizers) != 0 {
			t.Errorf("%s still has finalizers %v", gw.Name, gw.Finalizers)
		}
	}
	// Deleting now completes without berth.
	if err := h.cl.Delete(context.Background(), gw1); err != nil {
		t.Fatal(err)
	}
	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(gw1), gw1); !isNotFound(err) {
		t.Errorf("Gateway not deleted at once after uninstall: %v", err)
	}
}

// A Gateway moved to a class berth does not serve: its bundle is destroyed and
// the finalizer removed (the other controller takes over a clean Gateway).
func TestGatewayLeavesClass(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	other := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: h.class + "-other"}, Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/not-berth"}}
	h.create(other)
	t.Cleanup(func() { _ = h.cl.Delete(context.Background(), other) })
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	h.programmed(key)
	h.update(gw, func() { gw.Spec.GatewayClassName = gwv1.ObjectName(other.Name) })
	h.waitGone(h.ns, "gw")
	waitFor(t, 30*time.Second, "finalizer removed", func() error {
		if err := h.cl.Get(context.Background(), key, gw); err != nil {
			return err
		}
		if len(gw.Finalizers) != 0 {
			return fmt.Errorf("finalizers %v", gw.Finalizers)
		}
		return nil
	})
}

// Two replicas with leader election: both serve the same snapshot (xDS runs
// outside leader election), one applies and writes status.
func TestReplicasBothServeXDS(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	var cs []*controller.Controller
	for i := 0; i < 2; i++ {
		o := h.options()
		o.LeaderElection = true
		o.LeaderElectionID = "berth-test"
		c, err := controller.New(h.env.Config, o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		cs = append(cs, c)
	}
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	h.programmed(key)
	waitFor(t, 30*time.Second, "both replicas publish the same snapshot", func() error {
		v0, ok0 := cs[0].XDS().Published(key)
		v1, ok1 := cs[1].XDS().Published(key)
		if !ok0 || !ok1 || v0 != v1 {
			return fmt.Errorf("replica 0: %q %v, replica 1: %q %v", v0, ok0, v1, ok1)
		}
		return nil
	})
}

// A static address (spec.addresses) on the default LoadBalancer Service:
// the test cluster's load balancer, like a cloud's, never assigns an
// address outside its pool, so the Gateway says AddressNotAssigned naming
// it; fixing spec.addresses to one of the pool's request-only addresses
// recovers, with that address in status. Two addresses are
// AddressNotUsable (a LoadBalancer Service takes one).
func TestStaticAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start()
	ip := ptr.To(gwv1.IPAddressType)
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gw"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Addresses:        []gwv1.GatewaySpecAddress{{Type: ip, Value: "192.0.2.77"}},
			Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
		},
	}
	h.create(gw)
	key := client.ObjectKeyFromObject(gw)
	_, c := h.condition(key, "Programmed", metav1.ConditionFalse, "AddressNotAssigned", 60*time.Second)
	if !strings.Contains(c.Message, "192.0.2.77") {
		t.Errorf("message %q does not name the requested address", c.Message)
	}

	setAddresses := func(values ...string) {
		t.Helper()
		cur := gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		h.update(&cur, func() {
			cur.Spec.Addresses = nil
			for _, v := range values {
				cur.Spec.Addresses = append(cur.Spec.Addresses, gwv1.GatewaySpecAddress{Type: ip, Value: v})
			}
		})
	}
	usable := "127.240.255.77" // loadbalancer.DefaultRequestOnly
	setAddresses("192.0.2.77", usable)
	_, c = h.condition(key, "Programmed", metav1.ConditionFalse, "AddressNotUsable", 60*time.Second)
	if !strings.Contains(c.Message, "one requested address") {
		t.Errorf("two addresses: message %q", c.Message)
	}

	setAddresses(usable)
	got := h.programmed(key)
	if len(got.Status.Addresses) != 1 || got.Status.Addresses[0].Value != usable || *got.Status.Addresses[0].Type != gwv1.IPAddressType {
		t.Errorf("addresses %+v, want IPAddress %s", got.Status.Addresses, usable)
	}
}
