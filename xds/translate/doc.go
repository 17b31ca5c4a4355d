// Package translate turns Gateway API objects into the Envoy configuration
// each Gateway's proxy receives over xDS, plus the status facts the
// reconciler publishes for listeners and routes.
//
// It is pure: it reads plain Go values (Gateway API and core Kubernetes
// types) and returns go-control-plane resources. It never talks to a
// cluster, reads a clock, or draws random numbers, so the same input always
// yields byte-identical output and the same version string.
//
// Usage:
//
//	ix := translate.NewIndex(in, translate.DefaultOptions())
//	for _, key := range ix.Gateways() {
//		res := ix.TranslateGateway(key)
//		snap, err := cachev3.NewSnapshot(res.Version, res.Resources)
//		...
//	}
//
// Every Gateway gets its own set of resources; nothing from one Gateway
// (above all its TLS secrets) appears in another Gateway's result.
package translate
