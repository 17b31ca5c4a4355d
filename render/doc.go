// Package render turns one Gateway (with its GatewayClass and the EnvoyProxy
// objects they reference) into the ordered bundle of Kubernetes objects that
// make up its Envoy data plane in the Gateway's namespace, plus the identity
// of the inventory that tracks the bundle:
//
//	refs, err := render.ResolveParametersRefs(class, gw)   // which EnvoyProxy objects to fetch
//	bundle, err := render.Render(render.Input{GatewayClass: class, Gateway: gw,
//		ClassParameters: classProxy, GatewayParameters: gwProxy}, render.DefaultOptions())
//
// It is pure: no client, no context, no clock, no randomness. The same input
// always gives byte-identical output. Every derived name and label lives in
// names.go.
package render
