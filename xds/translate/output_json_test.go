package translate

import (
	"reflect"
	"testing"
)

var jsonValueCases = []string{
	`{}`, `[]`, `""`, `"x"`, `0`, `-0`, `1`, `-1`, `9223372036854775807`, `9223372036854775808`, `18446744073709551615`,
	`18446744073709551616`, `-9223372036854775809`, `1.5`, `1e3`, `1E+3`, `-2.5e-7`, `0.1`, `true`, `false`, `null`,
	`{"a":1,"b":[1,2,{"c":"d"}],"e":{},"f":[],"g":null,"h":true}`, `{"a":1,"a":2}`,
	`{ "sp" : [ 1 , "x" ] }`, "\n[\n  1,\n  2\n]\n", `"esc\"aped\\ \n \t \u00e9 \ud83d\ude00 \u2028"`, "\"inv\xffalid\"",
	`"ünï"`, `{"@type":"type.googleapis.com/x","name":"a/b"}`,
	// not JSON, or not all of it: the general path's error
	``, `{`, `[1,]`, `{"a"}`, `{"a":}`, `01`, `1.`, `-`, `tru`, `nul`, `"open`, "\"ctl\x01\"", `{"a":1}x`, `[1 2]`, `{"a":1 "b":2}`, `+1`,
}

// TestFastYAMLValueMatches: fastYAMLValue gives what yamlValue gives
// (value and error alike). The JSON of real resources and statuses is
// covered by TestGolden, whose YAML output goes through fastYAMLValue.
func TestFastYAMLValueMatches(t *testing.T) {
	for _, c := range jsonValueCases {
		compareYAMLValue(t, []byte(c))
	}
}

func FuzzFastYAMLValue(f *testing.F) {
	for _, c := range jsonValueCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareYAMLValue(t, data) })
}

func compareYAMLValue(t *testing.T, data []byte) {
	t.Helper()
	want, werr := yamlValue(data)
	got, gerr := fastYAMLValue(data)
	if (werr != nil) != (gerr != nil) || werr != nil && werr.Error() != gerr.Error() {
		t.Fatalf("%q: error %v, want %v", data, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %#v, want %#v", data, got, want)
	}
}
