package protofields

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
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

// visits is every populated field below m (path, field, value),
// recursively through messages: all as Range yields them (sorted),
// messages as RangeMessages yields them, in order.
func visits(m protoreflect.Message) (all, messages string) {
	var a, b strings.Builder
	var walk func(b *strings.Builder, rng func(protoreflect.Message, func(protoreflect.FieldDescriptor, protoreflect.Value) bool), m protoreflect.Message, path string)
	walk = func(b *strings.Builder, rng func(protoreflect.Message, func(protoreflect.FieldDescriptor, protoreflect.Value) bool), m protoreflect.Message, path string) {
		rng(m, func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			p := path + "." + string(fd.Name())
			switch {
			case fd.IsList() && fd.Message() != nil:
				fmt.Fprintf(b, "%s: list of %d\n", p, v.List().Len())
				for j := 0; j < v.List().Len(); j++ {
					walk(b, rng, v.List().Get(j).Message(), fmt.Sprintf("%s[%d]", p, j))
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				fmt.Fprintf(b, "%s: map of %d\n", p, v.Map().Len())
				var keys []protoreflect.MapKey
				v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
					keys = append(keys, k)
					return true
				})
				sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
				for _, k := range keys {
					walk(b, rng, v.Map().Get(k).Message(), fmt.Sprintf("%s[%v]", p, k))
				}
			case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
				fmt.Fprintf(b, "%s: %s of %d bytes, unknown %x\n", p, v.Message().Descriptor().FullName(), proto.Size(v.Message().Interface()), v.Message().GetUnknown())
				walk(b, rng, v.Message(), p)
			default:
				fmt.Fprintf(b, "%s: %v\n", p, v)
			}
			return true
		})
	}
	walk(&a, Range, m, "")
	walk(&b, RangeMessages, m, "")
	lines := strings.Split(a.String(), "\n") // Range's order is unspecified
	sort.Strings(lines)
	return strings.Join(lines, "\n"), b.String()
}

// TestStructReadsMatchReflection: reading generated structs, Range yields
// the fields with the values m.Range yields, and RangeMessages the same
// fields with the same values in the same order as through protoreflect's
// Has and Get: on odd shapes (oneof members holding nil, nil list
// elements, maps, Anys, unknown fields, a nil message, dynamic messages)
// and on random Envoy messages. A field read at the wrong place, skipped
// or yielded out of declaration order fails it.
func TestStructReadsMatchReflection(t *testing.T) {
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
		&routev3.HeaderMatcher{Name: "h", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{}}, // a scalar oneof member at its zero value
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
	lines := 0
	for i, m := range cases {
		structReads = false
		wantAll, wantMessages := visits(m.ProtoReflect())
		structReads = true
		gotAll, gotMessages := visits(m.ProtoReflect())
		if gotAll != wantAll {
			t.Fatalf("case %d %T, Range:\n got %s\nwant %s", i, m, gotAll, wantAll)
		}
		if gotMessages != wantMessages {
			t.Fatalf("case %d %T, RangeMessages:\n got %s\nwant %s", i, m, gotMessages, wantMessages)
		}
		var got, want []string
		Range(m.ProtoReflect(), func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			got = append(got, fmt.Sprint(fd.FullName(), v))
			return true
		})
		m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			want = append(want, fmt.Sprint(fd.FullName(), v))
			return true
		})
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d %T: Range yields %q, m.Range %q", i, m, got, want)
		}
		lines += strings.Count(gotAll, "\n")
	}
	if lines < 10000 {
		t.Fatalf("only %d fields compared", lines)
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
