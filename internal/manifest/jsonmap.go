package manifest

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/berth-gateway/berth/internal/jsonvalue"
)

// decodeJSONMap decodes a JSON object into the map that
// sigsjson.UnmarshalCaseSensitivePreserveInts makes of it (the apiserver's
// request decoding: map[string]any, []any, string, int64, float64, bool,
// nil), for the JSON the YAML conversion writes. It reports false for
// anything it does not take — invalid JSON, a top level that is not an
// object, nesting deeper than encoding/json allows, a number
// strconv refuses — and the caller then takes the
// library, which also words every error. The scanning is
// jsonvalue.Decoder's (strings with escapes are unquoted by encoding/json,
// whose unquoting the library copies); numbers are preserveInt's. Short
// strings seen recently are shared (strings are immutable: sharing them
// changes nothing).
// TestDecodeJSONMapMatchesLibrary and FuzzDecodeJSONMap compare the two.
//
// Why: the library's scanner reads every byte twice (validation, then
// decoding) through a state machine; it was a fifth of the offline
// validation's CPU in berth translate.
func decodeJSONMap(data []byte) (map[string]any, bool) {
	d := jsonMapDecoders.Get().(*jsonvalue.Decoder)
	defer jsonMapDecoders.Put(d)
	v, ok := d.Decode(data)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// maxJSONDepth is encoding/json's maxNestingDepth: deeper documents are
// the library's to refuse.
const maxJSONDepth = 10000

// jsonMapDecoders keeps decoders, with their recent strings, across
// documents.
var jsonMapDecoders = sync.Pool{New: func() any {
	return &jsonvalue.Decoder{Number: preserveInt, MaxDepth: maxJSONDepth, Intern: true}
}}

// preserveInt makes a number's text a value as the library's convertNumber
// does with preserveInts: an int64 when it has no '.', 'e' or 'E' and
// ParseInt takes it, else a float64.
func preserveInt(text []byte) (any, bool) {
	if !bytes.ContainsAny(text, ".eE") {
		if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return nil, false
	}
	return f, true
}
