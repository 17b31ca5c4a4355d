package clustertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/render"
)

// listenerSet creates a ListenerSet in the test's namespace naming Gateway
// parent, with one HTTP listener "extra" on port.
func (h *harness) listenerSet(name, parent string, port gwv1.PortNumber) k8stypes.NamespacedName {
	h.t.Helper()
	h.create(&gwv1.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name},
		Spec: gwv1.ListenerSetSpec{
			ParentRef: gwv1.ParentGatewayReference{Name: gwv1.ObjectName(parent)},
			Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: port, Protocol: gwv1.HTTPProtocolType}},
		},
	})
	return k8stypes.NamespacedName{Namespace: h.ns, Name: name}
}

// listenerSetParent creates Gateway "gw" (HTTP on 8080, EnvoyProxy
// "proxy") admitting the ListenerSets of its namespace.
func (h *harness) listenerSetParent() *gwv1.Gateway {
	h.t.Helper()
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gw"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
			Infrastructure:   &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy"}},
			AllowedListeners: &gwv1.AllowedListeners{Namespaces: &gwv1.ListenerNamespaces{From: ptr.To(gwv1.NamespacesFromSame)}},
		},
	}
	h.create(gw)
	return gw
}

// lsState is a ListenerSet's condition (set-level, or of its listener
// "extra") as "Status/Reason".
type lsState struct{ accepted, programmed, listenerAccepted, listenerProgrammed string }

// listenerSetState waits until the ListenerSet's conditions for its current
// generation are want ("" in want: any), and returns the ListenerSet.
func (h *harness) listenerSetState(key k8stypes.NamespacedName, want lsState, timeout time.Duration) *gwv1.ListenerSet {
	h.t.Helper()
	var s gwv1.ListenerSet
	waitFor(h.t, timeout, fmt.Sprintf("ListenerSet %s %+v", key, want), func() error {
		if err := h.cl.Get(context.Background(), key, &s); err != nil {
			return err
		}
		show := func(conds []metav1.Condition, typ string) string {
			c := meta.FindStatusCondition(conds, typ)
			if c == nil || c.ObservedGeneration != s.Generation {
				return "none"
			}
			return string(c.Status) + "/" + c.Reason
		}
		got := lsState{accepted: show(s.Status.Conditions, "Accepted"), programmed: show(s.Status.Conditions, "Programmed")}
		for _, l := range s.Status.Listeners {
			if l.Name == "extra" {
				got.listenerAccepted, got.listenerProgrammed = show(l.Conditions, "Accepted"), show(l.Conditions, "Programmed")
			}
		}
		for _, p := range [][2]string{{want.accepted, got.accepted}, {want.programmed, got.programmed},
			{want.listenerAccepted, got.listenerAccepted}, {want.listenerProgrammed, got.listenerProgrammed}} {
			if p[0] != "" && p[0] != p[1] {
				return fmt.Errorf("got %+v", got)
			}
		}
		return nil
	})
	return &s
}

// A ListenerSet's Programmed means what its parent's means: traffic to its
// listeners flows. While no pod of the parent's Deployment can be
// scheduled, the ListenerSet is Accepted but Programmed=False
// (ParentNotProgrammed, its listener Pending); once the Deployment is
// Available it is Programmed, with its port on the bundle's Service.
func TestListenerSetProgrammedFollowsDataPlane(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{NodeSelector: map[string]string{"berth.test/no-such-node": "true"}}}
	h.create(ep)
	h.start()
	gw := h.listenerSetParent()
	key := h.listenerSet("apps", "gw", 8081)
	h.listenerSetState(key, lsState{accepted: "True/Accepted", programmed: "False/ParentNotProgrammed",
		listenerAccepted: "True/Accepted", listenerProgrammed: "False/Pending"}, 60*time.Second)
	// Still so a while later: nothing can run the data plane.
	time.Sleep(2 * time.Second)
	s := h.listenerSetState(key, lsState{programmed: "False/ParentNotProgrammed"}, time.Second)
	if c := meta.FindStatusCondition(s.Status.Conditions, "Programmed"); !strings.Contains(c.Message, "Gateway "+h.ns+"/gw") {
		t.Errorf("Programmed message %q does not name the parent", c.Message)
	}
	_, c := h.condition(client.ObjectKeyFromObject(gw), "Programmed", metav1.ConditionFalse, "Pending", time.Second)
	if !strings.Contains(c.Message, "Deployment") {
		t.Errorf("the Gateway is held back by %q, want its Deployment", c.Message)
	}

	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(ep), ep); err != nil {
		t.Fatal(err)
	}
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = nil
	if err := h.cl.Update(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	h.listenerSetState(key, lsState{accepted: "True/Accepted", programmed: "True/Programmed",
		listenerAccepted: "True/Accepted", listenerProgrammed: "True/Programmed"}, 60*time.Second)
	// Programmed: the Gateway is, and its Service carries the ListenerSet's port.
	got := h.programmed(client.ObjectKeyFromObject(gw))
	if got.Status.AttachedListenerSets == nil || *got.Status.AttachedListenerSets != 1 {
		t.Errorf("attachedListenerSets = %v, want 1", got.Status.AttachedListenerSets)
	}
	var svc corev1.Service
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: render.ProxyName(h.ns, "gw")}, &svc); err != nil {
		t.Fatal(err)
	}
	var ports []int32
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Port)
	}
	if !strings.Contains(fmt.Sprint(ports), "8081") {
		t.Errorf("Service ports %v, want the ListenerSet's 8081", ports)
	}

	// A change to the ListenerSet is not Programmed until the data plane
	// has it: hold the Deployment again, then move the listener's port.
	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(ep), ep); err != nil {
		t.Fatal(err)
	}
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{NodeSelector: map[string]string{"berth.test/no-such-node": "true"}}}
	if err := h.cl.Update(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	h.condition(client.ObjectKeyFromObject(gw), "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
	// The controller writes the ListenerSet's status meanwhile: retry a
	// conflicting update on the latest version.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := h.cl.Get(context.Background(), key, s); err != nil {
			return err
		}
		s.Spec.Listeners[0].Port = 8082
		return h.cl.Update(context.Background(), s)
	}); err != nil {
		t.Fatal(err)
	}
	h.listenerSetState(key, lsState{accepted: "True/Accepted", programmed: "False/ParentNotProgrammed", listenerProgrammed: "False/Pending"}, 60*time.Second)
}

// A ListenerSet whose parent is not Accepted is not Accepted either
// (ParentNotAccepted, and so is its listener), and the Gateway counts no
// attached ListenerSets; once the parent is Accepted so is the ListenerSet.
// A parent deleted, or one that never existed, is ParentNotAccepted too.
func TestListenerSetParentNotAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start()
	// The Gateway names an EnvoyProxy that does not exist yet: not Accepted.
	gw := h.listenerSetParent()
	gwKey := client.ObjectKeyFromObject(gw)
	key := h.listenerSet("apps", "gw", 8081)
	notAccepted := lsState{accepted: "False/ParentNotAccepted", programmed: "False/ParentNotAccepted",
		listenerAccepted: "False/ParentNotAccepted", listenerProgrammed: "False/ParentNotAccepted"}
	s := h.listenerSetState(key, notAccepted, 60*time.Second)
	parent, _ := h.condition(gwKey, "Accepted", metav1.ConditionFalse, "", time.Second)
	if a := meta.FindStatusCondition(s.Status.Conditions, "Accepted"); !strings.Contains(a.Message, "Gateway "+h.ns+"/gw is not accepted") {
		t.Errorf("Accepted message %q", a.Message)
	}
	waitFor(t, 10*time.Second, "attachedListenerSets 0", func() error {
		if err := h.cl.Get(context.Background(), gwKey, parent); err != nil {
			return err
		}
		if n := parent.Status.AttachedListenerSets; n == nil || *n != 0 {
			return fmt.Errorf("attachedListenerSets = %v", n)
		}
		return nil
	})

	h.create(clusterIPProxy(h.ns, "proxy"))
	h.listenerSetState(key, lsState{accepted: "True/Accepted", listenerAccepted: "True/Accepted"}, 60*time.Second)
	h.programmed(gwKey)
	h.listenerSetState(key, lsState{programmed: "True/Programmed", listenerProgrammed: "True/Programmed"}, 60*time.Second)

	// The parent goes: the ListenerSet says so.
	if err := h.cl.Delete(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	s = h.listenerSetState(key, notAccepted, 60*time.Second)
	waitFor(t, 30*time.Second, "a parent that does not exist", func() error {
		if err := h.cl.Get(context.Background(), key, s); err != nil {
			return err
		}
		if a := meta.FindStatusCondition(s.Status.Conditions, "Accepted"); a == nil || !strings.Contains(a.Message, "does not exist") {
			return errors.New("not yet")
		}
		return nil
	})
	// A parent that never existed.
	ghost := h.listenerSet("ghost", "never", 8083)
	h.listenerSetState(ghost, notAccepted, 60*time.Second)
}
