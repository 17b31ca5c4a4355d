package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/berth-gateway/berth/render"
)

// proxyPodSelector selects the Envoy pods of berth's bundles (the labels
// render puts on every pod template).
var proxyPodSelector = labels.SelectorFromSet(labels.Set{
	render.LabelName:      render.LabelNameValue,
	render.LabelComponent: render.LabelComponentValue,
	render.LabelManagedBy: render.LabelManagedByValue,
})

// stripPod keeps what revocation reads (the UID) of a cached pod, with the
// name, namespace and resourceVersion the cache keys and orders it by; the
// labels it was selected by are not read again.
func stripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
	}}, nil
}

// watchProxyPods revokes a proxy pod's tokens and ends its xDS streams as
// soon as the pod is deleted, on every replica: a token bound to a deleted
// pod is refused by the apiserver too, but a cached review or an open
// stream would otherwise outlive the pod until the token expires.
func (c *Controller) watchProxyPods() error {
	inf, err := c.mgr.GetCache().GetInformer(context.Background(), &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("proxy pod informer: %w", err)
	}
	_, err = inf.AddEventHandler(c.xds.PodDeletions())
	return err
}
