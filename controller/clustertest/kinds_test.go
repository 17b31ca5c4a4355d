package clustertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// lockedLog collects a controller's log lines.
type lockedLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lockedLog) add(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, prefix+" "+args)
}

func (l *lockedLog) find(parts ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return nil
		}
	}
	return fmt.Errorf("no log line with %q (%d lines)", parts, len(l.lines))
}

// A CRD installed while berth runs: the UDPRoute CRD is removed, berth
// starts and logs the kind as skipped, the CRD comes back, and within the
// discovery interval berth logs that it now watches UDPRoutes and a
// UDPRoute gets status (created before and after the CRD was seen).
// Not parallel: it takes a CRD away from the package's cluster (no other
// test here uses UDPRoutes), and puts it back.
func TestCRDInstalledAfterStart(t *testing.T) {
	h := newHarness(t)
	crds := h.env.Dynamic.Resource(crdResource)
	const name = "udproutes.gateway.networking.k8s.io"
	ctx := context.Background()
	crd, err := crds.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restore := crd.DeepCopy()
	unstructured.RemoveNestedField(restore.Object, "status")
	unstructured.RemoveNestedField(restore.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(restore.Object, "metadata", "uid")
	unstructured.RemoveNestedField(restore.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(restore.Object, "metadata", "managedFields")
	reinstall := func() {
		if _, err := crds.Create(ctx, restore, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("re-create CRD %s: %v", name, err)
		}
		waitFor(t, 60*time.Second, "CRD "+name+" Established", func() error {
			c, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			conds, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
			for _, x := range conds {
				if m, ok := x.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
			return fmt.Errorf("conditions %v", conds)
		})
	}
	if err := crds.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reinstall) // a no-op once the test has put it back
	waitFor(t, 60*time.Second, "CRD "+name+" gone from discovery", func() error {
		if _, err := crds.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("CRD still there (%v)", err)
		}
		if _, err := h.env.Client.Discovery().ServerResourcesForGroupVersion(gwv1.GroupVersion.String()); err == nil {
			list, _ := h.env.Client.Discovery().ServerResourcesForGroupVersion(gwv1.GroupVersion.String())
			for _, r := range list.APIResources {
				if r.Kind == "UDPRoute" {
					return fmt.Errorf("discovery still serves UDPRoute")
				}
			}
		}
		return nil
	})

	log := &lockedLog{}
	h.tune = func(o *controller.Options) {
		o.KindDiscoveryInterval = 500 * time.Millisecond
		o.Logger = funcr.New(log.add, funcr.Options{})
	}
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.create(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "dns"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}},
	})
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gw"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners:        []gwv1.Listener{{Name: "dns", Port: 5353, Protocol: gwv1.UDPProtocolType}},
			Infrastructure:   &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy"}},
		},
	}
	h.create(gw)
	h.start()
	waitFor(t, 30*time.Second, "the skipped kinds logged", func() error {
		return log.find("not watched until their CRDs appear", "UDPRoute")
	})
	h.programmed(client.ObjectKeyFromObject(gw)) // served without the CRD

	reinstall()
	waitFor(t, 30*time.Second, "UDPRoute watched", func() error {
		return log.find("now watching their kinds", "UDPRoute")
	})
	route := &gwv1.UDPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "dns"},
		Spec: gwv1.UDPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
			Rules:           []gwv1.UDPRouteRule{{BackendRefs: []gwv1.BackendRef{{BackendObjectReference: gwv1.BackendObjectReference{Name: "dns", Port: ptr.To(gwv1.PortNumber(53))}}}}},
		},
	}
	// The API server may take a moment to serve the kind to clients too.
	waitFor(t, 30*time.Second, "UDPRoute created", func() error { return h.cl.Create(ctx, route) })
	waitFor(t, 60*time.Second, "UDPRoute Accepted by berth", func() error {
		var r gwv1.UDPRoute
		if err := h.cl.Get(ctx, client.ObjectKeyFromObject(route), &r); err != nil {
			return err
		}
		for _, p := range r.Status.Parents {
			if string(p.ControllerName) != h.name {
				continue
			}
			for _, c := range p.Conditions {
				if c.Type == "Accepted" && c.Status == metav1.ConditionTrue && c.ObservedGeneration == r.Generation {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v", p.Conditions)
		}
		return fmt.Errorf("parents %+v", r.Status.Parents)
	})
	waitFor(t, 30*time.Second, "listener counts the UDPRoute", func() error {
		var g gwv1.Gateway
		if err := h.cl.Get(ctx, client.ObjectKeyFromObject(gw), &g); err != nil {
			return err
		}
		if len(g.Status.Listeners) != 1 || g.Status.Listeners[0].AttachedRoutes != 1 {
			return fmt.Errorf("listeners %+v", g.Status.Listeners)
		}
		return nil
	})
}
