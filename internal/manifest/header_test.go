package manifest

import (
	"encoding/json"
	"testing"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// checkHeader fails when readHeader takes js but reads another header than
// the full decode does (or the full decode refuses js).
func checkHeader(t *testing.T, name string, js []byte) bool {
	t.Helper()
	got, ok := readHeader(js)
	if !ok {
		return false
	}
	var want header
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &want); err != nil {
		t.Fatalf("%s: readHeader took what the decoder refuses (%v): %s", name, err, js)
	}
	if got != want {
		t.Fatalf("%s: readHeader %+v, decoder %+v: %s", name, got, want, js)
	}
	return true
}

// TestReadHeaderMatchesDecoder: on the JSON of every document of the
// repository's YAML, readHeader reads what the full decode reads wherever
// it takes the document, and it takes every document of the corpus that
// has a header (they are all plain ASCII names).
func TestReadHeaderMatchesDecoder(t *testing.T) {
	taken, total := 0, 0
	for name, doc := range corpusDocuments(t) {
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil || len(js) == 0 || js[0] != '{' {
			continue
		}
		total++
		if checkHeader(t, name, js) {
			taken++
		}
	}
	t.Logf("readHeader took %d of %d documents", taken, total)
	if taken < total*9/10 {
		t.Errorf("readHeader took only %d of %d documents", taken, total)
	}
}

// TestReadHeaderEdges lists what readHeader takes and what it leaves to
// the decoder.
func TestReadHeaderEdges(t *testing.T) {
	for _, c := range []struct {
		js   string
		take bool
	}{
		{`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"b"}}`, true},
		{`{}`, true},
		{` { "kind" : "X" , "metadata" : { } } `, true},
		{`{"metadata":{"labels":{"a":"{\"}"},"name":"n","annotations":{"x":"[1,{}]"}},"spec":[1,2.5e3,true,null,{"kind":"inner"}],"kind":"K"}`, true},
		{`{"kind":"A","kind":"B"}`, true}, // the last wins, as in the decoder
		{`{"Kind":"A","KIND":"B","apiversion":"x"}`, true},
		{`{"kind":"a\"b"}`, false},
		{`{"kind":"\u0041"}`, false},
		{`{"kind":"é"}`, false},
		{`{"kind":1}`, false},
		{`{"kind":null}`, false},
		{`{"metadata":null}`, false},
		{`{"metadata":"x"}`, false},
		{`{"metadata":{"name":["a"]}}`, false},
		{`{"metadata":{"name":"a"`, false},
		{`{"kind":"A"} x`, false},
		{`{"kind":"A",}`, false},
		{`{"a":,"kind":"A"}`, false},
		{`{"a":"unterminated}`, false},
		{`[]`, false},
	} {
		got, ok := readHeader([]byte(c.js))
		if ok != c.take {
			t.Errorf("%s: taken %v (%+v), want %v", c.js, ok, got, c.take)
		}
		if json.Valid([]byte(c.js)) {
			checkHeader(t, c.js, []byte(c.js))
		}
	}
}

// FuzzReadHeader: whatever valid JSON readHeader takes, the decoder reads
// the same header from.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"b","labels":{"x":"y"}},"spec":{"ports":[{"port":80}]}}`))
	f.Add([]byte(`{"kind":"a\"b","metadata":{"name":[1,"]"]}}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		if !json.Valid(js) {
			return
		}
		checkHeader(t, "fuzz", js)
	})
}
