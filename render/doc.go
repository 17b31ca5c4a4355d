// Package render turns one Gateway (with its GatewayClass and the EnvoyProxy
// objects they reference) into the ordered bundle of Kubernetes objects that
// make up its Envoy data plane in the Gateway's namespace, plus the identity
// of the inventory that tracks the bundle:
//
//	refs, err := render.ResolveParametersRefs(class, gw) // which EnvoyProxy objects to fetch
//	bundle, err := render.Render(render.Input{GatewayClass: class, Gateway: gw,
//		ClassParameters: classProxy, GatewayParameters: gwProxy}, opts)
//	objs, err := bundle.Unstructured() // for server-side apply
//
// It is pure: no client, no context, no clock, no randomness. The same input
// always gives byte-identical output. Every derived name and label lives in
// names.go.
//
// Choices worth knowing:
//
//   - Envoy gets the xDS token and the xDS CA each through a file-based SDS
//     resource, not as plain files in the bootstrap: Envoy re-reads SDS files
//     and the files they name when Kubernetes swaps a projected volume, so a
//     rotated token and a rotated CA are used without restarting Envoy (a
//     bootstrap's trusted_ca would be read once). The token reaches the xDS
//     server as "authorization: Bearer <token>" through the
//     credential_injector upstream HTTP filter of the xDS cluster.
//   - The bootstrap and the SDS files are typed go-control-plane messages
//     (Bootstrap, SDSToken, SDSCA), encoded once as YAML and refused unless
//     they decode strictly and pass Envoy's validation into every Any, like
//     the xDS resources (internal/envoyvalidate). Encoded bootstraps are
//     cached by their parameters: a re-render of a Gateway does not pay for
//     encoding and validation again (see docs/benchmarks.md).
//   - The bootstrap has an overload manager (docs/dataplane.md): a global
//     limit of client connections, and a heap limit derived from the envoy
//     container's memory limit, so Envoy sheds load before it is killed.
//   - Only listeners berth serves (dataplane.Serves: HTTP, HTTPS, TLS, TCP,
//     UDP) get a Service and container port (UDP listeners with protocol
//     UDP); a Gateway with none is refused.
//   - The pod template carries a digest of the bootstrap, so a bootstrap
//     change (new xDS address, say) rolls the pods; a CA change does not need
//     to.
//   - Objects carry an owner reference to the Gateway when its UID is known:
//     the inventory and finalizer do the clean-up, Kubernetes garbage
//     collection is the backstop if the finalizer is ever forced off.
//   - Listener ports that would collide with Envoy's own (admin, readiness,
//     shutdown manager) are refused with a GatewayError instead of producing a
//     pod that cannot start.
//   - Render refuses what the apiserver or Envoy would refuse (the Gateway
//     API CRD's listener and infrastructure rules, label syntax and the
//     256 KiB annotation limit on every bundle object, two listener ports
//     on one container port) with the object, field and reason, so that
//     the offline commands and the controller say the same. Given the
//     claims of the other Gateways of the namespace (Input.Others,
//     ClaimOf), it refuses a Gateway whose bundle names an object of a
//     Gateway created before it (*CollisionError); the earlier one keeps
//     it (Bundle.Kept).
//   - Bundle.Objects are typed; Unstructured converts them (that conversion
//     costs more than rendering, see docs/benchmarks.md).
package render
