// Command berth gives every Gateway API Gateway its own Envoy data plane in
// the Gateway's own namespace. This file is wiring only: the commands live
// in internal/cli.
package main

import (
	"fmt"
	"os"

	"github.com/berth-gateway/berth/internal/cli"
	_ "github.com/berth-gateway/berth/internal/kubecti18n" // before kubectl's packages: see its doc
)

func main() {
	if err := cli.NewRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(cli.ExitCode(err))
	}
}
