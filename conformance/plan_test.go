package conformance

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/berth-gateway/berth/controller"
)

// extraClaims are features the suite is told berth supports beyond what
// berth's GatewayClass status advertises (controller.SupportedFeatures),
// each with the code that implements it. They are claimed because their
// status-only tests can then run and prove it; the lead is asked to move
// them into controller.SupportedFeatures, after which TestPlan fails until
// they are dropped here.
var extraClaims = map[features.FeatureName]string{}

// claimedFeatures is the set given to the suite.
func claimedFeatures() []features.FeatureName {
	s := sets.New(controller.SupportedFeatures...)
	for f := range extraClaims {
		s.Insert(f)
	}
	out := s.UnsortedList()
	slices.Sort(out)
	return out
}

// statusOnly are the suite's tests that check only Kubernetes objects and
// their status: no request goes through a data plane. Curated by reading
// conformance/tests of sigs.k8s.io/gateway-api/conformance v1.6.3: a test
// is here when it never calls the HTTP/TLS/gRPC/WebSocket/TCP/UDP helpers
// (MakeRequest…, RoundTripper, AwaitConvergence, ExpectMirroredRequest, the
// tcp/udp/tls/grpc/websocket packages). Those that need a feature berth does
// not claim are listed too: they are reported as "not claimed", never run.
var statusOnly = sets.New(
	// Gateway (core)
	"GatewayClassObservedGenerationBump",
	"GatewayObservedGenerationBump",
	"GatewayInvalidRouteKind",
	"GatewayInvalidTLSConfiguration",
	"GatewayListenerUnsupportedProtocol",
	"GatewayModifyListeners",
	// ReferenceGrant
	"GatewaySecretInvalidReferenceGrant",
	"GatewaySecretMissingReferenceGrant",
	"GatewaySecretReferenceGrantAllInNamespace",
	"GatewaySecretReferenceGrantSpecific",
	// HTTPRoute (core) and GatewayPort8080
	"GatewayWithAttachedRoutes",
	"GatewayWithAttachedRoutesWithPort8080",
	"HTTPRouteInvalidCrossNamespaceParentRef",
	"HTTPRouteInvalidParentRefNotMatchingSectionName",
	"HTTPRouteObservedGenerationBump",
	// HTTPRouteParentRefPort
	"HTTPRouteInvalidParentRefSectionNameNotMatchingPort",
	// GatewayInfrastructure
	"GatewayInfrastructureMetadata",
	"GatewayInvalidParametersRef",

	// Status-only, but for features berth does not claim.
	"GatewayOptionalAddressValue",                       // GatewayAddressEmpty
	"GatewayStaticAddresses",                            // GatewayStaticAddresses
	"HTTPRouteInvalidParentRefNotMatchingListenerPort",  // HTTPRouteDestinationPortMatching
	"HTTPRouteDisallowedKind",                           // TLSRoute
	"GatewayInvalidFrontendClientCertificateValidation", // GatewayFrontendClientCertificateValidation
	"GatewayInvalidTLSBackendConfiguration",             // BackendTLSPolicy
	"BackendTLSPolicyObservedGenerationBump",            // BackendTLSPolicy
	// ListenerSet
	"ListenerSetAllowedNamespaceNone",
	"ListenerSetAllowedNamespaceSame",
	"ListenerSetAllowedNamespaceSelector",
	"ListenerSetAllowedRoutesSupportedKinds",
	"ListenerSetDefaultNotAllowed",
	"ListenerSetHostnameConflict",
	"ListenerSetProtocolConflict",
	"ListenerSetReferenceGrant",
	"ListenerSetRouteStatusScopedToParentRef",
	// TCPRoute
	"TCPRouteInvalidBackendRefNonexistent",
	"TCPRouteInvalidCrossNamespaceBackendRef",
	"TCPRouteInvalidNonTCPListener",
	// TLSRoute
	"TLSRouteInvalidBackendRefNonexistent",
	"TLSRouteInvalidBackendRefUnknownKind",
	"TLSRouteInvalidNoMatchingListenerHostname",
	"TLSRouteInvalidNoMatchingListener",
	"TLSRouteInvalidReferenceGrant",
	"TLSRouteListenerMixedTerminationNotSupported",
	"TLSRouteListenerPassthroughSupportedKinds",
	"TLSRouteListenerTerminateNotSupported",
	"TLSRouteListenerTerminateSupportedKinds",
	// UDPRoute
	"UDPRoute",
	"UDPRouteInvalidBackendRefNonexistent",
	"UDPRouteInvalidCrossNamespaceBackendRef",
	"UDPRouteMultipleRoutesAttachment",
	"UDPRouteNotAllowedByListeners",
)

// knownFailures are status-only tests berth fails today, each with the
// diagnosis (what is wrong, where the fix belongs). TestConformance fails
// when one of these passes (drop it from here) or when a test not listed
// here fails. Keep it short: every entry is a bug to fix.
var knownFailures = map[string]string{}

// disposition says what the harness does with one suite test.
type disposition int

const (
	dispRun         disposition = iota // status-only, every feature claimed
	dispTraffic                        // needs requests through the data plane
	dispUnsupported                    // needs a feature berth does not claim
)

func (d disposition) String() string {
	return [...]string{"run", "skipped: needs traffic", "skipped: feature not claimed"}[d]
}

// trafficReason is why no traffic test runs here.
const trafficReason = "sends requests through the Gateway's data plane; there is no Envoy binary (and no container runtime) on these machines, so nothing serves them"

type planned struct {
	test   suite.ConformanceTest
	disp   disposition
	reason string
}

// plan classifies every test of the suite, sorted by name.
func plan() []planned {
	claimed := sets.New(claimedFeatures()...)
	var out []planned
	for _, ct := range tests.ConformanceTests {
		p := planned{test: ct}
		var missing []string
		for _, f := range ct.Features {
			if !claimed.Has(f) {
				missing = append(missing, string(f))
			}
		}
		switch {
		case len(missing) > 0:
			p.disp = dispUnsupported
			p.reason = "needs " + strings.Join(missing, ", ")
		case statusOnly.Has(ct.ShortName):
			p.disp = dispRun
		default:
			p.disp = dispTraffic
			p.reason = trafficReason
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].test.ShortName < out[j].test.ShortName })
	return out
}

// runTests are the suite tests the harness runs, in the suite's order.
func runTests() []suite.ConformanceTest {
	run := sets.New[string]()
	for _, p := range plan() {
		if p.disp == dispRun {
			run.Insert(p.test.ShortName)
		}
	}
	var out []suite.ConformanceTest
	for _, ct := range tests.ConformanceTests {
		if run.Has(ct.ShortName) {
			out = append(out, ct)
		}
	}
	return out
}

// TestPlan keeps the curated lists honest against the suite's source: a
// suite upgrade that renames or drops a test, or a feature berth starts
// advertising, shows up here.
func TestPlan(t *testing.T) {
	byName := map[string]suite.ConformanceTest{}
	for _, ct := range tests.ConformanceTests {
		byName[ct.ShortName] = ct
	}
	for _, n := range sets.List(statusOnly) {
		if _, ok := byName[n]; !ok {
			t.Errorf("statusOnly names %q, which the suite does not have", n)
		}
	}
	run := sets.New[string]()
	for _, ct := range runTests() {
		run.Insert(ct.ShortName)
	}
	for n := range knownFailures {
		if !run.Has(n) {
			t.Errorf("knownFailures names %q, which the harness does not run", n)
		}
	}
	for f := range extraClaims {
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
	for _, p := range plan() {
		if slices.Contains(p.test.Features, features.SupportGRPCRoute) && p.disp == dispRun {
			t.Errorf("%s needs GRPCRoute and is planned to run: the suite's GRPCRoute tests send gRPC calls, re-check it", p.test.ShortName)
		}
	}
	if testing.Verbose() {
		for _, p := range plan() {
			t.Logf("%-55s %s %s", p.test.ShortName, p.disp, fmt.Sprint(p.test.Features))
		}
	}
}
