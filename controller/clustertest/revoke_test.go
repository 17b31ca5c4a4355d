package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// TestProxyPodDeletionRevokes: the controller's own watch of proxy pods (a
// metadata-only informer) revokes a deleted proxy pod's tokens and streams:
// the xDS server counts one revocation per deleted pod, none for a pod
// that is not berth's.
func TestProxyPodDeletionRevokes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	metrics, err := xds.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.tune = func(o *controller.Options) { o.XDS.Metrics = metrics }
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.start()
	gw := h.gateway("gw", 8080, "proxy")
	h.programmed(client.ObjectKeyFromObject(gw))

	// A pod that is not berth's, deleted first: no revocation.
	other := &corev1.Pod{}
	other.Namespace, other.Name = h.ns, "not-a-proxy"
	other.Labels = map[string]string{"app": "other"}
	other.Spec.Containers = []corev1.Container{{Name: "c", Image: "example.com/c"}}
	h.create(other)
	if err := h.cl.Delete(context.Background(), other, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}

	var pods corev1.PodList
	sel := client.MatchingLabels{render.LabelName: render.LabelNameValue, render.LabelComponent: render.LabelComponentValue, render.LabelManagedBy: render.LabelManagedByValue}
	waitFor(t, time.Minute, "a proxy pod", func() error {
		if err := h.cl.List(context.Background(), &pods, client.InNamespace(h.ns), sel); err != nil {
			return err
		}
		if len(pods.Items) == 0 {
			return fmt.Errorf("no proxy pod yet")
		}
		return nil
	})
	if got := xdstest.Value(metrics.Revocations); got != 0 {
		t.Fatalf("%v revocations before a proxy pod was deleted", got)
	}
	if err := h.cl.Delete(context.Background(), &pods.Items[0], client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the deleted proxy pod revoked", func() error {
		if got := xdstest.Value(metrics.Revocations); got != 1 {
			return fmt.Errorf("%v revocations", got)
		}
		return nil
	})
}
