// Package shutdown drains an Envoy before Kubernetes stops it. It is the
// core of `berth shutdown-manager`, the second container of every Envoy pod.
//
// The envoy container's preStop hook calls GET ShutdownReadyPath on the
// shutdown manager. The drain starts only when the pod terminates: when the
// shutdown manager has received SIGTERM (the rendered container has no
// liveness probe, so the kubelet sends it only on pod termination) and a
// preStop request has arrived. The port is reachable from the pod network,
// so anyone there can send the request; alone it only waits (at most
// Options.DrainStartWait) and is answered 503 with nothing done. One drain: POST
// /healthcheck/fail on Envoy's admin API (the ready endpoint then fails, so
// the pod leaves the Service's endpoints and load balancers stop sending new
// connections), then poll the admin stats until no downstream connection is
// active — but never less than Options.MinDrain, so load balancers notice,
// and never more than Options.MaxDrain, so termination stays well inside the
// pod's grace period. The hook's response is written when the drain ends;
// only then does the kubelet send Envoy SIGTERM.
//
// The shutdown manager itself receives SIGTERM at the same moment the preStop
// hook starts (containers are stopped in parallel), so Serve keeps serving
// after its context ends: it finishes a drain in progress, or waits a short,
// bounded while for a preStop call that has not arrived yet; a preStop call
// that arrives first waits for the SIGTERM the same bounded while. (So the
// shutdown manager must stay a regular container, as render makes it: a
// native sidecar would get its SIGTERM only after Envoy had stopped.)
//
// An unreachable admin API (Envoy already gone) ends the drain after a few
// failed calls, each with its own timeout; nothing here waits unboundedly.
//
//	m := shutdown.New(shutdown.DefaultOptions())
//	err := m.ListenAndServe(ctx) // ctx ends on SIGTERM
package shutdown
