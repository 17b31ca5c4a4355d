// Package conformance runs the official Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, the same version as the API module)
// against berth on the local test cluster. It has no code outside its
// tests: see conformance_test.go for the harness and plan_test.go for which
// tests run, which are skipped and why, and which are known to fail.
//
// Only the tests that check status and objects run here: there is no Envoy
// binary on these machines, so no request can go through a data plane.
//
//	go test ./conformance/ -run TestConformance -v
//	BERTH_CONFORMANCE_REPORT=docs/conformance.md go test ./conformance/ -run 'TestConformance$' -v
package conformance
