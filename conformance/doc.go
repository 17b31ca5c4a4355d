// Package conformance runs the official Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, the same version as the API module)
// against berth on the local test cluster. This package holds the plan
// (plan.go: which tests run, which are skipped and why, which are known to
// fail), checked against the suite's source by TestPlan with no cluster; the
// harness that runs the suite is conformance/clustertest.
//
// Only the tests that check status and objects run: there is no Envoy
// binary on these machines, so no request can go through a data plane.
//
//	go test ./conformance/clustertest/ -run TestConformance -v
//	BERTH_CONFORMANCE_REPORT=docs/conformance.md go test ./conformance/clustertest/ -run 'TestConformance$' -v
package conformance
