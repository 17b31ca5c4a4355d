package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/cli"
)

// gate holds every reconcile of one Gateway while closed, as a busy work
// queue or a leader hand-over would.
type gate struct {
	key  k8stypes.NamespacedName
	mu   sync.Mutex
	open chan struct{} // nil: not holding
}

func (g *gate) hold(ctx context.Context, _ string, key k8stypes.NamespacedName) {
	if key != g.key {
		return
	}
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != nil {
		close(g.open)
		g.open = nil
	}
}

// syncBuf is a buffer one goroutine writes while the test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// berthWait is `berth wait gateway/NAME -o json` running in process.
type berthWait struct {
	stdout, stderr syncBuf
	done           chan struct{}
	err            error
}

func (h *harness) startWait(name string, timeout time.Duration) *berthWait {
	w := &berthWait{done: make(chan struct{})}
	cmd := cli.NewRootCmd()
	cmd.SetArgs([]string{"wait", "gateway/" + name, "-n", h.ns, "--kubeconfig", h.env.Kubeconfig, "--timeout", timeout.String(), "-o", "json"})
	cmd.SetOut(&w.stdout)
	cmd.SetErr(&w.stderr)
	go func() {
		defer close(w.done)
		w.err = cmd.Execute()
	}()
	return w
}

// address waits for the wait to end, requires success, and returns the
// address of the Gateway it succeeded on.
func (w *berthWait) address(t *testing.T) string {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("berth wait did not return; stderr:\n%s", w.stderr.String())
	}
	if w.err != nil {
		t.Fatalf("berth wait: %v (exit %d); stderr:\n%s", w.err, cli.ExitCode(w.err), w.stderr.String())
	}
	var gw gwv1.Gateway
	if err := json.Unmarshal([]byte(w.stdout.String()), &gw); err != nil {
		t.Fatalf("berth wait -o json: %v:\n%s", err, w.stdout.String())
	}
	if len(gw.Status.Addresses) != 1 {
		t.Fatalf("berth wait succeeded on a Gateway with addresses %+v", gw.Status.Addresses)
	}
	return gw.Status.Addresses[0].Value
}

// serviceIP is the ClusterIP of Service name in the test's namespace.
func (h *harness) serviceIP(name string) string {
	h.t.Helper()
	var svc corev1.Service
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: name}, &svc); err != nil {
		h.t.Fatalf("Service %s: %v", name, err)
	}
	return svc.Spec.ClusterIP
}

func namedProxy(ns, name, service string) *v1alpha1.EnvoyProxy {
	ep := clusterIPProxy(ns, name)
	ep.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To(service)
	return ep
}

// update re-reads o, changes it and writes it back.
func (h *harness) update(o client.Object, change func()) {
	h.t.Helper()
	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
		h.t.Fatal(err)
	}
	change()
	if err := h.cl.Update(context.Background(), o); err != nil {
		h.t.Fatalf("update %s: %v", o.GetName(), err)
	}
}

// TestWaitNeverStale (issue 16): with the controller held back across a
// change of the class's parametersRef, of the class's EnvoyProxy, of the
// Gateway's EnvoyProxy and of a route (none of which changes the Gateway's
// generation), berth wait started after the change does not succeed while
// the controller is held, and succeeds with the new address once released.
// Then 100 changes without holding, each followed at once by a wait: none
// succeeds on the previous state.
func TestWaitNeverStale(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	g := &gate{key: k8stypes.NamespacedName{Namespace: h.ns, Name: "gw"}}
	h.tune = func(o *controller.Options) { o.HoldReconcile = g.hold }
	classProxy := namedProxy(h.ns, "class-proxy", "class-svc-1")
	h.create(classProxy)
	h.start()
	gw := h.gateway("gw", 8080, "")
	key := client.ObjectKeyFromObject(gw)
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "r"}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
		Hostnames:       []gwv1.Hostname{"a.example.com"}}}
	h.create(route)
	h.programmed(key)

	// held runs change with the controller held, starts a wait, sees it
	// refuse the stale status, releases the controller, and returns the
	// address the wait succeeded with.
	held := func(what string, change func()) string {
		t.Helper()
		g.close()
		defer g.release()
		change()
		w := h.startWait("gw", 2*time.Minute)
		waitFor(t, 60*time.Second, what+": berth wait refusing the old status", func() error {
			select {
			case <-w.done:
				return fmt.Errorf("berth wait returned while the controller was held (%v); stdout:\n%s\nstderr:\n%s", w.err, w.stdout.String(), w.stderr.String())
			default:
			}
			if !strings.Contains(w.stderr.String(), "status describes older inputs") {
				return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
			}
			return nil
		})
		select {
		case <-w.done:
			t.Fatalf("%s: berth wait returned while the controller was held: %v\n%s", what, w.err, w.stdout.String())
		default:
		}
		g.release()
		return w.address(t)
	}

	ns := gwv1.Namespace(h.ns)
	var class gwv1.GatewayClass
	class.Name = h.class
	addr := held("class parametersRef", func() {
		h.update(&class, func() {
			class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "class-proxy", Namespace: &ns}
		})
	})
	if want := h.serviceIP("class-svc-1"); addr != want {
		t.Errorf("after the class parametersRef change: address %s, want class-svc-1's %s", addr, want)
	}

	addr = held("class EnvoyProxy", func() {
		h.update(classProxy, func() { classProxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("class-svc-2") })
	})
	if want := h.serviceIP("class-svc-2"); addr != want {
		t.Errorf("after the class EnvoyProxy change: address %s, want class-svc-2's %s", addr, want)
	}

	// The Gateway's own EnvoyProxy (its reference is a spec change, which
	// observedGeneration already covers: made unheld).
	gwProxy := namedProxy(h.ns, "gw-proxy", "gw-svc-0")
	h.create(gwProxy)
	h.update(gw, func() {
		gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "gw-proxy"}}
	})
	h.programmed(key)
	addr = held("Gateway EnvoyProxy", func() {
		h.update(gwProxy, func() { gwProxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("gw-svc-1") })
	})
	if want := h.serviceIP("gw-svc-1"); addr != want {
		t.Errorf("after the Gateway EnvoyProxy change: address %s, want gw-svc-1's %s", addr, want)
	}

	addr = held("route", func() {
		h.update(route, func() { route.Spec.Hostnames = []gwv1.Hostname{"b.example.com"} })
	})
	if want := h.serviceIP("gw-svc-1"); addr != want {
		t.Errorf("after the route change: address %s, want gw-svc-1's %s", addr, want)
	}

	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	stale := 0
	for i := 0; i < rounds; i++ {
		svc := fmt.Sprintf("gw-svc-r%d", i)
		h.update(gwProxy, func() { gwProxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To(svc) })
		addr := h.startWait("gw", 2*time.Minute).address(t)
		if want := h.serviceIP(svc); addr != want {
			stale++
			t.Errorf("round %d: berth wait succeeded with address %s, the current Service %s has %s", i, addr, svc, want)
		}
	}
	t.Logf("%d rounds, %d successes on the old state", rounds, stale)
}
