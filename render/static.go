package render

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// Static is a fixed set of objects to render from, as read from manifests
// (berth render) rather than from a cluster.
type Static struct {
	GatewayClasses []*gwv1.GatewayClass
	Gateways       []*gwv1.Gateway
	EnvoyProxies   []*v1alpha1.EnvoyProxy
}

// RenderStatic renders every Gateway of s whose GatewayClass has
// controllerName, in namespace/name order. A Gateway whose class is missing
// from s, or whose EnvoyProxy is, is an error, as is any render error; the
// error names the Gateway. Gateways of other controllers' classes are
// skipped.
func RenderStatic(s Static, controllerName string, opts Options) ([]*Bundle, error) {
	classes := make(map[string]*gwv1.GatewayClass, len(s.GatewayClasses))
	for _, c := range s.GatewayClasses {
		if _, dup := classes[c.Name]; dup {
			return nil, fmt.Errorf("GatewayClass %s is defined twice", c.Name)
		}
		classes[c.Name] = c
	}
	proxies := make(map[types.NamespacedName]*v1alpha1.EnvoyProxy, len(s.EnvoyProxies))
	for _, p := range s.EnvoyProxies {
		key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		if _, dup := proxies[key]; dup {
			return nil, fmt.Errorf("EnvoyProxy %s is defined twice", key)
		}
		proxies[key] = p
	}
	gateways := append([]*gwv1.Gateway(nil), s.Gateways...)
	sort.Slice(gateways, func(i, j int) bool {
		if gateways[i].Namespace != gateways[j].Namespace {
			return gateways[i].Namespace < gateways[j].Namespace
		}
		return gateways[i].Name < gateways[j].Name
	})
	var out []*Bundle
	for i, gw := range gateways {
		if i > 0 && gw.Namespace == gateways[i-1].Namespace && gw.Name == gateways[i-1].Name {
			return nil, fmt.Errorf("%s is defined twice", gatewayDesc(gw))
		}
		class, ok := classes[string(gw.Spec.GatewayClassName)]
		if !ok {
			return nil, fmt.Errorf("%s: GatewayClass %q not found", gatewayDesc(gw), gw.Spec.GatewayClassName)
		}
		if string(class.Spec.ControllerName) != controllerName {
			continue
		}
		refs, err := ResolveParametersRefs(class, gw)
		if err != nil {
			return nil, err
		}
		in := Input{GatewayClass: class, Gateway: gw}
		if refs.Class != nil {
			in.ClassParameters = proxies[*refs.Class]
		}
		if refs.Gateway != nil {
			in.GatewayParameters = proxies[*refs.Gateway]
		}
		b, err := Render(in, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
