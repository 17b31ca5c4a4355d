package clustertest

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

// TestSeedBundleBecomesAvailable applies the seed's bundle for real and
// waits until its Deployment is available: the pods pass admission (their
// ServiceAccount, projected token and ConfigMap volumes) and run 2/2, as in
// the reference walk-through.
func TestSeedBundleBecomesAvailable(t *testing.T) {
	env := testenv.Get(t)
	a := newApplier(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var depName string
	for _, obj := range readDocs(t, "../testdata/seed.out.yaml") {
		if obj.GetNamespace() != "team-a" {
			continue // one Gateway is enough
		}
		obj.SetNamespace(ns)
		if err := a.apply(ctx, obj, false); err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetKind() == "Deployment" {
			depName = obj.GetName()
		}
	}
	if depName != render.ProxyName("team-a", "gateway-a") {
		t.Fatalf("deployment %q", depName)
	}

	var dep *appsv1.Deployment
	for {
		var err error
		dep, err = env.Client.AppsV1().Deployments(ns).Get(ctx, depName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dep.Status.AvailableReplicas == 1 && dep.Status.ObservedGeneration == dep.Generation {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment not available: %+v", dep.Status)
		case <-time.After(250 * time.Millisecond):
		}
	}
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(render.SelectorLabels("team-a", "gateway-a")).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("%d pods", len(pods.Items))
	}
	pod := pods.Items[0]
	if !strings.HasPrefix(pod.Name, "envoy-team-a-gateway-a-b65c6264-") {
		t.Errorf("pod name %s", pod.Name)
	}
	ready := 0
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
	}
	if len(pod.Spec.Containers) != 2 || ready != 2 {
		t.Errorf("pod %s: %d/%d containers ready", pod.Name, ready, len(pod.Spec.Containers))
	}
	if pod.Spec.ServiceAccountName != render.ServiceAccountName("team-a", "gateway-a") {
		t.Errorf("pod runs as %s", pod.Spec.ServiceAccountName)
	}
	// The only token in the pod is the projected xDS one.
	for _, v := range pod.Spec.Volumes {
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil && src.ServiceAccountToken.Audience != render.DefaultOptions().TokenAudience {
					t.Errorf("volume %s: token for audience %q", v.Name, src.ServiceAccountToken.Audience)
				}
			}
		}
		if v.Secret != nil {
			t.Errorf("volume %s mounts Secret %s", v.Name, v.Secret.SecretName)
		}
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("pod phase %s", pod.Status.Phase)
	}
}
