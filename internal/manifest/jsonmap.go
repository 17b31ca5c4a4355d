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
// strings seen recently are shared (strings are immutable: sharing them
// changes nothing).
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
	// strs holds recent short strings (keys and values) by a hash of their
	// bytes: a string written again (field names, enum values, names
	// repeated within and across documents) is not allocated again.
	strs [1024]string
	// vals is strs for string values: the string in an interface, whose
	// box is shared too.
	vals  [1024]any
	stack []any
}

// jsonMapDecoders keeps decoders, with their recent strings, across
// documents.
var jsonMapDecoders = sync.Pool{New: func() any { return new(jsonMapDecoder) }}

// maxSharedLen bounds the strings kept in jsonMapDecoder.strs.
const maxSharedLen = 32

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
		return d.strValue()
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
		k, ok := d.str()
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
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return []any{}, true
	}
	// The items are gathered on d.stack (shared by the nested arrays),
	// then copied into a slice of their number: one allocation.
	base := len(d.stack)
	defer func() {
		clear(d.stack[base:])
		d.stack = d.stack[:base]
	}()
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		d.stack = append(d.stack, v)
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, false
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return append([]any(nil), d.stack[base:]...), true
		default:
			return nil, false
		}
	}
}

// str decodes the string at d.i ('"').
func (d *jsonMapDecoder) str() (string, bool) {
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
	if len(raw) > maxSharedLen {
		return string(raw), true
	}
	slot := &d.strs[fnv1a(raw)%uint32(len(d.strs))]
	if *slot == string(raw) {
		return *slot, true
	}
	*slot = string(raw)
	return *slot, true
}

// strValue is str for a value: a short string seen recently is returned
// in the same interface.
func (d *jsonMapDecoder) strValue() (any, bool) {
	start := d.i + 1
	end := start
	for end < len(d.data) && end-start <= maxSharedLen {
		c := d.data[end]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			break
		}
		end++
	}
	if end >= len(d.data) || d.data[end] != '"' || end-start > maxSharedLen {
		return d.str() // long, escaped, non-ASCII or invalid
	}
	raw := d.data[start:end]
	d.i = end + 1
	slot := &d.vals[fnv1a(raw)%uint32(len(d.vals))]
	if s, ok := (*slot).(string); ok && s == string(raw) {
		return *slot, true
	}
	*slot = string(raw)
	return *slot, true
}

func fnv1a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
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
