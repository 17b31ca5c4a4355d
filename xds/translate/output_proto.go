package translate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// errProtoValue makes protoValue hand the message to protojson
// (protoToValue's general path), which also writes every error message.
var errProtoValue = errors.New("not handled by the direct proto value encoder")

// protoValue is protoToValue(m, nil, format) without the JSON text: it
// walks m with protoreflect and builds the value the JSON text protojson
// (jsonOptions) writes decodes into — for YAML typed as fastYAMLValue
// types it, for JSON as encoding/json decodes it. protojson's rules:
// proto field names, populated fields only, 64-bit integers as strings,
// enums by name, floats as its encoder formats them ("NaN", "Infinity"),
// bytes in base64, Any as "@type" and its message's fields, Duration as
// "1.5s", wrappers as their value, Empty as {}; the other well-known types
// are encoded by protojson itself. Whatever could make protojson fail
// (invalid UTF-8, an Any it cannot resolve, a Duration out of range,
// extensions, required fields) returns errProtoValue, and the caller uses
// protojson, so results and errors stay protojson's
// (TestProtoValueMatchesProtojson).
func protoValue(m proto.Message, format Format) (any, error) {
	if err := proto.CheckInitialized(m); err != nil {
		return nil, errProtoValue
	}
	return protoMessageValue(m.ProtoReflect(), format)
}

func protoMessageValue(m protoreflect.Message, format Format) (any, error) {
	d := m.Descriptor()
	if d.FullName().Parent() == "google.protobuf" {
		return wellKnownValue(m, format)
	}
	out := make(map[string]any, 8)
	if err := protoFields(m, format, out); err != nil {
		return nil, err
	}
	return out, nil
}

// protoFields adds m's populated fields to out.
func protoFields(m protoreflect.Message, format Format, out map[string]any) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() {
			err = errProtoValue
			return false
		}
		var x any
		switch {
		case fd.IsList():
			l := v.List()
			items := make([]any, l.Len())
			for i := range items {
				if items[i], err = protoSingular(l.Get(i), fd, format); err != nil {
					return false
				}
			}
			x = items
		case fd.IsMap():
			mp := v.Map()
			entries := make(map[string]any, mp.Len())
			vd := fd.MapValue()
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				ks := k.String()
				if !utf8.ValidString(ks) {
					err = errProtoValue
					return false
				}
				entries[ks], err = protoSingular(v, vd, format)
				return err == nil
			})
			if err != nil {
				return false
			}
			x = entries
		default:
			if x, err = protoSingular(v, fd, format); err != nil {
				return false
			}
		}
		out[fd.TextName()] = x
		return true
	})
	return err
}

func protoSingular(v protoreflect.Value, fd protoreflect.FieldDescriptor, format Format) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool(), nil
	case protoreflect.StringKind:
		s := v.String()
		if !utf8.ValidString(s) {
			return nil, errProtoValue
		}
		return s, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoNumber(v.Int(), format), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoNumber(int64(v.Uint()), format), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10), nil
	case protoreflect.FloatKind:
		return protoFloat(v.Float(), 32, format)
	case protoreflect.DoubleKind:
		return protoFloat(v.Float(), 64, format)
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()), nil
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return nil, nil
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), nil
		}
		return protoNumber(int64(v.Enum()), format), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return protoMessageValue(v.Message(), format)
	}
	return nil, errProtoValue
}

// protoNumber is an integer protojson writes as a JSON number, as the
// JSON decoders type it: int for YAML, float64 for JSON.
func protoNumber(n int64, format Format) any {
	if format == FormatJSON {
		return float64(n)
	}
	return int(n)
}

// protoFloat formats f as protojson's JSON encoder does and types the text
// as the decoders do.
func protoFloat(f float64, bits int, format Format) (any, error) {
	switch {
	case math.IsNaN(f):
		return "NaN", nil
	case math.IsInf(f, 1):
		return "Infinity", nil
	case math.IsInf(f, -1):
		return "-Infinity", nil
	}
	fmtc := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			fmtc = 'e'
		}
	}
	s := strconv.FormatFloat(f, fmtc, -1, bits)
	if fmtc == 'e' {
		// strconv writes 1e-07; protojson drops the exponent's leading 0.
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	if format == FormatJSON {
		return strconv.ParseFloat(s, 64)
	}
	return yamlNumber(s)
}

// wellKnownValue encodes a google.protobuf message: Any, Duration,
// wrappers and Empty here, the others (Timestamp, Struct, Value,
// ListValue, FieldMask) through protojson; plain messages of the package
// (descriptor.proto's) as any message.
func wellKnownValue(m protoreflect.Message, format Format) (any, error) {
	fields := m.Descriptor().Fields()
	switch name := m.Descriptor().Name(); name {
	case "Any":
		return anyValue(m, format)
	case "Duration":
		return protoDuration(m)
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		fd := fields.ByNumber(1)
		return protoSingular(m.Get(fd), fd, format)
	case "Empty":
		return map[string]any{}, nil
	case "Timestamp", "Struct", "Value", "ListValue", "FieldMask":
		b, err := jsonOptions.Marshal(m.Interface())
		if err != nil {
			return nil, errProtoValue
		}
		return jsonValue(b, format)
	}
	out := make(map[string]any, 8)
	if err := protoFields(m, format, out); err != nil {
		return nil, err
	}
	return out, nil
}

func anyValue(m protoreflect.Message, format Format) (any, error) {
	fields := m.Descriptor().Fields()
	fdType, fdValue := fields.ByNumber(1), fields.ByNumber(2)
	if !m.Has(fdType) {
		if m.Has(fdValue) {
			return nil, errProtoValue
		}
		return map[string]any{}, nil
	}
	url := m.Get(fdType).String()
	em, err := unpackAny(url, m.Get(fdValue).Bytes())
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, 8)
	if em.Descriptor().FullName().Parent() == "google.protobuf" && isWellKnown(em.Descriptor().Name()) {
		v, err := wellKnownValue(em, format)
		if err != nil {
			return nil, err
		}
		out["value"] = v
	} else if err := protoFields(em, format, out); err != nil {
		return nil, err
	}
	out["@type"] = url
	return out, nil
}

// isWellKnown names the google.protobuf messages protojson encodes its own
// way.
func isWellKnown(name protoreflect.Name) bool {
	switch name {
	case "Any", "Duration", "Timestamp", "Struct", "Value", "ListValue", "FieldMask", "Empty",
		"BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return true
	}
	return false
}

// protoDuration is protojson's Duration text: seconds with 0, 3, 6 or 9
// fractional digits and "s".
func protoDuration(m protoreflect.Message) (any, error) {
	fields := m.Descriptor().Fields()
	secs, nanos := m.Get(fields.ByNumber(1)).Int(), m.Get(fields.ByNumber(2)).Int()
	const maxSeconds = 315576000000
	if secs < -maxSeconds || secs > maxSeconds || nanos <= -1e9 || nanos >= 1e9 ||
		secs > 0 && nanos < 0 || secs < 0 && nanos > 0 {
		return nil, errProtoValue
	}
	sign := ""
	if secs < 0 || nanos < 0 {
		sign, secs, nanos = "-", -secs, -nanos
	}
	s := fmt.Sprintf("%s%d.%09d", sign, secs, nanos)
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, ".000")
	return s + "s", nil
}

// jsonValue decodes JSON text as protoToValue does for format.
func jsonValue(b []byte, format Format) (any, error) {
	if format != FormatJSON {
		return fastYAMLValue(b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// unpackAny resolves an Any's type URL and decodes its value as protojson
// does; errProtoValue where protojson would fail.
func unpackAny(url string, value []byte) (protoreflect.Message, error) {
	if !utf8.ValidString(url) {
		return nil, errProtoValue
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
	if err != nil {
		return nil, errProtoValue
	}
	em := mt.New()
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(value, em.Interface()); err != nil {
		return nil, errProtoValue
	}
	return em, nil
}
