package translate

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// errJSONValue makes jsonValue hand the text to yamlValue's general path.
var errJSONValue = errors.New("not handled by the fast JSON value decoder")

// fastYAMLValue is yamlValue for the compact JSON protojson and
// encoding/json write: one pass over the text, no reflection. Anything it
// does not expect (syntax errors included) goes to the general path, so
// its result is always yamlValue's (TestFastYAMLValueMatches).
func fastYAMLValue(data []byte) (any, error) {
	d := jsonValueDecoder{data: data}
	d.space()
	v, err := d.value()
	if err == nil {
		d.space()
		if d.i == len(d.data) {
			return v, nil
		}
	}
	return yamlValue(data)
}

type jsonValueDecoder struct {
	data []byte
	i    int
}

func (d *jsonValueDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonValueDecoder) value() (any, error) {
	if d.i >= len(d.data) {
		return nil, errJSONValue
	}
	switch c := d.data[d.i]; {
	case c == '{':
		d.i++
		m := map[string]any{}
		d.space()
		if d.i < len(d.data) && d.data[d.i] == '}' {
			d.i++
			return m, nil
		}
		for {
			d.space()
			k, err := d.string()
			if err != nil {
				return nil, err
			}
			d.space()
			if d.i >= len(d.data) || d.data[d.i] != ':' {
				return nil, errJSONValue
			}
			d.i++
			d.space()
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			m[k] = v
			d.space()
			if d.i >= len(d.data) {
				return nil, errJSONValue
			}
			d.i++
			switch d.data[d.i-1] {
			case ',':
			case '}':
				return m, nil
			default:
				return nil, errJSONValue
			}
		}
	case c == '[':
		d.i++
		l := []any{}
		d.space()
		if d.i < len(d.data) && d.data[d.i] == ']' {
			d.i++
			return l, nil
		}
		for {
			d.space()
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			d.space()
			if d.i >= len(d.data) {
				return nil, errJSONValue
			}
			d.i++
			switch d.data[d.i-1] {
			case ',':
			case ']':
				return l, nil
			default:
				return nil, errJSONValue
			}
		}
	case c == '"':
		return d.string()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, errJSONValue
}

func (d *jsonValueDecoder) literal(word string, v any) (any, error) {
	if len(d.data)-d.i < len(word) || string(d.data[d.i:d.i+len(word)]) != word {
		return nil, errJSONValue
	}
	d.i += len(word)
	return v, nil
}

// string reads a string without escapes; one with escapes is decoded by
// encoding/json.
func (d *jsonValueDecoder) string() (string, error) {
	if d.i >= len(d.data) || d.data[d.i] != '"' {
		return "", errJSONValue
	}
	start := d.i
	escaped := false
	for j := start + 1; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return "", errJSONValue
		case c == '"':
			d.i = j + 1
			if !escaped && utf8.Valid(d.data[start+1:j]) {
				return string(d.data[start+1 : j]), nil
			}
			var s string // escapes or invalid UTF-8: encoding/json's rules
			if err := json.Unmarshal(d.data[start:d.i], &s); err != nil {
				return "", errJSONValue
			}
			return s, nil
		}
	}
	return "", errJSONValue
}

// number reads a JSON number and types it as yamlNumbers does.
func (d *jsonValueDecoder) number() (any, error) {
	start := d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		if c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9' {
			d.i++
			continue
		}
		break
	}
	s := string(d.data[start:d.i])
	if !json.Valid(d.data[start:d.i]) {
		return nil, errJSONValue
	}
	v, err := yamlNumber(s)
	if err != nil {
		return nil, errJSONValue
	}
	return v, nil
}
