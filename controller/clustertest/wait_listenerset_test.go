package clustertest

import (
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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/cli"
	"github.com/berth-gateway/berth/internal/readiness"
)

// listenerSet waits for the wait to end, requires success, and returns the
// ListenerSet it succeeded on (-o json).
func (w *berthWait) listenerSet(t *testing.T) *gwv1.ListenerSet {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("berth wait did not return; stderr:\n%s", w.stderr.String())
	}
	if w.err != nil {
		t.Fatalf("berth wait: %v (exit %d); stderr:\n%s", w.err, cli.ExitCode(w.err), w.stderr.String())
	}
	var ls gwv1.ListenerSet
	if err := json.Unmarshal([]byte(w.stdout.String()), &ls); err != nil || ls.Kind != "ListenerSet" {
		t.Fatalf("berth wait -o json: %v, kind %q:\n%s", err, ls.Kind, w.stdout.String())
	}
	return &ls
}

// notDone fails when the wait has returned.
func (w *berthWait) notDone() error {
	select {
	case <-w.done:
		return fmt.Errorf("berth wait returned (%v); stdout:\n%s\nstderr:\n%s", w.err, w.stdout.String(), w.stderr.String())
	default:
		return nil
	}
}

// gatewayInputs is the gateway-inputs digest Gateway key's status records
// now (its InputsCondition), "" without one.
func (h *harness) gatewayInputs(key k8stypes.NamespacedName) string {
	h.t.Helper()
	var gw gwv1.Gateway
	if err := h.cl.Get(context.Background(), key, &gw); err != nil {
		h.t.Fatalf("Gateway %s: %v", key, err)
	}
	return readiness.Gateway{Generation: gw.Generation, Conditions: gw.Status.Conditions}.Recorded().Gateway
}

// recordedParentInputs is the parent's gateway-inputs digest a
// ListenerSet's InputsCondition records.
func recordedParentInputs(ls *gwv1.ListenerSet) string {
	return readiness.Gateway{Generation: ls.Generation, Conditions: ls.Status.Conditions}.Recorded().Gateway
}

// TestWaitListenerSetNeverStale: `berth wait listenerset/NAME` never succeeds
// on a state older than the inputs it can see. With the parent Gateway's
// reconciles held back, a change of the ListenerSet (its generation) and a
// change of the parent's EnvoyProxy (neither the ListenerSet's nor the
// Gateway's generation) each leave a wait started after the change waiting;
// released, the wait succeeds on the ListenerSet at its new generation and
// with the parent's new inputs recorded. The race of a verdict taken just
// before the parent's inputs change is forced with the verdict hook; and
// with the ListenerSet's own reconciles held, the parent Programmed for its
// new inputs while the ListenerSet's status still follows the old ones.
// Then rounds without holding: no success on the previous state.
func TestWaitListenerSetNeverStale(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	g, after := h.holdGateway("gw")
	// lsHold holds the ListenerSet's status reconciles (not the parent's).
	lsHold := &gate{key: k8stypes.NamespacedName{Namespace: h.ns, Name: "extra"}, only: controller.HoldListenerSet}
	holdGW := h.tune
	h.tune = func(o *controller.Options) {
		holdGW(o)
		held := o.HoldReconcile
		o.HoldReconcile = func(ctx context.Context, name string, key k8stypes.NamespacedName) {
			held(ctx, name, key)
			lsHold.hold(ctx, name, key)
		}
	}
	proxy := namedProxy(h.ns, "proxy", "svc-0")
	h.create(proxy)
	h.start()
	gw := h.listenerSetParent()
	gwKey := client.ObjectKeyFromObject(gw)
	key := h.listenerSet("extra", "gw", 8081)
	h.programmed(gwKey)
	h.listenerSetState(key, lsState{accepted: "True/Accepted", programmed: "True/Programmed"}, 60*time.Second)
	target := "listenerset/extra"

	// 1. The ListenerSet's own change, held: its Programmed is of the
	// previous generation.
	g.close()
	var ls gwv1.ListenerSet
	ls.Namespace, ls.Name = key.Namespace, key.Name
	h.update(&ls, func() { ls.Spec.Listeners[0].Port = 8082 })
	w := h.startWaitTarget(context.Background(), target, 2*time.Minute)
	waitFor(t, 60*time.Second, "berth wait seeing the ListenerSet's Programmed of the previous generation", func() error {
		if err := w.notDone(); err != nil {
			return err
		}
		if !strings.Contains(w.stderr.String(), "ListenerSet "+key.String()+": Programmed=True (Programmed)") ||
			!strings.Contains(w.stderr.String(), "[stale: observedGeneration 1 < generation 2]") {
			return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
		}
		return nil
	})
	if err := w.notDone(); err != nil {
		t.Fatalf("ListenerSet change, held: %v", err)
	}
	g.release()
	got := w.listenerSet(t)
	if p := meta.FindStatusCondition(got.Status.Conditions, "Programmed"); got.Generation != 2 || p == nil || p.ObservedGeneration != 2 || p.Status != metav1.ConditionTrue {
		t.Errorf("berth wait succeeded on generation %d with Programmed %+v", got.Generation, p)
	}
	// The parent's data plane serves the new port.
	var svc corev1.Service
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: "svc-0"}, &svc); err != nil {
		t.Fatal(err)
	}
	if !servicePort(&svc, 8082) {
		t.Errorf("after the wait, Service svc-0 has ports %+v, want 8082", svc.Spec.Ports)
	}

	// 2. The parent's EnvoyProxy changes, held: the ListenerSet's status is
	// unchanged (its generation too), the parent's is of the old inputs.
	before := h.gatewayInputs(gwKey)
	g.close()
	after.close()
	h.update(proxy, func() { proxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("svc-1") })
	w = h.startWaitTarget(context.Background(), target, 2*time.Minute)
	waitFor(t, 60*time.Second, "berth wait refusing the parent's old status", func() error {
		if err := w.notDone(); err != nil {
			return err
		}
		if !strings.Contains(w.stderr.String(), "ListenerSet "+key.String()+": parent Gateway "+gwKey.String()+": status describes older inputs") {
			return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
		}
		return nil
	})
	g.release()
	h.condition(gwKey, "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
	h.listenerSetState(key, lsState{programmed: "False/ParentNotProgrammed"}, 60*time.Second)
	if err := w.notDone(); err != nil {
		t.Fatalf("EnvoyProxy change, after the parent's Pending: %v", err)
	}
	after.release()
	got = w.listenerSet(t)
	if rec, now := recordedParentInputs(got), h.gatewayInputs(gwKey); rec == before || rec != now {
		t.Errorf("berth wait succeeded on a ListenerSet recording parent inputs %s (before the change %s, now %s)", rec, before, now)
	}

	// 2b. The parent's EnvoyProxy changes with the ListenerSet's reconciles
	// held: the parent goes Pending and then Programmed for its new inputs
	// while the ListenerSet's status (Programmed=True, unchanged
	// generation) still records the parent's previous status.
	before = h.gatewayInputs(gwKey)
	lsHold.close()
	h.update(proxy, func() { proxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("svc-1b") })
	w = h.startWaitTarget(context.Background(), target, 2*time.Minute)
	waitFor(t, 60*time.Second, "the parent Programmed for its new inputs", func() error {
		var cur gwv1.Gateway
		if err := h.cl.Get(context.Background(), gwKey, &cur); err != nil {
			return err
		}
		if now := h.gatewayInputs(gwKey); now == before {
			return fmt.Errorf("parent still records inputs %s", now)
		}
		if c := meta.FindStatusCondition(cur.Status.Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != cur.Generation {
			return fmt.Errorf("parent Programmed %+v", c)
		}
		return nil
	})
	waitFor(t, 60*time.Second, "berth wait refusing the ListenerSet's status of the parent's old status", func() error {
		if err := w.notDone(); err != nil {
			return err
		}
		if !strings.Contains(w.stderr.String(), "its status was computed from an older status of parent Gateway "+gwKey.String()) {
			return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
		}
		return nil
	})
	var lagging gwv1.ListenerSet
	if err := h.cl.Get(context.Background(), key, &lagging); err != nil {
		t.Fatal(err)
	}
	if rec := recordedParentInputs(&lagging); rec != before {
		t.Fatalf("the held ListenerSet's status records parent inputs %s, want the old %s: the hold did not hold", rec, before)
	}
	if err := w.notDone(); err != nil {
		t.Fatalf("parent Programmed, ListenerSet held: %v", err)
	}
	lsHold.release()
	got = w.listenerSet(t)
	if rec, now := recordedParentInputs(got), h.gatewayInputs(gwKey); rec == before || rec != now {
		t.Errorf("berth wait succeeded on a ListenerSet recording parent inputs %s (before the change %s, now %s)", rec, before, now)
	}

	// 3. The race, forced: the verdict is taken on the ListenerSet Ready;
	// before it is checked, the EnvoyProxy changes and the parent says
	// Pending (held there). The wait must not succeed on that verdict.
	after.close()
	verdict, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w = h.startWaitTarget(cli.WithVerdictHook(context.Background(), func() {
		once.Do(func() {
			close(verdict)
			<-resume
		})
	}), target, 2*time.Minute)
	select {
	case <-verdict:
	case <-w.done:
		t.Fatalf("berth wait returned before its verdict hook: %v\n%s", w.err, w.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("no verdict; stderr:\n%s", w.stderr.String())
	}
	before = h.gatewayInputs(gwKey)
	h.update(proxy, func() { proxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("svc-2") })
	h.condition(gwKey, "Programmed", metav1.ConditionFalse, "Pending", 60*time.Second)
	close(resume)
	waitFor(t, 60*time.Second, "berth wait refusing a verdict its status no longer gives", func() error {
		if err := w.notDone(); err != nil {
			return err
		}
		if !strings.Contains(w.stderr.String(), "ListenerSet "+key.String()+": its status changed since it was Ready") {
			return fmt.Errorf("stderr so far:\n%s", w.stderr.String())
		}
		return nil
	})
	after.release()
	got = w.listenerSet(t)
	if rec, now := recordedParentInputs(got), h.gatewayInputs(gwKey); rec == before || rec != now {
		t.Errorf("after the forced race: ListenerSet records parent inputs %s (before %s, now %s)", rec, before, now)
	}

	// 4. Unheld rounds: each change followed at once by a wait.
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	stale := 0
	for i := range rounds {
		before := h.gatewayInputs(gwKey)
		h.update(proxy, func() { proxy.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To(fmt.Sprintf("svc-r%d", i)) })
		got := h.startWaitTarget(context.Background(), target, 2*time.Minute).listenerSet(t)
		if rec := recordedParentInputs(got); rec == before || rec != h.gatewayInputs(gwKey) {
			stale++
			t.Errorf("round %d: berth wait succeeded on a ListenerSet recording parent inputs %s (before the change %s)", i, rec, before)
		}
	}
	t.Logf("%d rounds, %d successes on the old state", rounds, stale)
}

func servicePort(svc *corev1.Service, port int32) bool {
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return true
		}
	}
	return false
}
