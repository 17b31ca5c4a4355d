package conformance

import (
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/berth-gateway/berth/controller"
)

// ExtraClaims are features the suite is told berth supports beyond what
// berth's GatewayClass status advertises (controller.SupportedFeatures),
// each with the code that implements it. They are claimed because their
// status-only tests can then run and prove it; the lead is asked to move
// them into controller.SupportedFeatures, after which TestPlan fails until
// they are dropped here.
var ExtraClaims = map[features.FeatureName]string{}

// ClaimedFeatures is the set given to the suite.
func ClaimedFeatures() []features.FeatureName {
	s := sets.New(controller.SupportedFeatures...)
	for f := range ExtraClaims {
		s.Insert(f)
	}
	out := s.UnsortedList()
	slices.Sort(out)
	return out
}

// StatusOnly are the suite's tests that check only Kubernetes objects and
// their status: no request goes through a data plane. Curated by reading
// conformance/tests of sigs.k8s.io/gateway-api/conformance v1.6.3: a test
// is here when it never calls the HTTP/TLS/gRPC/WebSocket/TCP/UDP helpers
// (MakeRequest…, RoundTripper, AwaitConvergence, ExpectMirroredRequest, the
// tcp/udp/tls/grpc/websocket packages). Those that need a feature berth does
// not claim are listed too: they are reported as "not claimed", never run.
var StatusOnly = sets.New(
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
	// BackendTLSPolicy, GatewayBackendClientCertificate and
	// GatewayFrontendClientCertificateValidation
	"BackendTLSPolicyObservedGenerationBump",
	"GatewayInvalidTLSBackendConfiguration",
	"GatewayInvalidFrontendClientCertificateValidation",
	// GatewayAddressEmpty
	"GatewayOptionalAddressValue",

	// Status-only, but for features berth does not claim.
	"GatewayStaticAddresses",                           // GatewayStaticAddresses
	"HTTPRouteInvalidParentRefNotMatchingListenerPort", // HTTPRouteDestinationPortMatching
	"HTTPRouteDisallowedKind",                          // TLSRoute
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
	// TLSRoute ("TLSRouteInvalidBackendRefNonexistent" and
	// "TLSRouteInvalidBackendRefUnknownKind" also dial the Gateway and
	// expect Envoy to reset the TLS connection: they need traffic, not
	// listed here)
	"TLSRouteInvalidNoMatchingListenerHostname",
	"TLSRouteInvalidNoMatchingListener",
	"TLSRouteInvalidReferenceGrant",
	// (returns at once when TLSRouteModeMixed is claimed, as berth does)
	"TLSRouteListenerMixedTerminationNotSupported",
	"TLSRouteListenerPassthroughSupportedKinds",
	"TLSRouteListenerTerminateNotSupported",
	"TLSRouteListenerTerminateSupportedKinds",
	// UDPRoute ("UDPRoute" sends a DNS query and
	// "UDPRouteMultipleRoutesAttachment" UDP datagrams through the
	// Gateway: they need traffic, not listed here)
	"UDPRouteInvalidBackendRefNonexistent",
	"UDPRouteInvalidCrossNamespaceBackendRef",
	"UDPRouteNotAllowedByListeners",
)

// KnownFailures are status-only tests berth fails today, each with the
// diagnosis (what is wrong, where the fix belongs). TestConformance fails
// when one of these passes (drop it from here) or when a test not listed
// here fails. Keep it short: every entry is a bug to fix.
var KnownFailures = map[string]string{}

// Disposition says what the harness does with one suite test.
type Disposition int

const (
	DispRun         Disposition = iota // status-only, every feature claimed
	DispTraffic                        // needs requests through the data plane
	DispUnsupported                    // needs a feature berth does not claim
)

func (d Disposition) String() string {
	return [...]string{"run", "skipped: needs traffic", "skipped: feature not claimed"}[d]
}

// TrafficReason is why no traffic test runs here.
const TrafficReason = "sends requests through the Gateway's data plane; there is no Envoy binary (and no container runtime) on these machines, so nothing serves them"

// Planned is what the harness does with one suite test, and why.
type Planned struct {
	Test   suite.ConformanceTest
	Disp   Disposition
	Reason string
}

// Plan classifies every test of the suite, sorted by name.
func Plan() []Planned {
	claimed := sets.New(ClaimedFeatures()...)
	var out []Planned
	for _, ct := range tests.ConformanceTests {
		p := Planned{Test: ct}
		var missing []string
		for _, f := range ct.Features {
			if !claimed.Has(f) {
				missing = append(missing, string(f))
			}
		}
		switch {
		case len(missing) > 0:
			p.Disp = DispUnsupported
			p.Reason = "needs " + strings.Join(missing, ", ")
		case StatusOnly.Has(ct.ShortName):
			p.Disp = DispRun
		default:
			p.Disp = DispTraffic
			p.Reason = TrafficReason
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Test.ShortName < out[j].Test.ShortName })
	return out
}

// RunTests are the suite tests the harness runs, in the suite's order.
func RunTests() []suite.ConformanceTest {
	run := sets.New[string]()
	for _, p := range Plan() {
		if p.Disp == DispRun {
			run.Insert(p.Test.ShortName)
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
