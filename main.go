// Command berth gives every Gateway API Gateway its own Envoy data plane in
// the Gateway's own namespace. This file is wiring only: each subcommand is
// built by a new…Cmd function in a cmd_*.go file beside it.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth gives every Gateway its own Envoy data plane in the Gateway's namespace",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newControllerCmd(),
		newRenderCmd(),
		newTranslateCmd(),
		newWaitCmd(),
		newRbacCmd(),
		newShutdownManagerCmd(),
		newVersionCmd(),
	)
	return root
}

// exitError carries a specific process exit code (berth wait uses 1 and 2).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}
