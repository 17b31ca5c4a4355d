package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
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
	"github.com/berth-gateway/berth/render"
)

// Two Gateways whose EnvoyProxy names the same Service: the one created
// first keeps it and says which Gateway was refused; the later one is
// refused, naming the first, with nothing of its bundle applied; the Service
// does not change hands while both exist; once the first is deleted the
// second takes it over.
func TestServiceCollision(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("shared")
	h.create(ep)
	h.start()
	first := client.ObjectKeyFromObject(h.gateway("a-first", 8080, "proxy"))
	h.programmed(first)
	second := client.ObjectKeyFromObject(h.gateway("b-second", 8080, "proxy"))

	svcKey := k8stypes.NamespacedName{Namespace: h.ns, Name: "shared"}
	_, lost := h.condition(second, "Accepted", metav1.ConditionFalse, "Invalid", 30*time.Second)
	wantLost := fmt.Sprintf("gateway %s: Service %s is also an object of Gateway %s (", second, svcKey, first)
	if !strings.HasPrefix(lost.Message, wantLost) || !strings.HasSuffix(lost.Message, "), which keeps it") {
		t.Errorf("refused Gateway's message %q, want %q…, which keeps it", lost.Message, wantLost)
	}
	wantKept := fmt.Sprintf("Service %s is also an object of Gateway %s (", svcKey, second)
	waitFor(t, 30*time.Second, "the first Gateway naming the refused one", func() error {
		_, kept := h.condition(first, "Accepted", metav1.ConditionTrue, "Accepted", 10*time.Second)
		if !strings.Contains(kept.Message, wantKept) || !strings.Contains(kept.Message, "which is refused") {
			return fmt.Errorf("Accepted message %q, want it to contain %q…, which is refused", kept.Message, wantKept)
		}
		return nil
	})
	h.programmed(first)

	// berth diff renders as the controller does: the refused Gateway is an
	// error with the status's message, the first one diffs clean.
	o := h.options()
	for _, c := range []struct {
		gw       k8stypes.NamespacedName
		code     int
		contains string
	}{{second, cli.ExitUsage, lost.Message}, {first, cli.ExitOK, ""}} {
		var stdout, stderr bytes.Buffer
		cmd := cli.NewRootCmd()
		cmd.SetArgs([]string{"diff", "gateway/" + c.gw.Name, "-n", h.ns, "--kubeconfig", h.env.Kubeconfig,
			"--controller-name", h.name, "--controller-namespace", h.ctrlNS,
			"--shutdown-manager-image", o.Render.ShutdownManagerImage, "--envoy-image", o.Render.EnvoyImage})
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		err := cmd.Execute()
		if code := cli.ExitCode(err); code != c.code || (c.contains != "" && !strings.Contains(err.Error(), c.contains)) {
			t.Errorf("berth diff %s: exit %d (%v), want %d with %q; stdout:\n%s", c.gw, code, err, c.code, c.contains, stdout.String())
		}
	}

	// Nothing of the refused Gateway's bundle exists, and the Service stays
	// the first Gateway's without being rewritten.
	var svc corev1.Service
	if err := h.cl.Get(context.Background(), svcKey, &svc); err != nil {
		t.Fatal(err)
	}
	rv := svc.ResourceVersion
	time.Sleep(2 * time.Second)
	if left := h.bundleObjects(h.ns, second.Name); len(left) > 0 {
		t.Errorf("refused Gateway has bundle objects: %v", left)
	}
	if err := h.cl.Get(context.Background(), svcKey, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Labels[render.LabelOwningGatewayName] != first.Name || svc.ResourceVersion != rv {
		t.Errorf("Service changed hands or was rewritten: owner %q, resourceVersion %s → %s", svc.Labels[render.LabelOwningGatewayName], rv, svc.ResourceVersion)
	}

	// The first Gateway goes: the second is woken, takes the Service over,
	// and its status no longer names the first.
	if err := h.cl.Delete(context.Background(), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: first.Namespace, Name: first.Name}}); err != nil {
		t.Fatal(err)
	}
	h.waitGone(h.ns, first.Name)
	_, acc := h.condition(second, "Accepted", metav1.ConditionTrue, "Accepted", 60*time.Second)
	if strings.Contains(acc.Message, first.Name) {
		t.Errorf("Accepted message still names %s: %q", first, acc.Message)
	}
	h.programmed(second)
	if err := h.cl.Get(context.Background(), svcKey, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Labels[render.LabelOwningGatewayName] != second.Name {
		t.Errorf("Service owner %q, want %s", svc.Labels[render.LabelOwningGatewayName], second.Name)
	}
}

// The first Gateway's destroy held back (as a busy queue or a controller
// outage would) while the refused Gateway is woken by its deletion: the
// refused one may not take the Service before it is deleted, and once
// released the first Gateway's bundle, inventory included, is gone and the
// second is Programmed with the Service.
func TestServiceCollisionHandoverHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyService.Name = ptr.To("shared")
	h.create(ep)
	g := &gate{key: k8stypes.NamespacedName{Namespace: h.ns, Name: "a-first"}}
	h.tune = func(o *controller.Options) { o.HoldReconcile = g.hold }
	h.start()
	first := client.ObjectKeyFromObject(h.gateway("a-first", 8080, "proxy"))
	h.programmed(first)
	second := client.ObjectKeyFromObject(h.gateway("b-second", 8080, "proxy"))
	h.condition(second, "Accepted", metav1.ConditionFalse, "Invalid", 30*time.Second)

	g.close()
	defer g.release()
	if err := h.cl.Delete(context.Background(), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: first.Namespace, Name: first.Name}}); err != nil {
		t.Fatal(err)
	}
	// The second Gateway is woken by the deletion while the first's
	// destroy is held.
	time.Sleep(5 * time.Second)
	var gw gwv1.Gateway
	if err := h.cl.Get(context.Background(), second, &gw); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(gw.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "a-first") {
		t.Errorf("while the first Gateway's destroy is held, the second's Accepted is %+v, want False naming a-first (it keeps the Service until its bundle is gone)", c)
	}
	if left := h.bundleObjects(h.ns, second.Name); len(left) > 0 {
		t.Errorf("the second Gateway applied objects while the first's destroy was held: %v", left)
	}
	g.release()
	h.waitGone(h.ns, first.Name)
	h.programmed(second)
	var svc corev1.Service
	if err := h.cl.Get(context.Background(), k8stypes.NamespacedName{Namespace: h.ns, Name: "shared"}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Labels[render.LabelOwningGatewayName] != second.Name {
		t.Errorf("Service owner %q, want %s", svc.Labels[render.LabelOwningGatewayName], second.Name)
	}
}
