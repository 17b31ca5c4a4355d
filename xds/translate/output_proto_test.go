package translate_test

import (
	"math"
	"math/rand"
	"reflect"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/berth-gateway/berth/xds/translate"
)

var protoValueFormats = []translate.Format{translate.FormatYAML, translate.FormatJSON}

// TestProtoValueMatchesProtojson: for every resource of every golden input
// and of the scale input, the direct proto value is the value of
// protojson's text, in both formats, and the direct path takes them all.
func TestProtoValueMatchesProtojson(t *testing.T) {
	inputs := goldenAndScaleInputs(t)
	n := 0
	for name, in := range inputs {
		for _, r := range translate.Translate(in, translate.DefaultOptions()) {
			for typ, list := range r.Resources {
				for _, res := range list {
					for _, f := range protoValueFormats {
						got, ok, err := translate.ProtoValue(res, f)
						if !ok || err != nil {
							t.Fatalf("%s: %s %v: direct path declined (%v)", name, typ, res, err)
						}
						want, err := translate.ProtojsonValue(res, f)
						if err != nil {
							t.Fatalf("%s: %s: protojson: %v", name, typ, err)
						}
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s: %s %s:\n got %#v\nwant %#v", name, typ, f, got, want)
						}
						n++
					}
				}
			}
		}
	}
	if n < 400 {
		t.Fatalf("only %d resources compared", n)
	}
}

// TestProtoValueRandom: on go-control-plane messages with every field
// populated at random (odd floats, invalid UTF-8, unknown enum numbers,
// Any of several types or unresolvable, Durations out of range, wrappers,
// Struct), the direct path either gives protojson's value or declines;
// where protojson fails it declines.
func TestProtoValueRandom(t *testing.T) {
	seeds := []proto.Message{&listenerv3.Listener{}, &routev3.RouteConfiguration{}, &clusterv3.Cluster{}, &endpointv3.ClusterLoadAssignment{}, &tlsv3.Secret{}, &hcmv3.HttpConnectionManager{}}
	rng := rand.New(rand.NewSource(1))
	taken, declined, failed := 0, 0, 0
	for i := 0; i < 600; i++ {
		m := seeds[i%len(seeds)].ProtoReflect().New()
		fillRandom(rng, m, 0, i%3 == 0)
		for _, f := range protoValueFormats {
			want, werr := translate.ProtojsonValue(m.Interface(), f)
			got, ok, err := translate.ProtoValue(m.Interface(), f)
			switch {
			case err != nil:
				t.Fatalf("%T: direct path error %v", m.Interface(), err)
			case !ok:
				declined++
			case werr != nil:
				t.Fatalf("%T: direct path took what protojson refuses (%v)", m.Interface(), werr)
			case !reflect.DeepEqual(got, want):
				t.Fatalf("%T %s:\n got %#v\nwant %#v", m.Interface(), f, got, want)
			default:
				taken++
			}
			if werr != nil {
				failed++
			}
		}
	}
	t.Logf("taken %d, declined %d (protojson failed on %d)", taken, declined, failed)
	if taken < 400 || failed == 0 {
		t.Fatalf("taken %d, declined %d, protojson failed %d: the random messages do not exercise both sides", taken, declined, failed)
	}
}

var oddFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 1e20, 1e21, 1e-7, 1e-6, 123456789, 1e19, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 3.4e38, 1 << 53}

var oddStrings = []string{"", "a", "x y", "ünï", "inv\xffalid", "1", "true", "\"q\"\n", "@type"}

// fillRandom sets each field of m with probability 1/2 (lists and maps of
// up to 3 entries), messages down to depth 4; bad adds the values
// protojson refuses.
func fillRandom(rng *rand.Rand, m protoreflect.Message, depth int, bad bool) {
	fields := m.Descriptor().Fields()
	switch m.Descriptor().FullName() {
	case "google.protobuf.Any":
		anys := []proto.Message{wrapperspb.UInt32(uint32(rng.Intn(100))), durationpb.New(1500e6), &routev3.Route{Name: "r"}, &clusterv3.Cluster{Name: "c", ConnectTimeout: durationpb.New(2e9)}, &structpb.Struct{Fields: map[string]*structpb.Value{"a": structpb.NewNumberValue(1.5)}}}
		a, err := anypb.New(anys[rng.Intn(len(anys))])
		if err != nil {
			panic(err)
		}
		if bad && rng.Intn(4) == 0 {
			a.TypeUrl = "type.googleapis.com/no.such.Type"
		}
		proto.Merge(m.Interface(), a)
		return
	case "google.protobuf.Duration":
		secs := rng.Int63n(1000)
		if bad && rng.Intn(4) == 0 {
			secs = 1e12
		}
		m.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(secs))
		m.Set(fields.ByName("nanos"), protoreflect.ValueOfInt32([]int32{0, 5e8, 1e6, 1, 999999999}[rng.Intn(5)]))
		return
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Timestamp", "google.protobuf.FieldMask":
		return // empty: protojson's own encoding of them is what protoValue calls
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if rng.Intn(2) == 0 || fd.ContainingOneof() != nil && m.WhichOneof(fd.ContainingOneof()) != nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := rng.Intn(3); j >= 0; j-- {
				if fd.Message() != nil {
					if depth >= 4 {
						break
					}
					e := l.NewElement()
					fillRandom(rng, e.Message(), depth+1, bad)
					l.Append(e)
				} else {
					l.Append(randomScalar(rng, fd, bad))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := rng.Intn(3); j >= 0; j-- {
				k := randomScalar(rng, fd.MapKey(), bad).MapKey()
				if fd.MapValue().Message() != nil {
					if depth >= 4 {
						break
					}
					v := mp.NewValue()
					fillRandom(rng, v.Message(), depth+1, bad)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomScalar(rng, fd.MapValue(), bad))
				}
			}
		case fd.Message() != nil:
			if depth < 4 {
				fillRandom(rng, m.Mutable(fd).Message(), depth+1, bad)
			}
		default:
			m.Set(fd, randomScalar(rng, fd, bad))
		}
	}
}

func randomScalar(rng *rand.Rand, fd protoreflect.FieldDescriptor, bad bool) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rng.Intn(2) == 0)
	case protoreflect.StringKind:
		s := oddStrings[rng.Intn(len(oddStrings))]
		if !bad && s == "inv\xffalid" {
			s = "valid"
		}
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(oddStrings[rng.Intn(len(oddStrings))]))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32([]int32{0, 1, -1, math.MaxInt32, math.MinInt32}[rng.Intn(5)])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32([]uint32{0, 1, math.MaxUint32}[rng.Intn(3)])
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64([]int64{0, 1, -1, math.MaxInt64, math.MinInt64}[rng.Intn(5)])
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64([]uint64{0, 1, math.MaxUint64}[rng.Intn(3)])
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(oddFloats[rng.Intn(len(oddFloats))]))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(oddFloats[rng.Intn(len(oddFloats))])
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if rng.Intn(5) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(977))
		}
		return protoreflect.ValueOfEnum(vals.Get(rng.Intn(vals.Len())).Number())
	}
	panic(fd.Kind())
}
