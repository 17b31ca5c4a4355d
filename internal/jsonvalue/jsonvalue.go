// Package jsonvalue decodes JSON text into Go values (map[string]any,
// []any, string, bool, nil and whatever its caller makes of numbers) in one
// pass, without reflection. It takes the JSON that encoders write and
// reports false for anything else — invalid JSON, numbers the caller
// refuses, nesting past a bound — so that its callers hand the text to a
// library that also words the errors. Each caller states how numbers
// become values; strings with escapes or bytes outside printable ASCII are
// unquoted by encoding/json.
//
// It is pure: no I/O, no global state; the same input and options give
// the same value.
package jsonvalue

import (
	"encoding/json"
	"unicode/utf8"
)

// Decoder decodes JSON documents. Set its options, then call Decode; a
// Decoder may be reused (its interned strings are kept across documents)
// but not used concurrently.
type Decoder struct {
	// Number makes a number's text (valid by the JSON grammar) a value;
	// false makes Decode report false. Required. text is the document's
	// own bytes, valid only during the call: a []byte rather than a string
	// so that converting it for strconv need not allocate.
	Number func(text []byte) (any, bool)
	// MaxDepth bounds the nesting of objects and arrays: a deeper document
	// is reported false. Zero: no bound.
	MaxDepth int
	// Intern shares short strings (keys and values) seen recently, within
	// and across documents, instead of allocating them again. Strings are
	// immutable: sharing them changes no value.
	Intern bool

	data []byte
	i    int
	// stack gathers the items of the arrays being decoded (shared by the
	// nested arrays): each array is then one allocation of its length.
	stack  []any
	intern *interned
}

// interned holds recent short strings by a hash of their bytes.
type interned struct {
	strs [1024]string
	// vals is strs for string values: the string in an interface, whose
	// box is shared too.
	vals [1024]any
}

// maxInternLen bounds the strings kept for Intern.
const maxInternLen = 32

// Decode decodes data, a single JSON value with optional surrounding
// space. It reports false where the caller must take its fallback.
func (d *Decoder) Decode(data []byte) (any, bool) {
	if d.Intern && d.intern == nil {
		d.intern = new(interned)
	}
	d.data, d.i = data, 0
	defer func() { d.data = nil }()
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	d.skipSpace()
	if d.i != len(d.data) {
		return nil, false
	}
	return v, true
}

func (d *Decoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *Decoder) value(depth int) (any, bool) {
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

func (d *Decoder) literal(lit string) bool {
	if len(d.data)-d.i < len(lit) || string(d.data[d.i:d.i+len(lit)]) != lit {
		return false
	}
	d.i += len(lit)
	return true
}

// deeper reports whether one more level of nesting is allowed.
func (d *Decoder) deeper(depth *int) bool {
	*depth++
	return d.MaxDepth == 0 || *depth <= d.MaxDepth
}

// object decodes the object at d.i ('{').
func (d *Decoder) object(depth int) (map[string]any, bool) {
	if !d.deeper(&depth) {
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
		m[k] = v // a duplicate key: the last wins, as in encoding/json
		if done, ok := d.next('}'); !ok || done {
			return m, ok
		}
	}
}

// next reads what follows an item of an object or array: a ',' (more
// items) or its closing byte (done).
func (d *Decoder) next(closing byte) (done, ok bool) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return false, false
	}
	switch d.data[d.i] {
	case ',':
		d.i++
		return false, true
	case closing:
		d.i++
		return true, true
	}
	return false, false
}

// array decodes the array at d.i ('[').
func (d *Decoder) array(depth int) ([]any, bool) {
	if !d.deeper(&depth) {
		return nil, false
	}
	d.i++
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return []any{}, true
	}
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
		if done, ok := d.next(']'); !ok {
			return nil, false
		} else if done {
			return append([]any(nil), d.stack[base:]...), true
		}
	}
}

// str decodes the string at d.i ('"').
func (d *Decoder) str() (string, bool) {
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
		return unquote(d.data[start-1 : j+1])
	}
	if !d.Intern || len(raw) > maxInternLen {
		return string(raw), true
	}
	slot := &d.intern.strs[fnv1a(raw)%uint32(len(d.intern.strs))]
	if *slot == string(raw) {
		return *slot, true
	}
	*slot = string(raw)
	return *slot, true
}

// unquote decodes a quoted string with escapes, control or non-ASCII
// bytes as encoding/json reads it: its unquoting, its UTF-8 replacement,
// its refusals.
func unquote(quoted []byte) (string, bool) {
	raw := quoted[1 : len(quoted)-1]
	if utf8.Valid(raw) && plainUTF8(raw) {
		return string(raw), true
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", false
	}
	return s, true
}

// plainUTF8 reports whether valid UTF-8 text needs no unquoting: no escape
// and no control byte.
func plainUTF8(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}

// strValue is str for a value: with Intern, a short string seen recently
// is returned in the same interface.
func (d *Decoder) strValue() (any, bool) {
	if !d.Intern {
		return d.str()
	}
	start := d.i + 1
	end := start
	for end < len(d.data) && end-start <= maxInternLen {
		c := d.data[end]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			break
		}
		end++
	}
	if end >= len(d.data) || d.data[end] != '"' || end-start > maxInternLen {
		return d.str() // long, escaped, non-ASCII or invalid
	}
	raw := d.data[start:end]
	d.i = end + 1
	slot := &d.intern.vals[fnv1a(raw)%uint32(len(d.intern.vals))]
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

// number reads the number at d.i by the JSON grammar and hands its text to
// d.Number.
func (d *Decoder) number() (any, bool) {
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
	if j < len(d.data) && d.data[j] == '.' {
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
	return d.Number(d.data[start:j])
}
