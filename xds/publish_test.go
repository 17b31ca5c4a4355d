package xds_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// Publish applies translate.Validate, the validation `berth translate`
// applies: a snapshot the offline command would refuse (here a route regex
// RE2 rejects, which is consistent as far as references go) is refused with
// an error naming the resource, the previous snapshot stays served, and
// nothing of it reaches a connected proxy.
func TestPublishServesOnlyWhatValidates(t *testing.T) {
	h := newHarness(t, nil)
	good := h.publish(t, gwA, idA, fixA.Resources())
	if want := translate.Version(fixA.Resources()); good != want {
		t.Fatalf("Publish version %s, translate.Version %s: want one version", good, want)
	}
	c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, idA, time.Hour), Node: node(gwA)})
	if err := c.Wait(ctxT(t), complete); err != nil {
		t.Fatal(err)
	}
	before := c.State()

	bad := fixA.Resources()
	rc := proto.Clone(bad[resourcev3.RouteType][0]).(*routev3.RouteConfiguration)
	rc.VirtualHosts[0].Routes[0].Match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/(unclosed"}}}
	bad[resourcev3.RouteType][0] = rc
	if translate.Validate(bad) == nil {
		t.Fatal("the invalid snapshot passes translate.Validate")
	}
	_, err := h.srv.Publish(gwA, idA, bad)
	if !errors.Is(err, translate.ErrInvalidResources) {
		t.Fatalf("Publish = %v, want an error wrapping translate.ErrInvalidResources", err)
	}
	for _, want := range []string{`"route/8080"`, "invalid regular expression", gwA.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Publish error %q does not name %s", err, want)
		}
	}
	if v, _ := h.srv.Published(gwA); v != good {
		t.Fatalf("Published = %s after the refused snapshot, want %s", v, good)
	}

	// A valid change after the refused one: the proxy's next response is
	// that change, so the refused snapshot never reached it.
	changed := fixA
	changed.EndpointIP = "10.0.0.9"
	h.publish(t, gwA, idA, changed.Resources())
	if err := c.Wait(ctxT(t), func(s xdstest.State) bool { return xdstest.EndpointIPs(s)["10.0.0.9"] }); err != nil {
		t.Fatal(err)
	}
	after := c.State()
	if after.Responses != before.Responses+1 {
		t.Fatalf("%d responses after one refused and one valid publish, want 1", after.Responses-before.Responses)
	}
	if after.Versions[resourcev3.RouteType] != before.Versions[resourcev3.RouteType] {
		t.Fatalf("route version changed %s → %s: the refused route table was served", before.Versions[resourcev3.RouteType], after.Versions[resourcev3.RouteType])
	}
}
