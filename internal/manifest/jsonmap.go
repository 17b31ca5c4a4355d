package manifest

import (
	"strconv"
	"sync"

	sigsjson "sigs.k8s.io/json"
)

// decodeJSONMap decodes a JSON object into the map that
// sigsjson.UnmarshalCaseSensitivePreserveInts makes of it (the apiserver's
// request decoding: map[string]any, []any, string, int64, float64, bool,
// nil), for the JSON the YAML conversion writes. It reports false for
// anything it does not take — invalid JSON, a top level that is not an
// object, nesting deeper than encoding/json allows, a number
// strconv refuses — and the caller then takes the
// library, which also words every error. Strings with escapes or bytes
// outside printable ASCII are decoded by the library one by one. Short
// keys are interned (strings are immutable: sharing them changes nothing).
// TestDecodeJSONMapMatchesLibrary and FuzzDecodeJSONMap compare the two.
//
// Why: the library's scanner reads every byte twice (validation, then
// decoding) through a state machine; it was a fifth of the offline
// validation's CPU in berth translate.
func decodeJSONMap(data []byte) (map[string]any, bool) {
	d := jsonMapDecoders.Get().(*jsonMapDecoder)
	defer func() {
		d.data = nil
		jsonMapDecoders.Put(d)
	}()
	d.data, d.i = data, 0
	d.skipSpace()
	if d.i >= len(d.data) || d.data[d.i] != '{' {
		return nil, false
	}
	v, ok := d.object(0)
	if !ok {
		return nil, false
	}
	d.skipSpace()
	if d.i != len(d.data) {
		return nil, false
	}
	return v, true
}

// maxJSONDepth is encoding/json's maxNestingDepth: deeper documents are
// the library's to refuse.
const maxJSONDepth = 10000

type jsonMapDecoder struct {
	data []byte
	i    int
	// keys interns short keys across the documents a decoder reads (the
	// same few hundred field names); at most maxInternedKeys.
	keys map[string]string
}

// jsonMapDecoders keeps a decoder, with its interned keys, per CPU.
var jsonMapDecoders = sync.Pool{New: func() any { return &jsonMapDecoder{keys: map[string]string{}} }}

const (
	maxInternedKeys   = 4096
	maxInternedKeyLen = 64
)

func (d *jsonMapDecoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonMapDecoder) value(depth int) (any, bool) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return nil, false
	}
	switch c := d.data[d.i]; {
	case c == '{':
		m, ok := d.object(depth)
		return m, ok
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str(false)
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, false
}

func (d *jsonMapDecoder) literal(lit string) bool {
	if len(d.data)-d.i < len(lit) || string(d.data[d.i:d.i+len(lit)]) != lit {
		return false
	}
	d.i += len(lit)
	return true
}

// object decodes the object at d.i ('{').
func (d *jsonMapDecoder) object(depth int) (map[string]any, bool) {
	if depth++; depth > maxJSONDepth {
		return nil, false
	}
	d.i++
	m := map[string]any{}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str(true)
		if !ok {
			return nil, false
		}
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v // a duplicate key: the last wins, as in the library
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, false
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

// array decodes the array at d.i ('[').
func (d *jsonMapDecoder) array(depth int) ([]any, bool) {
	if depth++; depth > maxJSONDepth {
		return nil, false
	}
	d.i++
	l := []any{}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return l, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		l = append(l, v)
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, false
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return l, true
		default:
			return nil, false
		}
	}
}

// str decodes the string at d.i ('"'); key strings are interned.
func (d *jsonMapDecoder) str(key bool) (string, bool) {
	start := d.i + 1
	plain := true
	j := start
	for ; j < len(d.data); j++ {
		c := d.data[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			j++ // the escaped byte cannot end the string
			continue
		}
		if c < 0x20 || c > 0x7e {
			plain = false
		}
	}
	if j >= len(d.data) {
		return "", false
	}
	d.i = j + 1
	raw := d.data[start:j]
	if !plain {
		// Escapes, control and non-ASCII bytes: as the library reads them
		// (its unquoting, its UTF-8 replacement, its errors).
		var s string
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(d.data[start-1:j+1], &s); err != nil {
			return "", false
		}
		return s, true
	}
	if !key {
		return string(raw), true
	}
	if s, ok := d.keys[string(raw)]; ok {
		return s, true
	}
	s := string(raw)
	if len(s) <= maxInternedKeyLen && len(d.keys) < maxInternedKeys {
		d.keys[s] = s
	}
	return s, true
}

// number decodes the number at d.i as the library's convertNumber does
// with preserveInts: an int64 when it has no '.' and ParseInt takes it,
// else a float64.
func (d *jsonMapDecoder) number() (any, bool) {
	start := d.i
	j := d.i
	if d.data[j] == '-' {
		j++
	}
	digits := func() int {
		n := 0
		for j < len(d.data) && d.data[j] >= '0' && d.data[j] <= '9' {
			j++
			n++
		}
		return n
	}
	switch {
	case j < len(d.data) && d.data[j] == '0':
		j++
	case digits() == 0:
		return nil, false
	}
	dot := false
	if j < len(d.data) && d.data[j] == '.' {
		dot = true
		j++
		if digits() == 0 {
			return nil, false
		}
	}
	if j < len(d.data) && (d.data[j] == 'e' || d.data[j] == 'E') {
		j++
		if j < len(d.data) && (d.data[j] == '+' || d.data[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	d.i = j
	s := string(d.data[start:j])
	if !dot {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, false
	}
	return f, true
}
