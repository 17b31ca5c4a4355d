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

// proxyPodMeta is the kind of the proxy pod informer: pods as metadata
// only (revocation reads nothing else; a typed Pod is 1.2 KB before any
// field is set).
func proxyPodMeta() *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
}

// stripPod keeps what revocation reads (the UID) of a cached pod, with the
// name, namespace and resourceVersion the cache keys and orders it by; the
// labels it was selected by are not read again.
func stripPod(obj any) (any, error) {
	var m *metav1.ObjectMeta
	switch p := obj.(type) {
	case *metav1.PartialObjectMetadata:
		m = &p.ObjectMeta
	case *corev1.Pod:
		m = &p.ObjectMeta
	default:
		return obj, nil
	}
	out := proxyPodMeta()
	out.ObjectMeta = metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
	return out, nil
}

// watchProxyPods revokes a proxy pod's tokens and ends its xDS streams as
// soon as the pod is deleted, on every replica: a token bound to a deleted
// pod is refused by the apiserver too, but a cached review or an open
// stream would otherwise outlive the pod until the token expires.
func (c *Controller) watchProxyPods() error {
	inf, err := c.mgr.GetCache().GetInformer(context.Background(), proxyPodMeta())
	if err != nil {
		return fmt.Errorf("proxy pod informer: %w", err)
	}
	_, err = inf.AddEventHandler(c.xds.PodDeletions())
	return err
}
