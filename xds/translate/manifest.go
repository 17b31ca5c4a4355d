package translate

import (
	"github.com/berth-gateway/berth/internal/manifest"
)

// InputFromSet takes the objects translation reads from a decoded
// manifest. Namespaced objects without a namespace are placed in
// "default", as kubectl would; the Set is not modified.
func InputFromSet(s *manifest.Set) Input {
	in := Input{
		GatewayClasses:  s.GatewayClasses,
		Gateways:        defaultNamespace(s.Gateways),
		HTTPRoutes:      defaultNamespace(s.HTTPRoutes),
		GRPCRoutes:      defaultNamespace(s.GRPCRoutes),
		TCPRoutes:       defaultNamespace(s.TCPRoutes),
		TLSRoutes:       defaultNamespace(s.TLSRoutes),
		UDPRoutes:       defaultNamespace(s.UDPRoutes),
		ListenerSets:    defaultNamespace(s.ListenerSets),
		ReferenceGrants: defaultNamespace(s.ReferenceGrants),
		Services:        defaultNamespace(s.Services),
		EndpointSlices:  defaultNamespace(s.EndpointSlices),
		Secrets:         defaultNamespace(s.Secrets),
		Namespaces:      s.Namespaces,

		BackendTLSPolicies: defaultNamespace(s.BackendTLSPolicies),
		ConfigMaps:         defaultNamespace(s.ConfigMaps),
		EnvoyProxies:       defaultNamespace(s.EnvoyProxies),

		ClientTrafficPolicies: defaultNamespace(s.ClientTrafficPolicies),
	}
	return in
}

// namespaced is a pointer to an API object that can copy itself.
type namespaced[T any] interface {
	*T
	GetNamespace() string
	SetNamespace(string)
	DeepCopy() *T
}

func defaultNamespace[T any, P namespaced[T]](objs []P) []P {
	out := make([]P, 0, len(objs))
	for _, o := range objs {
		if o != nil && o.GetNamespace() == "" {
			c := P(o.DeepCopy())
			c.SetNamespace("default")
			o = c
		}
		out = append(out, o)
	}
	return out
}
