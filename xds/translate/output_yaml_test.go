package translate

import (
	"fmt"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
)

// TestMarshalYAMLMatchesYAMLv2: marshalYAML writes what yaml.v2 writes,
// for values covering every scalar style, key order and nesting, and
// declines (falling back to yaml.v2) where a string's rendering depends on
// its place.
func TestMarshalYAMLMatchesYAMLv2(t *testing.T) {
	long := strings.Repeat("word ", 30)
	strs := []any{"", "plain", "@type", "yes", "Yes", "no", "on", "true", "null", "~", "1", "1.5", "0x1F", "1e3", "1:20",
		"2001-12-14", "-", "- x", "-x", ":x", "a: b", "a #b", "a#b", " lead", "trail ", "it's", `q"uote`, "tab\there",
		"multi\nline", "multi\nline\n", long, "/path/to", "type.googleapis.com/envoy.config.Router", "[redacted]", "{x}",
		"*star", "&amp", "!bang", "%pct", "`tick`", "ünï", ".5", ".inf", "<<", "=", "a:b", "x: " + long,
		"Y", "yEs", "NULL", "Off", "/", "a.b-c_d/e", "A1", "n0", "e3", "E", "Inf", "NaN", "nan", "True_", "y.", "truefalse"}
	keys := []string{"a10", "a9", "a_", "A", "_x", "@type", "b2c", "b02c", "b2", "1", "10", "2", "key with space", "z"}
	m := map[string]any{}
	for i, k := range keys {
		m[k] = strs[i%len(strs)]
	}
	nested := map[string]any{
		"map":   m,
		"list":  strs,
		"empty": map[string]any{"m": map[string]any{}, "l": []any{}},
		"seqs":  []any{[]any{"a", []any{"b", "c"}}, []any{}, map[string]any{}, map[string]any{"k": []any{int(1), uint64(1 << 63), 2.5, 1e21, 1e6, -0.0001, true, nil}}},
		"deep":  map[string]any{"d": map[string]any{"e": []any{map[string]any{"f": map[string]any{"g": strs}}}}},
	}
	cases := []any{nested, m, strs, map[string]any{}, []any{}}
	for _, s := range strs {
		cases = append(cases, map[string]any{"k": s}, []any{s}, map[string]any{"gateways": []any{map[string]any{"status": map[string]any{"conditions": []any{map[string]any{"message": s}}}}}})
	}
	covered := 0
	for i, v := range cases {
		if (&blockYAML{scalars: map[string]string{}}).value(v, 0, false) == nil {
			covered++
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want, err := yamlv2.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshalYAML(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("marshalYAML:\n%s\nyaml.v2:\n%s", got, want)
			}
		})
	}
	if covered < len(cases)*3/4 {
		t.Errorf("blockYAML covered %d of %d cases, want most (the rest falls back to yaml.v2)", covered, len(cases))
	}
	for _, v := range strs {
		s := v.(string)
		if plainSafe(s) {
			if want, _ := yamlv2.Marshal(s); string(want) != s+"\n" {
				t.Errorf("plainSafe(%q), but yaml.v2 writes %q", s, want)
			}
		}
	}
	// The covered path itself (no fallback) for the common shapes.
	b := &blockYAML{scalars: map[string]string{}}
	if err := b.value(map[string]any{"a": []any{map[string]any{"@type": "x", "n": 1}}, "s": "1.5"}, 0, false); err != nil {
		t.Errorf("blockYAML declined a plain document: %v", err)
	}
}
