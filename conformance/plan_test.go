package conformance

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/berth-gateway/berth/controller"
)

// TestPlan keeps the curated lists honest against the suite's source: a
// suite upgrade that renames or drops a test, or a feature berth starts
// advertising, shows up here.
func TestPlan(t *testing.T) {
	byName := map[string]suite.ConformanceTest{}
	for _, ct := range tests.ConformanceTests {
		byName[ct.ShortName] = ct
	}
	for _, n := range sets.List(StatusOnly) {
		if _, ok := byName[n]; !ok {
			t.Errorf("StatusOnly names %q, which the suite does not have", n)
		}
	}
	run := sets.New[string]()
	for _, ct := range RunTests() {
		run.Insert(ct.ShortName)
	}
	for n := range KnownFailures {
		if !run.Has(n) {
			t.Errorf("KnownFailures names %q, which the harness does not run", n)
		}
	}
	for f := range ExtraClaims {
		if slices.Contains(controller.SupportedFeatures, f) {
			t.Errorf("%s is now in controller.SupportedFeatures: drop it from extraClaims", f)
		}
	}
	// Every test the brief names as a minimum runs.
	for _, n := range []string{
		"GatewayClassObservedGenerationBump", "GatewayObservedGenerationBump", "GatewayInvalidRouteKind",
		"GatewayInvalidTLSConfiguration", "GatewayListenerUnsupportedProtocol", "GatewayModifyListeners",
		"GatewaySecretInvalidReferenceGrant", "GatewaySecretMissingReferenceGrant",
		"GatewaySecretReferenceGrantAllInNamespace", "GatewaySecretReferenceGrantSpecific",
		"GatewayWithAttachedRoutes", "HTTPRouteInvalidCrossNamespaceParentRef",
		"HTTPRouteInvalidParentRefNotMatchingSectionName", "HTTPRouteObservedGenerationBump",
	} {
		if !run.Has(n) {
			t.Errorf("%s does not run", n)
		}
	}
	// The suite's GRPCRoute tests (v1.6.3: GRPCExactMethodMatching,
	// GRPCRouteHeaderMatching, GRPCRouteListenerHostnameMatching,
	// GRPCRouteNamedRule, GRPCRouteWeight) all make gRPC calls through the
	// Gateway (grpc.MakeRequestAndExpectEventuallyConsistentResponse): none
	// is status-only, so claiming GRPCRoute runs none of them here. Their
	// request → backend behaviour is stated in xds/translate's
	// TestConformanceGRPC instead.
	for _, p := range Plan() {
		if slices.Contains(p.Test.Features, features.SupportGRPCRoute) && p.Disp == DispRun {
			t.Errorf("%s needs GRPCRoute and is Planned to run: the suite's GRPCRoute tests send gRPC calls, re-check it", p.Test.ShortName)
		}
	}
	if testing.Verbose() {
		for _, p := range Plan() {
			t.Logf("%-55s %s %s", p.Test.ShortName, p.Disp, fmt.Sprint(p.Test.Features))
		}
	}
}
