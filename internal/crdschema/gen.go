//go:build ignore

// gen copies the CRDs crdschema embeds into crds/: the Gateway API
// standard channel of the sigs.k8s.io/gateway-api module at the version
// go.mod pins (CRDs only) and berth's own CRDs from api/crd. Run it with
// go generate ./internal/crdschema.
//
// The standard channel is enough: at v1.6.3 it holds every Gateway API kind
// berth reads (TCPRoute, TLSRoute, UDPRoute, ListenerSet and
// BackendTLSPolicy included). Should berth read a kind that only the
// experimental channel has, internal/cli's TestReadKindsHaveCRDs fails,
// and that kind's file from config/crd/experimental belongs here (and in
// crdschema.SourceFiles, which the test of the copies lists).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"context"

	"github.com/berth-gateway/berth/internal/crdschema"
	"github.com/berth-gateway/berth/internal/localcluster"
)

func main() {
	files, err := sources()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	old, _ := filepath.Glob(filepath.Join("crds", "*.yaml"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, src := range files {
		data, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(filepath.Join("crds", filepath.Base(src)), data, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// sources are the files to copy, as the test that compares the copies
// lists them.
func sources() ([]string, error) {
	gw, err := localcluster.GatewayAPICRDDir(context.Background())
	if err != nil {
		return nil, err
	}
	root, err := localcluster.RepoRoot()
	if err != nil {
		return nil, err
	}
	return crdschema.SourceFiles(gw, filepath.Join(root, "api", "crd"))
}
