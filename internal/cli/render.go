package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/render"
)

// renderFlags are the render.Options flags, shared by every command that
// renders bundles.
type renderFlags struct {
	opts   render.Options
	caFile string
}

func (f *renderFlags) bind(fs *pflag.FlagSet) {
	f.opts = render.DefaultOptions()
	fs.StringVar(&f.opts.ControllerNamespace, "controller-namespace", f.opts.ControllerNamespace, "namespace berth runs in")
	fs.StringVar(&f.opts.XDSHost, "xds-host", f.opts.XDSHost, "DNS name or IP Envoy dials for xDS")
	fs.Int32Var(&f.opts.XDSPort, "xds-port", f.opts.XDSPort, "xDS server port")
	fs.StringVar(&f.opts.XDSServerName, "xds-server-name", f.opts.XDSServerName, "DNS name in the xDS server certificate (default: --xds-host)")
	fs.StringVar(&f.opts.TokenAudience, "token-audience", f.opts.TokenAudience, "audience of the projected token Envoy presents to the xDS server")
	fs.StringVar(&f.opts.EnvoyImage, "envoy-image", f.opts.EnvoyImage, "Envoy image")
	fs.StringVar(&f.opts.ShutdownManagerImage, "shutdown-manager-image", f.opts.ShutdownManagerImage, "berth image running the shutdown-manager container")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM CA bundle of the xDS server certificate (ca.crt in every bundle)")
}

// options returns the bound options with the CA bundle read.
func (f *renderFlags) options() (render.Options, error) {
	o := f.opts
	if f.caFile != "" {
		ca, err := os.ReadFile(f.caFile)
		if err != nil {
			return o, fmt.Errorf("read CA bundle: %w", err)
		}
		o.CABundle = ca
	}
	return o, o.Validate()
}

func newRenderCmd() *cobra.Command {
	var (
		files          []string
		controllerName string
		flags          renderFlags
	)
	cmd := &cobra.Command{
		Use:   "render -f FILE... [-f -]",
		Short: "Print the bundle of objects berth would apply for each Gateway (offline)",
		Long: `Render reads Gateway API manifests (multi-document YAML; "-" is stdin), selects
the GatewayClasses whose controllerName is --controller-name, and prints the
bundle of each of their Gateways as YAML, in namespace/name order. Nothing is
printed unless every Gateway renders.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("no input: give -f FILE (or -f - for stdin)")
			}
			opts, err := flags.options()
			if err != nil {
				return err
			}
			set, err := readManifests(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			bundles, err := render.RenderStatic(render.Static{
				GatewayClasses: set.GatewayClasses,
				Gateways:       set.Gateways,
				EnvoyProxies:   set.EnvoyProxies,
			}, controllerName, opts)
			if err != nil {
				var se *render.StaticError
				if errors.As(err, &se) {
					if o := set.Origin(se.Object); o.Source != "" {
						return fmt.Errorf("%s: %w", o, err)
					}
				}
				return err
			}
			if len(bundles) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: no Gateway of a GatewayClass with controllerName %q\n", controllerName)
			}
			out, err := render.YAML(bundles)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, `manifest file ("-" for stdin); repeatable`)
	cmd.Flags().StringVar(&controllerName, "controller-name", render.DefaultControllerName, "GatewayClass controllerName berth serves")
	flags.bind(cmd.Flags())
	return cmd
}

// readManifests decodes every file in order ("-" is stdin, read once); the
// offline commands share it.
func readManifests(files []string, stdin io.Reader) (*manifest.Set, error) {
	return manifest.ReadFiles(files, stdin)
}
