package translate

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

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

// DirectYAML writes m as a one-item YAML list the way Marshal writes a
// resource (straight from the message); TreeYAML writes the value
// protoToValue makes of it, the way Marshal wrote it before.
func DirectYAML(m proto.Message) ([]byte, error) {
	return marshalYAML([]any{protoResource{m: m, key: "k", gateway: "g"}})
}

// TreeYAML: see DirectYAML.
func TreeYAML(m proto.Message) ([]byte, error) {
	v, err := protoToValue(m, FormatYAML)
	if err != nil {
		return nil, resourceError{fmt.Errorf("marshal %s of gateway %s: %w", "k", "g", err)}
	}
	return marshalYAML([]any{v})
}
