package translate_test

import (
	"bytes"
	"math/rand"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"

	"github.com/berth-gateway/berth/xds/translate"
)

// TestDirectYAMLMatches: a resource written straight from the message is
// byte for byte what writing protoToValue's value gives (yaml.v2's bytes,
// TestMarshalYAMLMatchesYAMLv2), with the same error where that fails: on
// every resource of every golden input and of the scale input, and on
// random messages (invalid UTF-8, unresolvable Anys, odd floats, ...:
// where the direct path declines it must fall back to the same result).
func TestDirectYAMLMatches(t *testing.T) {
	compare := func(what string, m proto.Message) bool {
		t.Helper()
		got, gerr := translate.DirectYAML(m)
		want, werr := translate.TreeYAML(m)
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("%s %T: error %v, want %v", what, m, gerr, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s %T:\n got %s\nwant %s", what, m, got, want)
		}
		return werr == nil
	}
	n := 0
	for name, in := range goldenAndScaleInputs(t) {
		for _, r := range translate.Translate(in, translate.DefaultOptions()) {
			for _, list := range r.Resources {
				for _, res := range list {
					if !compare(name, res) {
						t.Fatalf("%s: %T: not written", name, res)
					}
					n++
				}
			}
		}
	}
	if n < 200 {
		t.Fatalf("only %d resources compared", n)
	}
	seeds := []proto.Message{&listenerv3.Listener{}, &routev3.RouteConfiguration{}, &clusterv3.Cluster{}, &endpointv3.ClusterLoadAssignment{}, &tlsv3.Secret{}, &hcmv3.HttpConnectionManager{}}
	rng := rand.New(rand.NewSource(2))
	ok, failed := 0, 0
	for i := 0; i < 600; i++ {
		m := seeds[i%len(seeds)].ProtoReflect().New()
		fillRandom(rng, m, 0, i%3 == 0)
		if compare("random", m.Interface()) {
			ok++
		} else {
			failed++
		}
	}
	t.Logf("random messages: %d written, %d refused alike", ok, failed)
	if ok < 200 || failed == 0 {
		t.Fatalf("%d written, %d refused: the random messages do not exercise both sides", ok, failed)
	}
}
