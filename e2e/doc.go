// Package e2e holds berth's end-to-end tests: the user's scenario on a real
// local cluster with the controller running in-process under the chart's
// RBAC, a probe proxy that talks to the controller's xDS server exactly as
// the rendered Envoy would, and fault and load runs that restart the
// controller while Gateways come and go.
//
//	go test -race -count=1 ./e2e/                       # seed scenario + short fault run
//	BERTH_SOAK=1 go test -race -count=1 -run Soak -timeout 30m ./e2e/   # 50 Gateways
//
// The seed manifests are read from examples/, the repository's one copy of
// the user's reference files.
package e2e
