package render

import (
	"errors"
	"fmt"
	"sort"
	"strings"

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
	// ListenerSets are, per Gateway, the ListenerSets its translation
	// accepted (translate.AcceptedListenerSets): their ports join the
	// Gateway's, as in the controller.
	ListenerSets map[types.NamespacedName][]*gwv1.ListenerSet
}

// StaticError is a RenderStatic failure, with the input object at fault so
// that a caller can say where it came from.
type StaticError struct {
	// Object is the *gwv1.Gateway, *gwv1.GatewayClass or *v1alpha1.EnvoyProxy
	// at fault (a pointer from the Static).
	Object any
	Err    error
}

func (e *StaticError) Error() string { return e.Err.Error() }
func (e *StaticError) Unwrap() error { return e.Err }

// RenderStatic renders every Gateway of s whose GatewayClass has
// controllerName, in namespace/name order (StaticInputs). A Gateway whose
// class is missing from s, or whose EnvoyProxy is, is an error, as is any
// render error; the error names the Gateway. Gateways of other
// controllers' classes are skipped.
func RenderStatic(s Static, controllerName string, opts Options) ([]*Bundle, error) {
	inputs, err := StaticInputs(s, controllerName)
	if err != nil {
		return nil, err
	}
	var out []*Bundle
	for _, in := range inputs {
		gw, class := in.Gateway, in.GatewayClass
		if err := checkStaticProxy(classDesc(class), in.ClassParameters); err != nil {
			return nil, err
		}
		if err := checkStaticProxy(gatewayDesc(gw), in.GatewayParameters); err != nil {
			return nil, err
		}
		b, err := Render(in, opts)
		if err != nil {
			culprit := any(gw)
			var pe *ParametersError
			if errors.As(err, &pe) {
				switch {
				case pe.Reason == ParametersInvalid && in.GatewayParameters != nil:
					culprit = in.GatewayParameters // the merge made it invalid
				case strings.HasPrefix(pe.Referrer, "GatewayClass "):
					culprit = class
				}
			}
			return nil, &StaticError{Object: culprit, Err: err}
		}
		out = append(out, b)
	}
	return out, nil
}

// StaticInputs returns the render input of every Gateway of s whose
// GatewayClass has controllerName, in namespace/name order, as the
// controller would render it: with the EnvoyProxy objects it references
// (nil when missing from s: Render reports it) and the claims of the other
// Gateways of its namespace (Input.Others). A Gateway or GatewayClass
// defined twice, a Gateway whose class is missing and a parametersRef to
// another kind are a *StaticError.
func StaticInputs(s Static, controllerName string) ([]Input, error) {
	classes := make(map[string]*gwv1.GatewayClass, len(s.GatewayClasses))
	for _, c := range s.GatewayClasses {
		if _, dup := classes[c.Name]; dup {
			return nil, &StaticError{Object: c, Err: fmt.Errorf("GatewayClass %s is defined twice", c.Name)}
		}
		classes[c.Name] = c
	}
	proxies := make(map[types.NamespacedName]*v1alpha1.EnvoyProxy, len(s.EnvoyProxies))
	for _, p := range s.EnvoyProxies {
		key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		if _, dup := proxies[key]; dup {
			return nil, &StaticError{Object: p, Err: fmt.Errorf("EnvoyProxy %s is defined twice", key)}
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
	var inputs []Input
	for i, gw := range gateways {
		if i > 0 && gw.Namespace == gateways[i-1].Namespace && gw.Name == gateways[i-1].Name {
			return nil, &StaticError{Object: gw, Err: fmt.Errorf("%s is defined twice", gatewayDesc(gw))}
		}
		class, ok := classes[string(gw.Spec.GatewayClassName)]
		if !ok {
			return nil, &StaticError{Object: gw, Err: fmt.Errorf("%s: GatewayClass %q not found", gatewayDesc(gw), gw.Spec.GatewayClassName)}
		}
		if string(class.Spec.ControllerName) != controllerName {
			continue
		}
		refs, err := ResolveParametersRefs(class, gw)
		if err != nil {
			var pe *ParametersError
			if errors.As(err, &pe) && strings.HasPrefix(pe.Referrer, "GatewayClass ") {
				return nil, &StaticError{Object: class, Err: err}
			}
			return nil, &StaticError{Object: gw, Err: err}
		}
		in := Input{GatewayClass: class, Gateway: gw, ListenerSets: s.ListenerSets[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}]}
		if refs.Class != nil {
			in.ClassParameters = proxies[*refs.Class]
		}
		if refs.Gateway != nil {
			in.GatewayParameters = proxies[*refs.Gateway]
		}
		inputs = append(inputs, in)
	}
	// Two bundles that name one object refuse the later Gateway, offline
	// as in the controller.
	claims := map[string][]Claim{}
	for _, in := range inputs {
		if c, err := ClaimOf(in); err == nil { // else Render reports it
			claims[in.Gateway.Namespace] = append(claims[in.Gateway.Namespace], c)
		}
	}
	for i := range inputs {
		inputs[i].Others = claims[inputs[i].Gateway.Namespace]
	}
	return inputs, nil
}

// checkStaticProxy attributes an invalid EnvoyProxy to its own document
// (Render would report it against the Gateway).
func checkStaticProxy(referrer string, ep *v1alpha1.EnvoyProxy) error {
	if ep == nil {
		return nil // Render reports it as not found, against the Gateway
	}
	if _, err := CheckEnvoyProxy(referrer, ep); err != nil {
		return &StaticError{Object: ep, Err: err}
	}
	return nil
}
