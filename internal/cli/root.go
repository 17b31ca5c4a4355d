package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// NewRootCmd builds the berth command with every subcommand.
func NewRootCmd() *cobra.Command {
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

// ExitCode is the process exit status for an error a command returned.
func ExitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}
