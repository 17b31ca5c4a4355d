package translate

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The model stays Envoy-free: it imports neither go-control-plane nor
// Kubernetes nor Gateway API types (the builders hold every Envoy spelling).
func TestModelImportsNoEnvoy(t *testing.T) {
	files, err := filepath.Glob("model/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no model files: %v", err)
	}
	for _, f := range files {
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(p, ".") {
				t.Errorf("%s imports %s: the model imports the standard library only", f, p)
			}
		}
	}
}

// Every redirect code the model allows has an Envoy code (a missing one
// would silently become 301).
func TestRedirectCodesCoverAllowedCodes(t *testing.T) {
	for _, c := range redirectStatusCodes {
		if _, ok := redirectCodes[c]; !ok {
			t.Errorf("redirect code %d has no Envoy code", c)
		}
	}
	if len(redirectCodes) != len(redirectStatusCodes) {
		t.Errorf("%d Envoy codes for %d allowed codes", len(redirectCodes), len(redirectStatusCodes))
	}
}
