package translate

import "github.com/berth-gateway/berth/internal/jsonvalue"

// fastYAMLValue is yamlValue for the compact JSON protojson and
// encoding/json write: one pass over the text (jsonvalue.Decoder), no
// reflection, numbers typed by yamlNumber. Anything it does not expect
// (syntax errors included) goes to the general path, so its result is
// always yamlValue's (TestFastYAMLValueMatches).
func fastYAMLValue(data []byte) (any, error) {
	d := jsonvalue.Decoder{Number: yamlNumberValue}
	if v, ok := d.Decode(data); ok {
		return v, nil
	}
	return yamlValue(data)
}

// yamlNumberValue is yamlNumber for jsonvalue.Decoder.Number.
func yamlNumberValue(text []byte) (any, bool) {
	v, err := yamlNumber(string(text))
	return v, err == nil
}
