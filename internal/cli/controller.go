package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/zapr"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/version"
	"github.com/berth-gateway/berth/render"
)

func newControllerCmd() *cobra.Command {
	var (
		kubeconfig string
		logLevel   string
		uninstall  bool
		opts       = controller.DefaultOptions()
	)
	opts.ControllerName = render.DefaultControllerName
	// The shutdown-manager runs this very binary's image.
	opts.Render.ShutdownManagerImage = version.Image()
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the reconciler and the xDS server",
		Long: `Controller reconciles the Gateways of every GatewayClass whose controllerName is
--controller-name: it renders each Gateway's Envoy data plane into the Gateway's
namespace, applies it with server-side apply under an inventory (pruning what
leaves it), reports Accepted and Programmed, and serves each proxy its xDS
configuration. Every replica serves xDS; with --leader-elect one replica
applies and writes status.

--uninstall destroys every data plane berth manages and removes berth's
finalizer from every Gateway, then exits: run it (with the controller
stopped) before removing berth, so that no Gateway is left stuck.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			zl, err := newZap(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = zl.Sync() }()
			log := zapr.NewLogger(zl)
			ctrl.SetLogger(log)
			if limit := serviceGC(os.Getenv, memlimit.FromCgroup); limit > 0 {
				log.Info("soft memory limit set from the container's", "bytes", limit)
			}
			opts.Logger = log
			opts.XDS.Logger = zl.Named("xds")
			opts.Certs.Logger = zl.Named("certs")
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			ctx := ctrl.SetupSignalHandler()
			if uninstall {
				return controller.Uninstall(ctx, cfg, opts)
			}
			c, err := controller.New(cfg, opts)
			if err != nil {
				return err
			}
			return c.Run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error (any case)")
	fs.BoolVar(&uninstall, "uninstall", false, "destroy every data plane, remove berth's finalizers, and exit")
	opts.BindFlags(fs)
	renamed(fs, "namespace", "controller-namespace")
	return cmd
}

// restConfig loads --kubeconfig, or in-cluster config, or $KUBECONFIG.
func restConfig(path string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// newZap builds the structured JSON logger.
func newZap(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(strings.ToLower(level))
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	return zc.Build()
}
