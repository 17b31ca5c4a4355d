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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/cli"
	"github.com/berth-gateway/berth/internal/readiness"
)

// gate holds every reconcile of one Gateway while closed, as a busy work
// queue or a leader hand-over would; with only set, only the controller of
// that name (controller.HoldAfterPending: after the Pending write).
type gate struct {
	key  k8stypes.NamespacedName
	only string
	mu   sync.Mutex
	open chan struct{} // nil: not holding
}

func (g *gate) hold(ctx context.Context, name string, key k8stypes.NamespacedName) {
	if key != g.key || (g.only != "" && name != g.only) || (g.only == "" && name == controller.HoldAfterPending) {
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

// holdGateway makes the controller h starts hold Gateway name's
// reconciles at two gates: g at their start, after once its Pending status
// is written (controller.HoldAfterPending). Both are open until closed.
func (h *harness) holdGateway(name string) (g, after *gate) {
	g = &gate{key: k8stypes.NamespacedName{Namespace: h.ns, Name: name}}
	after = &gate{key: g.key, only: controller.HoldAfterPending}
	h.tune = func(o *controller.Options) {
		o.HoldReconcile = func(ctx context.Context, name string, key k8stypes.NamespacedName) {
			g.hold(ctx, name, key)
			after.hold(ctx, name, key)
		}
	}
	return g, after
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
	return h.startWaitContext(context.Background(), name, timeout)
}

// startWaitContext runs berth wait under ctx (cli.WithVerdictHook).
func (h *harness) startWaitContext(ctx context.Context, name string, timeout time.Duration) *berthWait {
	return h.startWaitTarget(ctx, "gateway/"+name, timeout)
}

// startWaitTarget runs berth wait TARGET -o json under ctx.
func (h *harness) startWaitTarget(ctx context.Context, target string, timeout time.Duration) *berthWait {
	w := &berthWait{done: make(chan struct{})}
	cmd := cli.NewRootCmd()
	cmd.SetArgs([]string{"wait", target, "-n", h.ns, "--kubeconfig", h.env.Kubeconfig, "--timeout", timeout.String(), "-o", "json"})
	cmd.SetOut(&w.stdout)
	cmd.SetErr(&w.stderr)
	go func() {
		defer close(w.done)
		w.err = cmd.ExecuteContext(ctx)
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

// update re-reads o, changes it and writes it back (again on a conflict
// with the controller's own writes: its finalizer, status, applies).
func (h *harness) update(o client.Object, change func()) {
	h.t.Helper()
	h.write(o, change, h.cl.Update)
}

// updateStatus is update of o's status subresource.
func (h *harness) updateStatus(o client.Object, change func()) {
	h.t.Helper()
	h.write(o, change, func(ctx context.Context, o client.Object, _ ...client.UpdateOption) error {
		return h.cl.Status().Update(ctx, o)
	})
}

func (h *harness) write(o client.Object, change func(), put func(context.Context, client.Object, ...client.UpdateOption) error) {
	h.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(o), o); err != nil {
			return err
		}
		change()
		return put(context.Background(), o)
	})
	if err != nil {
		h.t.Fatalf("update %s: %v", o.GetName(), err)
	}
}

// TestWaitNeverStale (issue 16): with the controller held back across a
// change of each input kind — the class's parametersRef, the class's
// EnvoyProxy, the Gateway's EnvoyProxy, an HTTPRoute, a ClientTrafficPolicy,
// a BackendTLSPolicy and a TCPRoute, none of which changes the Gateway's
// generation — berth wait started after the change does not succeed while
// the controller is held; released, the controller first says Pending
// naming what changed (held there too: the wait still waits), and the wait
// then succeeds with the new address. The race the unheld rounds once lost
// (the wait's verdict taken on the old status, the controller's Pending
// recording the new inputs before the wait checked them) is forced with a
// hook. Then 100 changes without holding, each followed at once by a wait:
// none succeeds on the previous state.
func TestWaitNeverStale(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	g, after := h.holdGateway("gw")
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
	// refuse the stale status, releases the controller up to its Pending
	// write, checks that it names pending and that the wait still waits,
	// releases it, and returns the address the wait succeeded with.
	held := func(what, pending string, change func()) string {
		t.Helper()
		g.close()
		after.close()
		defer g.release()
		defer after.release()
		change()
		w := h.startWait("gw", 2*time.Minute)
		notDone := func() error {
			select {
			case <-w.done:
				return fmt.Errorf("berth wait returned while the controller was held (%v); stdout:\n%s\nstderr:\n%s", w.err, w.stdout.String(), w.stderr.String())
			default:
				return nil
			}
		}
		waitFor(t, 60*time.Second, what+": berth wait refusing the old status", func() error {
			if err := notDone(); err != nil {
				return err
			}
			if !strings.Contains(w.stderr.String(), "status describes older inputs") {
				return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
			}
			return nil
		})
		if err := notDone(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		g.release()
		_, c := h.condition(key, "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
		if !strings.Contains(c.Message, "inputs changed (") || !strings.Contains(c.Message, pending) {
			t.Errorf("%s: Programmed=False Pending %q, want it to name %q", what, c.Message, pending)
		}
		if err := notDone(); err != nil {
			t.Fatalf("%s, after the Pending write: %v", what, err)
		}
		after.release()
		return w.address(t)
	}

	ns := gwv1.Namespace(h.ns)
	var class gwv1.GatewayClass
	class.Name = h.class
	addr := held("class parametersRef", "GatewayClass "+h.class+" generation", func() {
		h.update(&class, func() {
			class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "class-proxy", Namespace: &ns}
		})
	})
	if want := h.serviceIP("class-svc-1"); addr != want {
		t.Errorf("after the class parametersRef change: address %s, want class-svc-1's %s", addr, want)
	}

	addr = held("class EnvoyProxy", "EnvoyProxy "+h.ns+"/class-proxy generation", func() {
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
	addr = held("Gateway EnvoyProxy", "EnvoyProxy "+h.ns+"/gw-proxy generation", func() {
		h.update(gwProxy, func() { gwProxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("gw-svc-1") })
	})
	if want := h.serviceIP("gw-svc-1"); addr != want {
		t.Errorf("after the Gateway EnvoyProxy change: address %s, want gw-svc-1's %s", addr, want)
	}

	addr = held("route", "HTTPRoute "+h.ns+"/r generation", func() {
		h.update(route, func() { route.Spec.Hostnames = []gwv1.Hostname{"b.example.com"} })
	})
	if want := h.serviceIP("gw-svc-1"); addr != want {
		t.Errorf("after the route change: address %s, want gw-svc-1's %s", addr, want)
	}

	// Policies and layer-4 routes, made unheld first: a TCP listener, a
	// backend Service for the HTTPRoute and a TCPRoute, a BackendTLSPolicy
	// on that Service and a ClientTrafficPolicy on the Gateway.
	h.create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "backend"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "backend"},
		Ports:    []corev1.ServicePort{{Name: "https", Port: 443}, {Name: "pg", Port: 5432}}}})
	h.update(route, func() {
		route.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
			BackendObjectReference: gwv1.BackendObjectReference{Name: "backend", Port: ptr.To(gwv1.PortNumber(443))}}}}}}
	})
	h.update(gw, func() {
		gw.Spec.Listeners = append(gw.Spec.Listeners, gwv1.Listener{Name: "pg", Port: 5432, Protocol: gwv1.TCPProtocolType})
	})
	btls := &gwv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "backend-tls"}, Spec: gwv1.BackendTLSPolicySpec{
		TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: "backend"}}},
		Validation: gwv1.BackendTLSPolicyValidation{WellKnownCACertificates: ptr.To(gwv1.WellKnownCACertificatesSystem), Hostname: "backend.example.com"}}}
	timeout := gwv1.Duration("10s")
	ctp := &v1alpha1.ClientTrafficPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "ctp"}, Spec: v1alpha1.ClientTrafficPolicySpec{
		TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: "gw"}}},
		Timeout:    &v1alpha1.ClientTimeout{HTTP: &v1alpha1.HTTPClientTimeout{RequestReceivedTimeout: &timeout}}}}
	tcp := &gwv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "db"}, Spec: gwv1.TCPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw", SectionName: ptr.To(gwv1.SectionName("pg"))}}},
		Rules:           []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{{BackendObjectReference: gwv1.BackendObjectReference{Name: "backend", Port: ptr.To(gwv1.PortNumber(5432))}}}}}}}
	for _, o := range []client.Object{btls, ctp, tcp} {
		h.create(o)
	}
	// The controller records the three as inputs of the Gateway.
	waitFor(t, 60*time.Second, "Programmed with the policies and the TCPRoute among the recorded inputs", func() error {
		var cur gwv1.Gateway
		if err := h.cl.Get(context.Background(), key, &cur); err != nil {
			return err
		}
		p, in := meta.FindStatusCondition(cur.Status.Conditions, "Programmed"), meta.FindStatusCondition(cur.Status.Conditions, readiness.InputsCondition)
		if p == nil || in == nil || p.Status != metav1.ConditionTrue || p.ObservedGeneration != cur.Generation {
			return fmt.Errorf("conditions %+v", cur.Status.Conditions)
		}
		if want := "1 BackendTLSPolicy, 1 ClientTrafficPolicy, 1 HTTPRoute, 1 TCPRoute"; !strings.Contains(in.Message, want) {
			return fmt.Errorf("inputs %q, want %q", in.Message, want)
		}
		return nil
	})
	for _, c := range []struct {
		what, pending string
		change        func()
	}{
		{"ClientTrafficPolicy", "ClientTrafficPolicy " + h.ns + "/ctp generation 1→2", func() {
			h.update(ctp, func() {
				d := gwv1.Duration("20s")
				ctp.Spec.Timeout.HTTP.RequestReceivedTimeout = &d
			})
		}},
		{"BackendTLSPolicy", "BackendTLSPolicy " + h.ns + "/backend-tls generation 1→2", func() {
			h.update(btls, func() { btls.Spec.Validation.Hostname = "other.example.com" })
		}},
		{"TCPRoute", "TCPRoute " + h.ns + "/db generation 1→2", func() {
			h.update(tcp, func() { tcp.Spec.Rules[0].BackendRefs[0].Port = ptr.To(gwv1.PortNumber(443)) })
		}},
	} {
		if addr := held(c.what, c.pending, c.change); addr != h.serviceIP("gw-svc-1") {
			t.Errorf("after the %s change: address %s, want gw-svc-1's %s", c.what, addr, h.serviceIP("gw-svc-1"))
		}
	}

	// The race, forced: berth wait's verdict is taken on Programmed=True
	// for the current inputs; before it checks them, the EnvoyProxy changes
	// and the controller writes Pending, recording the new inputs beside
	// the old address, and is held there. The inputs the wait then reads
	// match that status, but its verdict was on the one before: it must
	// wait, and succeed with the new address once the controller goes on.
	after.close()
	verdict, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w := h.startWaitContext(cli.WithVerdictHook(context.Background(), func() {
		once.Do(func() {
			close(verdict)
			<-resume
		})
	}), "gw", 2*time.Minute)
	select {
	case <-verdict:
	case <-w.done:
		t.Fatalf("berth wait returned before its verdict hook: %v\n%s", w.err, w.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("no verdict; stderr:\n%s", w.stderr.String())
	}
	h.update(gwProxy, func() { gwProxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("gw-svc-2") })
	_, c := h.condition(key, "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
	if !strings.Contains(c.Message, "EnvoyProxy "+h.ns+"/gw-proxy generation") {
		t.Errorf("Pending %q does not name the EnvoyProxy", c.Message)
	}
	close(resume)
	waitFor(t, 60*time.Second, "berth wait refusing a verdict its status no longer gives", func() error {
		select {
		case <-w.done:
			return fmt.Errorf("berth wait returned on the verdict of the old status (%v); stdout:\n%s\nstderr:\n%s", w.err, w.stdout.String(), w.stderr.String())
		default:
		}
		if !strings.Contains(w.stderr.String(), "its status changed since it was Ready") {
			return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
		}
		return nil
	})
	after.release()
	if addr, want := w.address(t), h.serviceIP("gw-svc-2"); addr != want {
		t.Errorf("after the forced race: address %s, want gw-svc-2's %s", addr, want)
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
