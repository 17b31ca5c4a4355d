package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-gateway/berth/internal/version"
)

// Exit statuses, the same for every command (README "Exit status").
const (
	// ExitOK: done; for berth wait, every Gateway is Programmed.
	ExitOK = 0
	// ExitFailed: the answer is no: a Gateway failed (berth wait), the
	// input was refused (render, translate), or another error.
	ExitFailed = 1
	// ExitTimeout: berth wait's timeout passed first.
	ExitTimeout = 2
	// ExitUsage: the command could not run: a bad flag or argument, an
	// unreadable file, no cluster or no permission to read it.
	ExitUsage = 3
)

// NewRootCmd builds the berth command with every subcommand.
func NewRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth gives every Gateway its own Envoy data plane in the Gateway's namespace",
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// Deprecated flag names still work and say so on stderr (pflag's own
	// notice would go to stdout, into the data).
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		cmd.Flags().Visit(func(f *pflag.Flag) {
			if use := f.Annotations[annotationRenamed]; len(use) == 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: --%s is deprecated, use --%s\n", f.Name, use[0])
			}
		})
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
	// A bad flag is a usage error, whichever command it reaches.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: ExitUsage, err: err} })
	for _, c := range root.Commands() {
		if c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return &exitError{code: ExitUsage, err: err}
				}
				return nil
			}
		}
	}
	return root
}

// annotationRenamed marks a flag kept under an old name; its value is the
// new name.
const annotationRenamed = "berth.dev/renamed"

// renamed registers old as a hidden alias of the flag now called name;
// bind has bound the variable under both.
func renamed(fs *pflag.FlagSet, old, name string) {
	_ = fs.SetAnnotation(old, annotationRenamed, []string{name})
	_ = fs.MarkHidden(old)
}

// exitError carries a specific process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is an error the command could not run past (ExitUsage).
func usageErrorf(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// usageError marks err as ExitUsage (nil stays nil).
func usageError(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitUsage, err: err}
}

// ExitCode is the process exit status for an error a command returned.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	// cobra reports an unknown subcommand before any of ours runs.
	if strings.HasPrefix(err.Error(), "unknown command") {
		return ExitUsage
	}
	return ExitFailed
}
