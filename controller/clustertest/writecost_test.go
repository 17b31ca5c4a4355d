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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
)

// TestWriteCost measures what the cluster's processes spend on each kind of
// write a new Gateway costs (opt-in, BERTH_WRITECOST=N; not part of
// `make test`): N writes of one kind at a time, 16 at once, no controller
// serving the class, and the CPU time of every process from /proc before
// and after (cpuTable). The writes are those of berth's pipeline — the
// Gateway's create (the user's), the finalizer's merge patch, status
// writes as a whole-object update and as a merge patch, the inventory's
// create and its digest patch — so each one's cost for kube-apiserver,
// etcd and the watchers (kube-controller-manager's garbage collector
// watches every kind) can be compared. BERTH_SCALE_APISERVER_PROFILE=DIR
// profiles kube-apiserver over the first BERTH_SCALE_PROFILE_SECONDS of
// each kind (see apiserverProfile).
//
//	BERTH_WRITECOST=400 go test -count=1 -run 'TestWriteCost$' -v ./controller/clustertest/
func TestWriteCost(t *testing.T) {
	n := envInt(t, "BERTH_WRITECOST")
	h := newHarness(t)
	ctx := context.Background()
	gws := make([]*gwv1.Gateway, n)
	measure := func(what string, write func(i int) error) {
		t.Helper()
		time.Sleep(2 * time.Second) // the previous writes' watch events delivered
		before := h.sampleCPU(nil)
		profiled := h.apiserverProfile(strings.Join(strings.Fields(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return ' '
		}, what)), "-"))
		start := time.Now()
		var (
			wg   sync.WaitGroup
			sem  = make(chan struct{}, 16)
			mu   sync.Mutex
			errs []string
		)
		for i := 0; i < n; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				if err := write(i); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		took := time.Since(start)
		time.Sleep(2 * time.Second) // their watch events delivered
		after := h.sampleCPU(nil)
		profiled()
		if len(errs) > 0 {
			t.Fatalf("%s: %d errors, first: %s", what, len(errs), errs[0])
		}
		t.Logf("%s: %d in %s; CPU per write: %s", what, n, took.Round(time.Millisecond), cpuTable(before, after, n))
	}

	measure("Gateway create", func(i int) error {
		gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: fmt.Sprintf("gw-%04d", i)}, Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
		}}
		gws[i] = gw
		return h.cl.Create(ctx, gw)
	})
	measure("Gateway finalizer (merge patch with resourceVersion)", func(i int) error {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": []string{render.Finalizer}, "resourceVersion": gws[i].ResourceVersion}})
		return h.cl.Patch(ctx, gws[i], client.RawPatch(k8stypes.MergePatchType, b))
	})
	status := func(gw *gwv1.Gateway, programmed metav1.ConditionStatus, reason, msg string) {
		now := metav1.Now()
		gw.Status.Conditions = []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "accepted by berth", ObservedGeneration: gw.Generation, LastTransitionTime: now},
			{Type: "Programmed", Status: programmed, Reason: reason, Message: msg, ObservedGeneration: gw.Generation, LastTransitionTime: now},
		}
		gw.Status.Listeners = []gwv1.ListenerStatus{{
			Name:           "http",
			SupportedKinds: []gwv1.RouteGroupKind{{Group: ptr.To(gwv1.Group(gwv1.GroupName)), Kind: "HTTPRoute"}, {Group: ptr.To(gwv1.Group(gwv1.GroupName)), Kind: "GRPCRoute"}},
			Conditions: []metav1.Condition{
				{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "listener accepted", ObservedGeneration: gw.Generation, LastTransitionTime: now},
				{Type: "Programmed", Status: programmed, Reason: reason, Message: msg, ObservedGeneration: gw.Generation, LastTransitionTime: now},
				{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs", Message: "refs resolved", ObservedGeneration: gw.Generation, LastTransitionTime: now},
				{Type: "Conflicted", Status: metav1.ConditionFalse, Reason: "NoConflicts", Message: "no conflicts", ObservedGeneration: gw.Generation, LastTransitionTime: now},
			},
		}}
	}
	measure("Gateway status update (whole object, Pending)", func(i int) error {
		status(gws[i], metav1.ConditionFalse, "Pending", "Deployment "+h.ns+"/envoy: InProgress")
		return h.cl.Status().Update(ctx, gws[i])
	})
	measure("Gateway status merge patch (Programmed)", func(i int) error {
		base := gws[i].DeepCopy()
		status(gws[i], metav1.ConditionTrue, "Programmed", "bundle ready and xDS configuration published")
		return h.cl.Status().Patch(ctx, gws[i], client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
	measure("Gateway status update (whole object, Pending again)", func(i int) error {
		status(gws[i], metav1.ConditionFalse, "Pending", "Deployment "+h.ns+"/envoy: InProgress")
		return h.cl.Status().Update(ctx, gws[i])
	})
	cms := make([]*corev1.ConfigMap, n)
	measure("inventory ConfigMap create", func(i int) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: fmt.Sprintf("inv-%04d", i), Labels: map[string]string{
			"cli-utils.sigs.k8s.io/inventory-id": strings.Repeat("x", 40),
			render.LabelOwningGatewayNamespace:   h.ns,
			render.LabelOwningGatewayName:        fmt.Sprintf("gw-%04d", i),
			"app.kubernetes.io/managed-by":       "berth",
		}}, Data: map[string]string{
			"_" + h.ns + "_envoy__ServiceAccount": "",
			"_" + h.ns + "_envoy__ConfigMap":      "",
			"_" + h.ns + "_envoy__Service":        "",
			"apps_" + h.ns + "_envoy_Deployment":  "",
		}}
		cms[i] = cm
		return h.cl.Create(ctx, cm)
	})
	measure("inventory digest annotations (merge patch)", func(i int) error {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
			"apply.berth-gateway.io/set-digest":   strings.Repeat("a", 64),
			"apply.berth-gateway.io/owned-digest": strings.Repeat("b", 64),
		}}})
		return h.cl.Patch(ctx, cms[i], client.RawPatch(k8stypes.MergePatchType, b))
	})
	for i := 0; i < n; i++ {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": nil}})
		_ = h.cl.Patch(ctx, gws[i], client.RawPatch(k8stypes.MergePatchType, b))
	}
}
