package e2e

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/certs"
)

// adminClient is a typed admin client knowing berth's scheme.
func adminClient(t *testing.T, env *testenv.Env) client.Client {
	t.Helper()
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bundleKinds are the kinds a bundle may hold (render.Bundle.Objects).
var bundleKinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "serviceaccounts"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "services"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
}

// leftoverKinds are the kinds whose objects of a Gateway must be gone after
// it is deleted: the bundle's, and what the Deployment makes.
var leftoverKinds = append(clone(bundleKinds),
	schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"},
	schema.GroupVersionResource{Version: "v1", Resource: "pods"},
)

func clone[T any](s []T) []T { return append([]T(nil), s...) }

// renderOptions are the render options the in-process controller uses
// (controller.DefaultOptions completed for berth-system, as
// controller.Options.complete derives them), with the CA bundle read from
// berth's xDS TLS Secret.
func renderOptions(ctx context.Context, env *testenv.Env) (render.Options, error) {
	o := controller.DefaultOptions()
	ro := o.Render
	ro.ControllerNamespace = berthNamespace
	ro.XDSHost = "berth-xds." + berthNamespace + ".svc"
	ro.TokenAudience = o.XDS.Auth.Audience
	sec, err := env.Client.CoreV1().Secrets(berthNamespace).Get(ctx, o.Certs.SecretName, metav1.GetOptions{})
	if err != nil {
		return ro, fmt.Errorf("xDS TLS Secret: %w", err)
	}
	ro.CABundle = sec.Data[certs.KeyCACert]
	return ro, nil
}

// gatewayState says whether Gateway key is Programmed for its current
// generation, with an address, and its cluster objects are exactly what
// render makes of it; "" when so, otherwise what differs.
func gatewayState(ctx context.Context, env *testenv.Env, c client.Client, ro render.Options, key types.NamespacedName) (string, error) {
	var gw gwv1.Gateway
	if err := c.Get(ctx, key, &gw); err != nil {
		return "", err
	}
	if why := programmed(&gw); why != "" {
		return why, nil
	}
	var class gwv1.GatewayClass
	if err := c.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &class); err != nil {
		return "", err
	}
	refs, err := render.ResolveParametersRefs(&class, &gw)
	if err != nil {
		return "", err
	}
	in := render.Input{GatewayClass: &class, Gateway: &gw}
	get := func(ref *types.NamespacedName) (*v1alpha1.EnvoyProxy, error) {
		if ref == nil {
			return nil, nil
		}
		var ep v1alpha1.EnvoyProxy
		return &ep, c.Get(ctx, *ref, &ep)
	}
	if in.ClassParameters, err = get(refs.Class); err != nil {
		return "", err
	}
	if in.GatewayParameters, err = get(refs.Gateway); err != nil {
		return "", err
	}
	b, err := render.Render(in, ro)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", key, err)
	}
	want, err := b.Unstructured()
	if err != nil {
		return "", err
	}
	return compareBundle(ctx, env, key, b.Inventory, want)
}

// programmed explains why gw is not Programmed=True for its generation
// with an address ("" when it is).
func programmed(gw *gwv1.Gateway) string {
	for _, c := range gw.Status.Conditions {
		if c.Type != string(gwv1.GatewayConditionProgrammed) {
			continue
		}
		switch {
		case c.ObservedGeneration != gw.Generation:
			return fmt.Sprintf("Gateway %s/%s: Programmed for generation %d, now %d", gw.Namespace, gw.Name, c.ObservedGeneration, gw.Generation)
		case c.Status != metav1.ConditionTrue:
			return fmt.Sprintf("Gateway %s/%s: Programmed=%s %s: %s", gw.Namespace, gw.Name, c.Status, c.Reason, c.Message)
		case len(gw.Status.Addresses) == 0:
			return fmt.Sprintf("Gateway %s/%s: Programmed without addresses", gw.Namespace, gw.Name)
		}
		return ""
	}
	return fmt.Sprintf("Gateway %s/%s: no Programmed condition", gw.Namespace, gw.Name)
}

// compareBundle checks the cluster against the desired objects: each exists
// and holds every desired field with the desired value (the apiserver's
// defaults may add fields), no other bundle-kind object carries the
// Gateway's labels, and the inventory ConfigMap exists.
func compareBundle(ctx context.Context, env *testenv.Env, key types.NamespacedName, inv render.Inventory, want []*unstructured.Unstructured) (string, error) {
	wanted := map[string]bool{}
	for _, w := range want {
		gvk := w.GroupVersionKind()
		gvr, ok := resourceOf(gvk.Group, gvk.Kind)
		if !ok {
			return "", fmt.Errorf("bundle of %s has unexpected kind %s", key, gvk)
		}
		wanted[gvr.Resource+"/"+w.GetName()] = true
		live, err := env.Dynamic.Resource(gvr).Namespace(w.GetNamespace()).Get(ctx, w.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("%s %s/%s missing", gvk.Kind, w.GetNamespace(), w.GetName()), nil
		}
		if err != nil {
			return "", err
		}
		if d := subset(w.Object, live.Object, ""); d != "" {
			return fmt.Sprintf("%s %s/%s differs from render: %s", gvk.Kind, w.GetNamespace(), w.GetName(), d), nil
		}
	}
	sel := labels.SelectorFromSet(render.SelectorLabels(key.Namespace, key.Name)).String()
	for _, gvr := range bundleKinds {
		list, err := env.Dynamic.Resource(gvr).Namespace(key.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return "", err
		}
		for _, o := range list.Items {
			if !wanted[gvr.Resource+"/"+o.GetName()] && o.GetName() != inv.Name {
				return fmt.Sprintf("%s %s/%s is not in the bundle of %s", gvr.Resource, o.GetNamespace(), o.GetName(), key), nil
			}
		}
	}
	if _, err := env.Client.CoreV1().ConfigMaps(inv.Namespace).Get(ctx, inv.Name, metav1.GetOptions{}); err != nil {
		return fmt.Sprintf("inventory ConfigMap %s/%s: %v", inv.Namespace, inv.Name, err), nil
	}
	return "", nil
}

func resourceOf(group, kind string) (schema.GroupVersionResource, bool) {
	for _, gvr := range bundleKinds {
		if gvr.Group == group && strings.EqualFold(gvr.Resource, strings.ToLower(kind)+"s") {
			return gvr, true
		}
	}
	if group == "" && kind == "ServiceAccount" {
		return bundleKinds[0], true
	}
	return schema.GroupVersionResource{}, false
}

// subset reports the first place where want is not contained in got: maps
// may gain keys, lists must have the same length with each element
// contained, scalars must be equal (numbers compared by value). An empty
// desired map or list matches an absent field (the apiserver drops them).
func subset(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if len(w) == 0 && got == nil {
				return ""
			}
			return fmt.Sprintf("%s: want an object, got %T", path, got)
		}
		ks := make([]string, 0, len(w))
		for k := range w {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			gv, present := g[k]
			if !present {
				if empty(w[k]) {
					continue
				}
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := subset(w[k], gv, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			if len(w) == 0 && got == nil {
				return ""
			}
			return fmt.Sprintf("%s: want a list, got %T", path, got)
		}
		if len(w) != len(g) {
			return fmt.Sprintf("%s: %d items, want %d", path, len(g), len(w))
		}
		for i := range w {
			if d := subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if num(want) != nil && num(got) != nil {
			if *num(want) != *num(got) {
				return fmt.Sprintf("%s: %v, want %v", path, got, want)
			}
			return ""
		}
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: %v, want %v", path, got, want)
		}
		return ""
	}
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func num(v any) *float64 {
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case int:
		f = float64(x)
	case int32:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil
	}
	return &f
}

// leftovers lists what of Gateway ns/gw remains: objects carrying its
// labels (bundle kinds, ReplicaSets, pods) and its inventory ConfigMap.
func leftovers(ctx context.Context, env *testenv.Env, ns, gw string) ([]string, error) {
	var out []string
	sel := labels.SelectorFromSet(map[string]string{
		render.LabelOwningGatewayNamespace: ns,
		render.LabelOwningGatewayName:      gw,
	}).String()
	for _, gvr := range leftoverKinds {
		list, err := env.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, err
		}
		for _, o := range list.Items {
			out = append(out, gvr.Resource+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	inv := render.InventoryName(ns, gw)
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, inv, metav1.GetOptions{}); err == nil {
		out = append(out, "inventory configmaps "+ns+"/"+inv)
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	return out, nil
}

// berthLeftovers lists everything of berth's in namespaces: any object of
// the bundle and pod kinds labelled managed-by=berth, any cli-utils
// inventory ConfigMap, any Gateway still carrying berth's finalizer.
func berthLeftovers(ctx context.Context, env *testenv.Env, c client.Client, namespaces ...string) ([]string, error) {
	var out []string
	// Pods and ReplicaSets carry the pod template's labels, which need not
	// include managed-by: look for the proxy's selector labels too.
	selectors := []string{
		labels.SelectorFromSet(map[string]string{render.LabelManagedBy: render.LabelManagedByValue}).String(),
		labels.SelectorFromSet(map[string]string{render.LabelName: render.LabelNameValue, render.LabelComponent: render.LabelComponentValue}).String(),
	}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		for _, gvr := range leftoverKinds {
			for _, sel := range selectors {
				list, err := env.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					return nil, err
				}
				for _, o := range list.Items {
					if k := gvr.Resource + " " + o.GetNamespace() + "/" + o.GetName(); !seen[k] {
						seen[k] = true
						out = append(out, k)
					}
				}
			}
		}
		invs, err := env.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: render.InventoryLabel})
		if err != nil {
			return nil, err
		}
		for _, o := range invs.Items {
			out = append(out, "inventory configmaps "+o.Namespace+"/"+o.Name)
		}
		var gws gwv1.GatewayList
		if err := c.List(ctx, &gws, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		for _, g := range gws.Items {
			for _, f := range g.Finalizers {
				if f == render.Finalizer {
					out = append(out, "finalizer on Gateway "+g.Namespace+"/"+g.Name)
				}
			}
		}
	}
	return out, nil
}
