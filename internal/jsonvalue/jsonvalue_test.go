package jsonvalue

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// asNumber keeps a number's text, as encoding/json's UseNumber does.
func asNumber(text []byte) (any, bool) { return json.Number(text), true }

// library decodes data as encoding/json does with UseNumber.
func library(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// checkLikeLibrary asserts that Decode takes exactly the valid JSON and
// gives encoding/json's value for it.
func checkLikeLibrary(t *testing.T, d *Decoder, data []byte) {
	t.Helper()
	got, ok := d.Decode(data)
	if valid := json.Valid(data); ok != valid {
		t.Fatalf("Decode(%q) ok = %v, json.Valid = %v", data, ok, valid)
	}
	if !ok {
		return
	}
	want, err := library(data)
	if err != nil {
		t.Fatalf("encoding/json refused %q: %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v, encoding/json: %#v", data, got, want)
	}
}

var cases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `1E+2`, `true`, `false`, `null`,
	` {"a": [1, "x", {"b": null}], "c": true, "a": false} `,
	`{"k":"v","n":-12,"f":0.5,"l":[[],[{}],["s",1]]}`,
	`"esc\"aped\\\n\u00e9\ud83d\ude00"`, `"caf` + "\xc3\xa9" + `"`, `"bad` + "\xff" + `utf8"`,
	`"del` + "\x7f" + `"`, `"` + strings.Repeat("long", 20) + `"`,
	// Refused:
	``, ` `, `{`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1 2]`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`tru`, `nul`, `truex`, `"ctl` + "\x01" + `"`, `"open`, `"bad\escape"`, `{} {}`, `1-2`, `[1]]`,
}

func TestDecodeLikeLibrary(t *testing.T) {
	for _, intern := range []bool{false, true} {
		d := &Decoder{Number: asNumber, Intern: intern}
		for _, c := range cases {
			checkLikeLibrary(t, d, []byte(c))
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c))
	}
	d := &Decoder{Number: asNumber, Intern: true}
	f.Fuzz(func(t *testing.T, data []byte) { checkLikeLibrary(t, d, data) })
}

func TestDecodeMaxDepth(t *testing.T) {
	d := &Decoder{Number: asNumber, MaxDepth: 3}
	for doc, want := range map[string]bool{
		`[[[1]]]`:          true,
		`[[[[1]]]]`:        false,
		`{"a":{"b":{}}}`:   true,
		`{"a":{"b":[{}]}}`: false,
	} {
		if _, ok := d.Decode([]byte(doc)); ok != want {
			t.Errorf("MaxDepth 3: Decode(%s) ok = %v, want %v", doc, ok, want)
		}
	}
	unbounded := &Decoder{Number: asNumber}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	if _, ok := unbounded.Decode([]byte(deep)); !ok {
		t.Error("MaxDepth 0: a document 20,000 deep was refused")
	}
}

func TestDecodeNumberRefused(t *testing.T) {
	var seen []string
	d := &Decoder{Number: func(text []byte) (any, bool) {
		seen = append(seen, string(text))
		return len(text), string(text) != "13"
	}}
	v, ok := d.Decode([]byte(`[7, -0.25e+1]`))
	if !ok || !reflect.DeepEqual(v, []any{1, 8}) {
		t.Fatalf("Decode = %#v, %v; want the Number values [1 8]", v, ok)
	}
	if _, ok := d.Decode([]byte(`{"a":[1,{"b":13}]}`)); ok {
		t.Fatal("a number Number refused was taken")
	}
	if want := []string{"7", "-0.25e+1", "1", "13"}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("Number saw %q, want %q", seen, want)
	}
	// The refusal left no items of the unfinished arrays behind.
	if v, ok := d.Decode([]byte(`[[2],3]`)); !ok || !reflect.DeepEqual(v, []any{[]any{1}, 1}) {
		t.Fatalf("after a refusal: Decode = %#v, %v", v, ok)
	}
}

func TestDecodeInterns(t *testing.T) {
	first := []byte(`{"name":"envoy","list":["envoy"]}`)
	second := []byte(`{"name":"envoy"}`)
	data := func(s string) *byte { return unsafe.StringData(s) }
	for _, intern := range []bool{false, true} {
		d := &Decoder{Number: asNumber, Intern: intern}
		a, _ := d.Decode(first)
		b, _ := d.Decode(second)
		am, bm := a.(map[string]any), b.(map[string]any)
		x, y := am["name"].(string), bm["name"].(string)
		z := am["list"].([]any)[0].(string)
		var ka, kb string
		for k := range am {
			if k == "name" {
				ka = k
			}
		}
		for k := range bm {
			kb = k
		}
		shared := data(x) == data(y) && data(ka) == data(kb) && data(x) == data(z)
		if shared != intern {
			t.Errorf("Intern %v: strings shared across documents = %v", intern, shared)
		}
	}
}
