package crdschema_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/localcluster"
)

// Every embedded Gateway API CRD is the standard channel's, at the version
// go.mod pins: offline validation checks each kind against the schema a
// cluster with the standard channel installed has. (Every kind berth reads
// is in the standard channel at v1.6.3, TCPRoute, TLSRoute, UDPRoute,
// ListenerSet and BackendTLSPolicy included; internal/cli's
// TestReadKindsHaveCRDs fails when berth reads one that is not.)
func TestEmbeddedChannel(t *testing.T) {
	// The module's directory in the module cache: .../gateway-api@VERSION.
	dir, err := localcluster.GatewayAPICRDDir(context.Background())
	if err != nil {
		t.Skipf("the gateway-api module is not available: %v", err)
	}
	_, pinned, ok := strings.Cut(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(dir)))), "@")
	if !ok || pinned == "" {
		t.Fatalf("no version in the gateway-api module directory %s", dir)
	}
	files, err := filepath.Glob(filepath.Join("crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if crd.Spec.Group != "gateway.networking.k8s.io" {
			continue
		}
		n++
		if ch := crd.Annotations["gateway.networking.k8s.io/channel"]; ch != "standard" {
			t.Errorf("%s: channel %q, want standard", f, ch)
		}
		if v := crd.Annotations["gateway.networking.k8s.io/bundle-version"]; v != pinned {
			t.Errorf("%s: bundle-version %q, go.mod pins %s: run go generate ./internal/crdschema", f, v, pinned)
		}
	}
	if n == 0 {
		t.Fatal("no Gateway API CRD embedded")
	}
}
