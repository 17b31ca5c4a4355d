package manifest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// corpusDocuments are the YAML documents of every .yaml file of the
// repository (examples, seed manifests, testdata, chart) and of the shared
// seed directory.
func corpusDocuments(t testing.TB) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	for _, root := range []string{filepath.Join("..", ".."), filepath.Join("..", "..", "..", "shared", "seed")} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, doc := range splitDocuments(data) {
				docs[path+":"+strconv.Itoa(doc.line)] = doc.data
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if len(docs) < 100 {
		t.Fatalf("only %d corpus documents", len(docs))
	}
	return docs
}

var reusedConv fastConv

// checkFast fails when the fast path accepts doc but yaml.v2 (through
// sigs.k8s.io/yaml, the general path) refuses it or makes other JSON.
func checkFast(t *testing.T, name string, doc []byte) bool {
	t.Helper()
	got, ok := fastYAMLToJSON(doc)
	// A converter reused over every document (as each decoding worker
	// reuses one) must give the same.
	again, okAgain := reusedConv.convert(doc)
	if ok != okAgain || !bytes.Equal(got, again) {
		t.Fatalf("%s: reused converter: %v %s, fresh: %v %s", name, okAgain, again, ok, got)
	}
	if !ok {
		return false
	}
	want, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%s: fast path accepted what yaml.v2 refuses (%v):\n%s", name, err, doc)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: fast path\n%s\nyaml.v2\n%s\ninput:\n%s", name, got, want, doc)
	}
	return true
}

// TestFastYAMLMatchesYAMLv2: on every document of the repository's YAML
// the fast path either declines or makes yaml.v2's JSON byte for byte; it
// takes every document of the scale benchmark's input and most of the
// examples.
func TestFastYAMLMatchesYAMLv2(t *testing.T) {
	docs := corpusDocuments(t)
	fast, user, userFast := 0, 0, 0
	for name, doc := range docs {
		took := checkFast(t, name, doc)
		if took {
			fast++
		}
		// Manifests as users write them (the examples and the seed), not
		// CRDs or chart templates, which use block scalars and flow style.
		if strings.Contains(name, "examples"+string(filepath.Separator)) || strings.Contains(name, "seed"+string(filepath.Separator)) {
			user++
			if took {
				userFast++
			}
		}
	}
	t.Logf("fast path took %d of %d corpus documents, %d of %d user manifests", fast, len(docs), userFast, user)
	if user == 0 || userFast < user*3/4 {
		t.Errorf("fast path took only %d of %d user manifests (examples/, seed)", userFast, user)
	}
	scale, err := os.ReadFile(filepath.Join("testdata", "scaleinput.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range splitDocuments(scale) {
		if !checkFast(t, "scaleinput.yaml:"+strconv.Itoa(doc.line), doc.data) {
			t.Errorf("scaleinput.yaml:%d: fast path declined:\n%s", doc.line, doc.data)
		}
	}
}

// fastCases are small documents on the edges of the subset: the fast path
// must take the first group and decline the second (where yaml.v2 reads
// something other than a plain string or refuses).
var fastTaken = []string{
	"",
	"# only a comment\n",
	"a: b\n",
	"a: b # comment\nc: 'it''s' # c\nd: \"x: y # z\"\n",
	"a:\n- 1\n- two\n-\n- \"<&>\"\n",
	"a:\n  - b: 1\n    c:\n    - x\n  -   d: 2\n",
	"- - a\n  - b\n- c\n",
	"a: [\"10.0.0.1\", '10.0.0.2', 10.0.0.3, x]\nb: []\nc: {}\nd: [ ]\n",
	"a: true\nb: false\nc: null\nd:\ne: 0\nf: 123456789012345678\n",
	"k.io/x-y_z: a b  c\n_u: /p/a#b\nz: a'b\"c\n",
	"b: 2\na: 1\nB: 3\n",
	"a:\n  b:\n    c: d\n  e: f\ng: h\n",
	"  a: 1\n  b: 2\n",
	"'q k': v\n\"d\": w\n",
	"a: \"\"\nb: ''\n",
	"- a\n",
}

var fastDeclined = []string{
	"a: yes\n", "a: No\n", "a: ON\n", "a: True\n", "a: NULL\n", "a: ~\n", "y: 1\n", "on: 1\n",
	"a: 0755\n", "a: 1.5\n", "a: 1e3\n", "a: 0x1F\n", "a: -1\n", "a: +1\n", "a: .inf\n", "a: 1_000\n",
	"a: 2024-01-01\n", "a: 1234567890123456789\n", "a: 10s\n",
	"a: &x 1\nb: *x\n", "a: !!str 1\n", "<<: {}\n", "%YAML 1.1\n", "? a\n: b\n",
	"a: |\n  x\n", "a: >\n  x\n", "a: b\n  c\n", "a: \"x\\ny\"\n", "a: \"x\n  y\"\n", "a: 'x\n",
	"a: {b: c}\n", "a: [b, [c]]\n", "a: [b: c]\n", "a: [b\n", "a:\tb\n", "a: b\r\n", "a: é\n",
	"a: 1\na: 2\n", "a: b: c\n", "a: b:\n", "a:b\n", "1: a\n", "a b: c\n", "a\n", "- a\nb: c\n",
	"a:\n  b: 1\n c: 2\n", "a: \"x\"y\n", "a: [x]y\n", "a: [x]#c\n", "\"a\" : b\n", "a: @x\n", "a: `x\n",
	"a: ...\n", "...\n", "---\n",
}

func TestFastYAMLSubset(t *testing.T) {
	// yaml.v2 refuses implicit keys over 1024 bytes.
	long := strings.Repeat("k", 1023)
	fastDeclined := append(fastDeclined, long+"xx: v\n", `"`+long+`": v\n`, "a:\n- "+long+"xx: v\n")
	fastTaken := append(fastTaken, long[:990]+": v\n", `"`+long[:990]+`": v\n`)
	// Duplicate keys among many (the set past 16 keys).
	var many strings.Builder
	for i := range 40 {
		fmt.Fprintf(&many, "k%d: v\n", 39-i)
	}
	fastTaken = append(fastTaken, many.String())
	fastDeclined = append(fastDeclined, many.String()+"k7: w\n", many.String()+"'k39': w\n")
	for _, doc := range fastTaken {
		if !checkFast(t, "taken", []byte(doc)) {
			t.Errorf("fast path declined %q", doc)
		}
	}
	for _, doc := range fastDeclined {
		if checkFast(t, "declined", []byte(doc)) {
			t.Errorf("fast path took %q", doc)
		}
	}
}

// FuzzFastYAMLToJSON: whatever the fast path takes, yaml.v2 reads the same.
func FuzzFastYAMLToJSON(f *testing.F) {
	for _, doc := range corpusDocuments(f) {
		f.Add(doc)
	}
	for _, doc := range append(fastTaken, fastDeclined...) {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkFast(t, "fuzz", doc)
	})
}

// BenchmarkYAMLToJSON converts the documents of testdata/scaleinput.yaml
// (the shape of the whole-process benchmark input) through the fast path
// and through yaml.v2.
func BenchmarkYAMLToJSON(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "scaleinput.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	docs := splitDocuments(data)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				if _, ok := fastYAMLToJSON(d.data); !ok {
					b.Fatal("declined")
				}
			}
		}
	})
	b.Run("yaml.v2", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				if _, err := yaml.YAMLToJSONStrict(d.data); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
