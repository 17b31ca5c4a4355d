package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/translate"
)

// The controller publishes only what validates: a translation whose
// snapshot translate.Validate refuses leaves the previous snapshot served
// and becomes Programmed=False (Invalid) naming the resource and the error.
// Pure: a real xds.Server without a listener or cluster.
func TestInvalidSnapshotKeepsThePreviousOneAndIsInvalid(t *testing.T) {
	// The test publishes and reads back; it serves no stream, so it needs
	// neither a certificate nor token reviews.
	noReviews := auth.ReviewerFunc(func(context.Context, string, []string) (*authv1.TokenReviewStatus, error) {
		return nil, errors.New("no streams in this test")
	})
	srv, err := xds.New(noReviews, noCertificate{}, xds.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}

	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gw", Generation: 3}, Spec: gwv1.GatewaySpec{
		GatewayClassName: "eg",
		Listeners:        []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}},
	}}
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw"}}},
		Rules:           []gwv1.HTTPRouteRule{{}},
	}}
	in := translate.Input{
		GatewayClasses: []*gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "eg"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultOptions().ControllerName}}},
		Gateways:       []*gwv1.Gateway{gw},
		HTTPRoutes:     []*gwv1.HTTPRoute{route},
	}
	res := translate.Translate(in, translate.DefaultOptions())[0]
	good := publishTranslation(srv, gw, res, nil, nil, nil, nil)
	if good.Err != nil || good.Version != res.Version {
		t.Fatalf("valid translation: version %q, err %v; want %s", good.Version, good.Err, res.Version)
	}

	// The same Gateway, its route table now carrying a regex Envoy rejects.
	bad := *res
	bad.Resources = map[string][]cachetypes.Resource{}
	for typ, list := range res.Resources {
		bad.Resources[typ] = append([]cachetypes.Resource(nil), list...)
	}
	rc := proto.Clone(bad.Resources[resourcev3.RouteType][0]).(*routev3.RouteConfiguration)
	rc.VirtualHosts[0].Routes[0].Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/(unclosed"}}}
	bad.Resources[resourcev3.RouteType][0] = rc
	got := publishTranslation(srv, gw, &bad, nil, nil, nil, nil)
	if !errors.Is(got.Err, translate.ErrInvalidResources) {
		t.Fatalf("invalid translation: err %v, want translate.ErrInvalidResources", got.Err)
	}
	if v, _ := srv.Published(k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}); v != good.Version {
		t.Fatalf("served version %s after the invalid snapshot, want the previous %s", v, good.Version)
	}

	f := ready()
	got.Inputs, got.XDSInputs = f.Translation.Inputs, f.Translation.XDSInputs // translated for the current inputs
	f.Translation = &got.translated
	f.PublishedVersion = good.Version
	c := programmedCondition(f, true)
	if c.Status != metav1.ConditionFalse || c.Reason != string(gwv1.GatewayReasonInvalid) {
		t.Fatalf("Programmed = %s/%s, want False/Invalid", c.Status, c.Reason)
	}
	for _, want := range []string{`RouteConfiguration "route/80"`, "invalid regular expression"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Programmed message %q does not name %s", c.Message, want)
		}
	}
}

// noCertificate serves no TLS handshake (the test opens no stream).
type noCertificate struct{}

func (noCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return nil, errors.New("no streams in this test")
}
