package translate

import "google.golang.org/protobuf/proto"

// ProtoValue is protoValue; ok is false when it declines the message.
func ProtoValue(m proto.Message, format Format) (v any, ok bool, err error) {
	v, err = protoValue(m, format)
	if err == errProtoValue {
		return nil, false, nil
	}
	return v, true, err
}

// ProtojsonValue is the value through protojson's text, the path
// protoValue replaces.
func ProtojsonValue(m proto.Message, format Format) (any, error) {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jsonValue(b, format)
}
