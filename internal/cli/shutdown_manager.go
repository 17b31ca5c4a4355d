package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/berth-gateway/berth/internal/shutdown"
)

// newShutdownManagerCmd is the second container of every Envoy pod: the
// envoy container's preStop hook calls it, and it answers once Envoy has
// drained (see internal/shutdown).
func newShutdownManagerCmd() *cobra.Command {
	opts := shutdown.DefaultOptions()
	logLevel := "info"
	cmd := &cobra.Command{
		Use:   "shutdown-manager",
		Short: "Drain the Envoy of this pod on termination (fail its health check, wait for connections, bounded)",
		Long: `Runs beside Envoy in every berth Envoy pod. The envoy container's preStop hook calls
GET ` + shutdown.ShutdownReadyPath + `; the shutdown manager fails Envoy's health check through its admin API,
waits until no downstream connection is active (at least --min-drain, at most --max-drain) and then
answers, so Envoy gets SIGTERM only after it has drained. Its defaults are what the rendered pod expects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := zapcore.ParseLevel(logLevel)
			if err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg := zap.NewProductionConfig()
			cfg.Level = zap.NewAtomicLevelAt(level)
			log, err := cfg.Build()
			if err != nil {
				return fmt.Errorf("logger: %w", err)
			}
			defer log.Sync()
			opts.Log = log.Named("shutdown-manager")
			m, err := shutdown.New(opts)
			if err != nil {
				return err
			}
			// SIGTERM ends ctx; Serve then keeps going until the drain
			// is over (bounded), since the kubelet signals this container
			// while the envoy container's preStop call is still waiting.
			parent := cmd.Context()
			if parent == nil {
				parent = context.Background()
			}
			ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return m.ListenAndServe(ctx)
		},
	}
	opts.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&logLevel, "log-level", logLevel, "log level (debug, info, warn, error)")
	return cmd
}
