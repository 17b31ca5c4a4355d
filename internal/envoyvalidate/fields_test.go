package envoyvalidate

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// visits is what ValidateFunc sees of m: every message it visits (type,
// size) with its path, and the walk's own errors, in order.
func visits(m proto.Message) string {
	return fmt.Sprint(ValidateFunc(m, func(v protoreflect.Message) error {
		return fmt.Errorf("visit %s of %d bytes", v.Descriptor().FullName(), proto.Size(v.Interface()))
	}))
}

// TestStructFieldsMatchReflection: the walk through generated structs
// visits the same messages at the same paths in the same order, with the
// same errors, as the walk through protoreflect's Has and Get: on odd
// shapes (oneof members holding nil, nil list
// elements, maps, Anys, unknown fields, dynamic messages) and on random
// Envoy messages. A field reached at the wrong place, skipped or visited
// out of declaration order fails it.
func TestStructFieldsMatchReflection(t *testing.T) {
	withUnknown := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}
	withUnknown.ProtoReflect().SetUnknown(protoreflect.RawFields{0x98, 0x06, 0x01})
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{StatPrefix: ""})
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamicpb.NewMessage((&routev3.Route{}).ProtoReflect().Descriptor())
	proto.Merge(dyn, &routev3.Route{Match: withUnknown, Action: &routev3.Route_Route{Route: &routev3.RouteAction{}}})
	cases := []proto.Message{
		&routev3.Route{Action: &routev3.Route_Route{}}, // a oneof member holding nil
		&routev3.Route{Action: &routev3.Route_Redirect{Redirect: &routev3.RedirectAction{}}, Match: withUnknown},
		&routev3.RouteConfiguration{VirtualHosts: []*routev3.VirtualHost{nil, {Name: "v", Routes: []*routev3.Route{{Match: withUnknown}}}}},
		&corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"b": {}, "a": nil}, TypedFilterMetadata: map[string]*anypb.Any{"x": hcm}},
		&listenerv3.Listener{FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{Name: "h", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm}}}}}},
		(*routev3.Route)(nil),
		dyn,
	}
	seeds := []proto.Message{&bootstrapv3.Bootstrap{}, &listenerv3.Listener{}, &routev3.RouteConfiguration{}, &clusterv3.Cluster{}, &endpointv3.ClusterLoadAssignment{}, &tlsv3.Secret{}, &hcmv3.HttpConnectionManager{}}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		m := seeds[i%len(seeds)].ProtoReflect().New()
		fillMessages(rng, m, 0)
		cases = append(cases, m.Interface())
	}
	visited := 0 // errors seen: every visit is one
	for i, m := range cases {
		structWalk = false
		want := visits(m)
		structWalk = true
		got := visits(m)
		if got != want {
			t.Fatalf("case %d %T:\n got %s\nwant %s", i, m, got, want)
		}
		visited += strings.Count(got, "visit ")
	}
	if visited < 10000 {
		t.Fatalf("only %d messages visited", visited)
	}
}

// fillMessages sets each message-holding field of m with probability 1/2
// (lists and maps of up to 3 entries) down to depth 4, and gives one
// message in 20 unknown fields.
func fillMessages(rng *rand.Rand, m protoreflect.Message, depth int) {
	if rng.Intn(20) == 0 {
		m.SetUnknown(protoreflect.RawFields{0xf8, 0x7f, 0x01})
	}
	if depth >= 4 || m.Descriptor().FullName() == "google.protobuf.Any" {
		return
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if rng.Intn(2) == 0 || fd.ContainingOneof() != nil && m.WhichOneof(fd.ContainingOneof()) != nil {
			continue
		}
		switch {
		case fd.IsMap() && fd.MapValue().Message() != nil && fd.MapKey().Kind() == protoreflect.StringKind:
			mp := m.Mutable(fd).Map()
			for j := rng.Intn(3); j >= 0; j-- {
				v := mp.NewValue()
				fillMessages(rng, v.Message(), depth+1)
				mp.Set(protoreflect.ValueOfString(fmt.Sprint("k", j)).MapKey(), v)
			}
		case fd.IsList() && fd.Message() != nil:
			l := m.Mutable(fd).List()
			for j := rng.Intn(3); j >= 0; j-- {
				e := l.NewElement()
				fillMessages(rng, e.Message(), depth+1)
				l.Append(e)
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			fillMessages(rng, m.Mutable(fd).Message(), depth+1)
		}
	}
}
