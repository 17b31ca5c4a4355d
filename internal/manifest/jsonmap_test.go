package manifest

import (
	"reflect"
	"strings"
	"testing"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// checkJSONMap fails when decodeJSONMap takes data but the library refuses
// it or decodes it to another value (types included: int64 against
// float64).
func checkJSONMap(t *testing.T, name string, data []byte) bool {
	t.Helper()
	got, ok := decodeJSONMap(data)
	var want map[string]any
	err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Errorf("%s: taken, the library refuses it: %v\n%s", name, err, data)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: decoded\n%#v\nthe library\n%#v\nfrom %s", name, got, want, data)
	}
	return true
}

// TestDecodeJSONMapMatchesLibrary: on the JSON of every document of the
// repository, as the YAML conversion writes it (the fast path's and
// yaml.v2's), the decoder agrees with the library, and takes them all.
func TestDecodeJSONMapMatchesLibrary(t *testing.T) {
	taken, objects := 0, 0
	for name, doc := range corpusDocuments(t) {
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil || len(js) == 0 || js[0] != '{' {
			continue
		}
		objects++
		if !checkJSONMap(t, name, js) {
			t.Errorf("%s: not taken", name)
			continue
		}
		taken++
		if fast, ok := fastYAMLToJSON(doc); ok {
			checkJSONMap(t, name+" (fast YAML)", fast)
		}
	}
	t.Logf("%d of %d objects taken", taken, objects)
}

// TestDecodeJSONMapEdges lists what is taken and what is left to the
// library; everything taken must match it.
func TestDecodeJSONMapEdges(t *testing.T) {
	for _, c := range []struct {
		in    string
		taken bool
	}{
		{`{}`, true},
		{` {"a" : [ 1 , -2 , 3.5 , 1e3 , -0 , 0.0 , 1E-2 , 9223372036854775807 , 9223372036854775808 , -9223372036854775809 ] } `, true},
		{`{"a":true,"b":false,"c":null,"d":[],"e":{},"f":[[],[{}]]}`, true},
		{"{\"a\":\t\"x\"\r\n}", true},
		{`{"a":"x","a":"y"}`, true},     // the last wins
		{`{"a":{"b":1},"a":"y"}`, true}, // the last wins, replacing
		{`{"k\u00e9":"\u00e9\n\"\\\/","\ud83d\ude00":"\ud800"}`, true},
		{`{"a":"` + "\xff\xfe" + `"}`, true}, // invalid UTF-8: the library's replacement
		{`{"a":"é"}`, true},
		{`{"<>&":"<>&"}`, true},
		{`{"a":1e400}`, false}, // out of range: the library's error
		{`{"a":01}`, false},
		{`{"a":1.}`, false},
		{`{"a":.5}`, false},
		{`{"a":+1}`, false},
		{`{"a":1e}`, false},
		{`{"a":-}`, false},
		{`{"a":tru}`, false},
		{`{"a":nul}`, false},
		{`{"a":"x"`, false},
		{`{"a":"x}`, false},
		{`{"a":"` + "\x01" + `"}`, false},
		{`{"a":"\x"}`, false},
		{`{"a" "x"}`, false},
		{`{"a":1,}`, false},
		{`{"a":[1,]}`, false},
		{`{"a":[1 2]}`, false},
		{`{a:1}`, false},
		{`{"a":1}x`, false},
		{`{"a":1}{}`, false},
		{`[1]`, false},
		{`null`, false},
		{``, false},
		{`{"a":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, false},
		{`{"a":` + strings.Repeat("[", maxJSONDepth-2) + strings.Repeat("]", maxJSONDepth-2) + `}`, true},
	} {
		if got := checkJSONMap(t, c.in[:min(len(c.in), 60)], []byte(c.in)); got != c.taken {
			t.Errorf("%.60s: taken %v, want %v", c.in, got, c.taken)
		}
	}
}

// FuzzDecodeJSONMap: what the decoder takes, the library reads alike.
func FuzzDecodeJSONMap(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,-2.5e3,"x\n",true,null,{"b":{}}]}`, `{"a":"\u00e9"}`, `{"a":9223372036854775808}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkJSONMap(t, "fuzz", data)
	})
}

// BenchmarkDecodeJSONMap compares the decoder with the library on the
// JSON of the repository's documents (sub-benchmarks "library" and
// "decodeJSONMap", per pass over all of them).
func BenchmarkDecodeJSONMap(b *testing.B) {
	var docs [][]byte
	for _, doc := range corpusDocuments(b) {
		if js, err := yaml.YAMLToJSONStrict(doc); err == nil && len(js) > 0 && js[0] == '{' {
			docs = append(docs, js)
		}
	}
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, d := range docs {
				var m map[string]any
				if err := sigsjson.UnmarshalCaseSensitivePreserveInts(d, &m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("decodeJSONMap", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, d := range docs {
				if _, ok := decodeJSONMap(d); !ok {
					b.Fatal("not taken")
				}
			}
		}
	})
}
