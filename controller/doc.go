// Package controller is berth's reconciler: it glues render (pure desired
// state), apply (server-side apply under an inventory, kstatus) and the xDS
// server together and reports status. It keeps the I/O here and the rules
// pure: status.go computes every condition from gathered facts and is
// table-tested.
//
//	opts := controller.DefaultOptions()
//	opts.ControllerName = dataplane.DefaultControllerName // or your own
//	opts.Namespace = "berth-system" // xDS certificate Secret, leader Lease
//	c, err := controller.New(restConfig, opts)
//	if err != nil { ... }
//	err = c.Run(ctx) // blocks until ctx ends
//
// Four controller-runtime controllers share one cache:
//
//   - gateway-xds (every replica, no leader election): translates a Gateway
//     (xds/translate) and publishes its snapshot, then tells the others what
//     changed through an in-memory store (listener and route facts, the
//     published version, and which objects each translation looked up, so a
//     Service, EndpointSlice, Secret, ReferenceGrant or Namespace change
//     re-translates only the Gateways that used it).
//   - gateway (leader): finalizer, render, apply.Run, events, Gateway status.
//     A render error (invalid EnvoyProxy) leaves the applied bundle untouched.
//     A reconcile whose render inputs (Gateway, class and EnvoyProxy
//     generations, the CA bundle) are those of the last clean apply, with no
//     roll under way (a roll still queued by the budget counts as none: its
//     bundle was applied with the live pod template) and the bundle
//     apply.Engine.Settled (as last applied, no drift), renders and applies
//     nothing: the status-only path of wake-ups.
//     Programmed is True only when the bundle applied cleanly, every inventory
//     object is kstatus Current, the Service has an address and the xDS
//     snapshot is published (DESIGN §6); it is woken by apply's Subscribe
//     (kstatus changes) and by load-balancer status changes, never by a timer.
//     A Subscribe call for a change that a reconcile of the Gateway read
//     (a settled bundle, at a change mark not older than the call's) wakes
//     nothing more (wakes.go): a new Gateway's own objects appearing during
//     its first apply cost no reconcile each.
//   - gatewayclass (leader): Accepted (InvalidParameters for a missing or
//     invalid EnvoyProxy, unsupported fields listed) and supported features.
//   - httproute, grpcroute (leader): berth's entries of status.parents, for parentRefs to
//     berth's Gateways only; other controllers' entries are kept.
//
// Garbage collection (DESIGN §7): the finalizer goes on before the first
// apply; a Gateway deleted, moved to another class, or whose class stopped
// being berth's is destroyed (apply.Destroy) before the finalizer comes off;
// a Gateway gone without the finalizer is destroyed when the delete is seen,
// and inventories without a Gateway are swept at start and every
// SweepInterval. Uninstall (`berth controller --uninstall`) destroys every
// bundle and removes every finalizer, so nothing is left stuck.
package controller
