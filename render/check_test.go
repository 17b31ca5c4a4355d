package render

import (
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-gateway/berth/internal/envoyvalidate"
)

// checkBundle checks a bundle the way Envoy and Kubernetes would read it:
// the bootstrap and SDS files decode strictly and validate (into every Any),
// the SDS files hold exactly the secret the bootstrap names, the pod mounts
// only the config and the token, and the Deployment's selector matches its
// pods.
func checkBundle(b *Bundle) error {
	var cm corev1.ConfigMap
	var dep appsv1.Deployment
	var svc corev1.Service
	objects, err := b.Unstructured()
	if err != nil {
		return err
	}
	// Read back what apply would send, strictly.
	for _, obj := range objects {
		var target any
		switch obj.GetKind() {
		case "ConfigMap":
			target = &cm
		case "Deployment":
			target = &dep
		case "Service":
			target = &svc
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, target, true); err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	bs := &bootstrapv3.Bootstrap{}
	if err := envoyvalidate.UnmarshalAndValidate([]byte(cm.Data[ConfigKeyBootstrap]), bs); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	for key, name := range map[string]string{ConfigKeySDSToken: SDSSecretToken, ConfigKeySDSCA: SDSSecretCA} {
		resp := &discoveryv3.DiscoveryResponse{}
		if err := envoyvalidate.UnmarshalAndValidate([]byte(cm.Data[key]), resp); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if len(resp.Resources) != 1 {
			return fmt.Errorf("%s: %d resources, Envoy accepts exactly 1", key, len(resp.Resources))
		}
		if got := decodeSecretName(resp); got != name {
			return fmt.Errorf("%s: secret %q, want %q", key, got, name)
		}
	}
	if dep.Spec.Selector == nil {
		return fmt.Errorf("deployment has no selector")
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v {
			return fmt.Errorf("deployment selector %s=%s does not match its pod template", k, v)
		}
		if svc.Spec.Selector[k] != v {
			return fmt.Errorf("service selector misses %s=%s", k, v)
		}
	}
	if n := len(dep.Spec.Template.Spec.Volumes); n != 2 {
		return fmt.Errorf("pod has %d volumes, want 2 (config and token)", n)
	}
	return nil
}

func decodeSecretName(resp *discoveryv3.DiscoveryResponse) string {
	s := &tlsv3.Secret{}
	if err := resp.Resources[0].UnmarshalTo(s); err != nil {
		return "<" + err.Error() + ">"
	}
	return s.Name
}

// checkNames checks every object's name, labels and annotation keys as the
// API server would.
func checkNames(b *Bundle) error {
	for _, obj := range b.Objects {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		nameRule := validation.IsDNS1123Subdomain
		if kind == "Service" {
			nameRule = validation.IsDNS1035Label
		}
		if errs := nameRule(obj.GetName()); len(errs) > 0 {
			return fmt.Errorf("%s name %q: %v", kind, obj.GetName(), errs)
		}
		if errs := validation.IsDNS1123Label(obj.GetNamespace()); len(errs) > 0 {
			return fmt.Errorf("%s namespace %q: %v", kind, obj.GetNamespace(), errs)
		}
		for k, v := range obj.GetLabels() {
			if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
				return fmt.Errorf("%s label %s=%q: %v", kind, k, v, errs)
			}
		}
		for k := range obj.GetAnnotations() {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return fmt.Errorf("%s annotation %q: %v", kind, k, errs)
			}
		}
	}
	return nil
}
