// Package examples holds berth's runnable example manifests (the *.yaml
// files of this folder, listed in README.md) and what their tests share:
// which files are manifests and how berth renders one. Each example renders
// offline as `berth render` does (the tests here) and applies, with the
// bundles rendered from it, on a local cluster (examples/clustertest).
//
// gateway-namespace-mode.yaml and clusterip-envoyproxy.yaml are the
// repository's one copy of the user's seed manifests; every test reads them
// here, and TestSeedCopiesUnchanged checks them against ../shared/seed.
package examples

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/render"
)

// The seed manifests, unchanged.
const (
	GatewayNamespaceMode = "gateway-namespace-mode.yaml"
	ClusterIPEnvoyProxy  = "clusterip-envoyproxy.yaml"
)

// ControllerName is berth's default (the reference's), which every example
// uses so that they work with the default install.
const ControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// HelmValues are the examples that are Helm values, not manifests.
var HelmValues = []string{"namespaced-values.yaml"}

// Manifests lists the example manifests in dir (the examples folder).
func Manifests(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no examples in %s", dir)
	}
	return slices.DeleteFunc(files, func(f string) bool { return slices.Contains(HelmValues, filepath.Base(f)) }), nil
}

// Render renders a file as `berth render -f FILE` does, with a fixed CA
// bundle.
func Render(file string) (*manifest.Set, []*render.Bundle, error) {
	set, err := manifest.ReadFiles([]string{file}, nil)
	if err != nil {
		return nil, nil, err
	}
	opts := render.DefaultOptions()
	opts.CABundle = []byte("-----BEGIN CERTIFICATE-----\nexample\n-----END CERTIFICATE-----\n")
	bundles, err := render.RenderStatic(render.Static{
		GatewayClasses: set.GatewayClasses, Gateways: set.Gateways, EnvoyProxies: set.EnvoyProxies,
	}, ControllerName, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("render %s: %w", file, err)
	}
	return set, bundles, nil
}
