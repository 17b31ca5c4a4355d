package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// ParametersRefs are the EnvoyProxy objects a Gateway's data plane depends
// on; nil when not referenced.
type ParametersRefs struct {
	// Class is the GatewayClass's spec.parametersRef (any namespace).
	Class *types.NamespacedName
	// Gateway is the Gateway's spec.infrastructure.parametersRef (in the
	// Gateway's namespace). Its fields win over the Class one's.
	Gateway *types.NamespacedName
}

// ResolveParametersRefs tells which EnvoyProxy objects Render needs for gw,
// so that the caller can fetch them. A reference to any other kind is a
// *ParametersError.
func ResolveParametersRefs(class *gwv1.GatewayClass, gw *gwv1.Gateway) (ParametersRefs, error) {
	var refs ParametersRefs
	var err error
	if refs.Class, err = ClassParametersRef(class); err != nil {
		return ParametersRefs{}, err
	}
	if gw.Spec.Infrastructure != nil && gw.Spec.Infrastructure.ParametersRef != nil {
		r := gw.Spec.Infrastructure.ParametersRef
		ref := &types.NamespacedName{Namespace: gw.Namespace, Name: r.Name}
		if string(r.Group) != v1alpha1.GroupName || string(r.Kind) != v1alpha1.KindEnvoyProxy {
			return ParametersRefs{}, &ParametersError{
				Referrer: gatewayDesc(gw), Ref: refDesc(string(r.Group), string(r.Kind), ref), Reason: ParametersUnsupportedKind,
				Err: fmt.Errorf("berth reads only %s %s", v1alpha1.GroupName, v1alpha1.KindEnvoyProxy),
			}
		}
		refs.Gateway = ref
	}
	return refs, nil
}

// ClassParametersRef returns the EnvoyProxy a GatewayClass references, nil
// when it references nothing.
func ClassParametersRef(class *gwv1.GatewayClass) (*types.NamespacedName, error) {
	r := class.Spec.ParametersRef
	if r == nil {
		return nil, nil
	}
	ref := &types.NamespacedName{Name: r.Name}
	if r.Namespace != nil {
		ref.Namespace = string(*r.Namespace)
	}
	if string(r.Group) != v1alpha1.GroupName || string(r.Kind) != v1alpha1.KindEnvoyProxy {
		return nil, &ParametersError{
			Referrer: classDesc(class), Ref: refDesc(string(r.Group), string(r.Kind), ref), Reason: ParametersUnsupportedKind,
			Err: fmt.Errorf("berth reads only %s %s", v1alpha1.GroupName, v1alpha1.KindEnvoyProxy),
		}
	}
	if ref.Namespace == "" {
		return nil, &ParametersError{
			Referrer: classDesc(class), Ref: refDesc(string(r.Group), string(r.Kind), ref), Reason: ParametersMissingNamespace,
			Err: fmt.Errorf("%s is namespaced: set parametersRef.namespace", v1alpha1.KindEnvoyProxy),
		}
	}
	return ref, nil
}

// Unsupported is a field of an EnvoyProxy that is set but that berth does
// not implement. It is reported (render result, then status), never ignored
// silently.
type Unsupported struct {
	// EnvoyProxy is the object that sets the field.
	EnvoyProxy types.NamespacedName
	// Field is the JSON path, e.g. spec.telemetry.
	Field string
}

func (u Unsupported) String() string {
	return fmt.Sprintf("EnvoyProxy %s: %s is not implemented by berth", u.EnvoyProxy, u.Field)
}

// CheckEnvoyProxy validates one EnvoyProxy on its own (what the controller
// reports for a GatewayClass) and lists its unsupported fields. The error
// is a *ParametersError naming referrer.
func CheckEnvoyProxy(referrer string, ep *v1alpha1.EnvoyProxy) ([]Unsupported, error) {
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}
	if err := ep.Spec.Validate(); err != nil {
		return nil, &ParametersError{Referrer: referrer, Ref: "EnvoyProxy " + key.String(), Reason: ParametersInvalid, Err: err}
	}
	var out []Unsupported
	for _, f := range ep.Spec.Unsupported() {
		out = append(out, Unsupported{EnvoyProxy: key, Field: f})
	}
	return out, nil
}

// effectiveParameters checks the referenced EnvoyProxy objects against the
// references and merges them (Gateway's over GatewayClass's).
func effectiveParameters(in Input, refs ParametersRefs) (*v1alpha1.EnvoyProxySpec, []Unsupported, error) {
	specs, unsupported, err := checkedParameters(in, refs)
	if err != nil {
		return nil, nil, err
	}
	switch len(specs) {
	case 0:
		return &v1alpha1.EnvoyProxySpec{}, nil, nil
	case 1:
		return specs[0], unsupported, nil
	}
	merged := mergeSpecs(specs[0], specs[1])
	if err := merged.Validate(); err != nil {
		return nil, nil, &ParametersError{Referrer: gatewayDesc(in.Gateway), Ref: "EnvoyProxy " + refs.Gateway.String(), Reason: ParametersInvalid,
			Err: fmt.Errorf("merged over EnvoyProxy %s of the GatewayClass: %w", refs.Class, err)}
	}
	return merged, unsupported, nil
}

// checkedParameters checks the referenced EnvoyProxy objects against the
// references and each on its own, and returns their specs, the class's
// first.
func checkedParameters(in Input, refs ParametersRefs) ([]*v1alpha1.EnvoyProxySpec, []Unsupported, error) {
	type level struct {
		referrer string
		ref      *types.NamespacedName
		ep       *v1alpha1.EnvoyProxy
	}
	levels := []level{
		{classDesc(in.GatewayClass), refs.Class, in.ClassParameters},
		{gatewayDesc(in.Gateway), refs.Gateway, in.GatewayParameters},
	}
	var unsupported []Unsupported
	var specs []*v1alpha1.EnvoyProxySpec
	for _, l := range levels {
		switch {
		case l.ref == nil && l.ep == nil:
			continue
		case l.ref == nil:
			return nil, nil, fmt.Errorf("%s references no EnvoyProxy but EnvoyProxy %s/%s was given", l.referrer, l.ep.Namespace, l.ep.Name)
		case l.ep == nil:
			return nil, nil, &ParametersError{Referrer: l.referrer, Ref: "EnvoyProxy " + l.ref.String(), Reason: ParametersNotFound,
				Err: fmt.Errorf("EnvoyProxy %s does not exist", l.ref)}
		case l.ep.Namespace != l.ref.Namespace || l.ep.Name != l.ref.Name:
			return nil, nil, fmt.Errorf("%s references EnvoyProxy %s but EnvoyProxy %s/%s was given", l.referrer, l.ref, l.ep.Namespace, l.ep.Name)
		}
		u, err := CheckEnvoyProxy(l.referrer, l.ep)
		if err != nil {
			return nil, nil, err
		}
		unsupported = append(unsupported, u...)
		specs = append(specs, &l.ep.Spec)
	}
	return specs, unsupported, nil
}

func classDesc(c *gwv1.GatewayClass) string { return "GatewayClass " + c.Name }
func gatewayDesc(g *gwv1.Gateway) string    { return "Gateway " + g.Namespace + "/" + g.Name }

func refDesc(group, kind string, ref *types.NamespacedName) string {
	gk := kind
	if group != "" {
		gk = kind + "." + group
	}
	if ref.Namespace == "" {
		return gk + " " + ref.Name
	}
	return gk + " " + ref.String()
}

// EffectiveParameters is the EnvoyProxy spec that applies to in.Gateway:
// the Gateway's EnvoyProxy merged over its GatewayClass's, both checked as
// Render checks them (the same errors). Translation reads its telemetry
// from here, so that the listeners and the bundle agree.
func EffectiveParameters(in Input) (*v1alpha1.EnvoyProxySpec, error) {
	if in.GatewayClass == nil || in.Gateway == nil {
		return nil, fmt.Errorf("render: GatewayClass and Gateway are required")
	}
	refs, err := ResolveParametersRefs(in.GatewayClass, in.Gateway)
	if err != nil {
		return nil, err
	}
	spec, _, err := effectiveParameters(in, refs)
	return spec, err
}
