package api

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesAreCurrent regenerates the CRD and the deep-copy code
// with the pinned controller-gen and compares them with the committed
// files, so that a type change without `go generate ./api/...` fails.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds controller-gen")
	}
	tmp := t.TempDir()
	crdDir := filepath.Join(tmp, "crd")
	cmd := exec.Command("go", "tool", "-modfile=../hack/tools/controller-gen/go.mod", "controller-gen",
		"crd:maxDescLen=0", "paths=./...", "output:crd:dir="+crdDir,
		"object", "output:object:dir="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, out)
	}
	compare := func(generated, committed string) {
		t.Helper()
		got, err := os.ReadFile(generated)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./api/...", committed)
		}
	}
	crds, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRD generated: %v", err)
	}
	for _, c := range crds {
		compare(c, filepath.Join("crd", filepath.Base(c)))
	}
	compare(filepath.Join(tmp, "zz_generated.deepcopy.go"), filepath.Join("v1alpha1", "zz_generated.deepcopy.go"))
}
