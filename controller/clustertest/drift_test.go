package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/berth-gateway/berth/render"
)

// TestDriftIsRestored: once a Gateway is Programmed, its reconciles skip
// render and apply while its inputs and bundle are unchanged; an edit of a
// field berth owns (the bootstrap ConfigMap's data, written by another field
// manager) and a deleted bundle object (the Service) are still restored.
func TestDriftIsRestored(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	key := client.ObjectKeyFromObject(gw)
	h.programmed(key)
	ctx := context.Background()
	proxy := render.ProxyName(h.ns, "gw")

	var cms corev1.ConfigMapList
	if err := h.cl.List(ctx, &cms, client.InNamespace(h.ns), client.MatchingLabels{render.LabelOwningGatewayName: "gw"}); err != nil {
		t.Fatal(err)
	}
	var cm *corev1.ConfigMap
	for i := range cms.Items {
		if _, inv := cms.Items[i].Labels["cli-utils.sigs.k8s.io/inventory-id"]; !inv && len(cms.Items[i].Data) > 0 {
			cm = &cms.Items[i]
		}
	}
	if cm == nil {
		t.Fatalf("no bundle ConfigMap with data among %d", len(cms.Items))
	}
	want := map[string]string{}
	for k, v := range cm.Data {
		want[k] = v
	}
	var edited string
	for k := range cm.Data {
		edited = k
		cm.Data[k] = "edited by hand"
		break
	}
	if err := h.cl.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "bootstrap ConfigMap restored", func() error {
		var got corev1.ConfigMap
		if err := h.cl.Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil {
			return err
		}
		if got.Data[edited] != want[edited] {
			return fmt.Errorf("%s still %q", edited, got.Data[edited])
		}
		return nil
	})

	svcKey := k8stypes.NamespacedName{Namespace: h.ns, Name: proxy}
	var svc corev1.Service
	if err := h.cl.Get(ctx, svcKey, &svc); err != nil {
		t.Fatal(err)
	}
	if err := h.cl.Delete(ctx, &svc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Service created again", func() error {
		var got corev1.Service
		if err := h.cl.Get(ctx, svcKey, &got); err != nil {
			return err
		}
		if got.UID == svc.UID {
			return fmt.Errorf("the deleted Service is still there")
		}
		return nil
	})
	h.condition(key, "Programmed", metav1.ConditionTrue, "Programmed", 30*time.Second)
}
