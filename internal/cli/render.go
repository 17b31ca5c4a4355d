package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/internal/version"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

// renderFlags are the render.Options flags, shared by every command that
// renders bundles.
type renderFlags struct {
	opts   render.Options
	caFile string
	fs     *pflag.FlagSet
}

func (f *renderFlags) bind(fs *pflag.FlagSet) {
	f.fs = fs
	f.opts = render.DefaultOptions()
	// The shutdown-manager runs this very binary's image, as the chart does.
	f.opts.ShutdownManagerImage = version.Image()
	fs.StringVar(&f.opts.ControllerNamespace, "controller-namespace", f.opts.ControllerNamespace, "berth's own namespace (the xDS Service's; --xds-host defaults from it)")
	fs.StringVar(&f.opts.XDSHost, "xds-host", f.opts.XDSHost, "DNS name or IP Envoy dials for xDS; follows --controller-namespace unless set")
	fs.Int32Var(&f.opts.XDSPort, "xds-port", f.opts.XDSPort, "xDS server port")
	fs.StringVar(&f.opts.XDSServerName, "xds-server-name", f.opts.XDSServerName, "DNS name in the xDS server certificate (default: --xds-host)")
	fs.StringVar(&f.opts.TokenAudience, "xds-audience", f.opts.TokenAudience, "audience of the projected token Envoy presents to the xDS server (the controller's --xds-audience)")
	fs.StringVar(&f.opts.TokenAudience, "token-audience", f.opts.TokenAudience, "")
	renamed(fs, "token-audience", "xds-audience")
	fs.StringVar(&f.opts.EnvoyImage, "envoy-image", f.opts.EnvoyImage, "Envoy image")
	fs.StringVar(&f.opts.ShutdownManagerImage, "shutdown-manager-image", f.opts.ShutdownManagerImage, "berth image running the shutdown-manager container")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM CA bundle of the xDS server certificate (ca.crt in every bundle)")
}

// options returns the bound options with the CA bundle read.
func (f *renderFlags) options() (render.Options, error) {
	o := f.opts
	if f.fs != nil && f.fs.Changed("controller-namespace") && !f.fs.Changed("xds-host") {
		o.XDSHost = "" // derived from --controller-namespace
	}
	if f.caFile != "" {
		ca, err := os.ReadFile(f.caFile)
		if err != nil {
			return o, usageErrorf("read CA bundle: %w", err)
		}
		o.CABundle = ca
	}
	return o, usageError(o.Validate())
}

// renderReads are the kinds berth render reads.
var renderReads = []string{"GatewayClass", "Gateway", "EnvoyProxy", "ListenerSet"}

func newRenderCmd() *cobra.Command {
	var (
		in             inputFlags
		controllerName string
		output         string
		flags          renderFlags
	)
	cmd := &cobra.Command{
		Use:   "render -f FILE|DIR|- [-R] [-o yaml|json|name]",
		Short: "Print the bundle of objects berth would apply for each Gateway (offline)",
		Long: `Render reads Gateway API manifests (multi-document YAML or JSON; files,
directories with -R, "-" for stdin), selects the GatewayClasses whose
controllerName is --controller-name, and prints the bundle of each of their
Gateways, in namespace/name order: -o yaml (a multi-document stream ready for
kubectl apply -f -), json (a v1 List) or name. Each bundle's inventory, the
EnvoyProxy fields berth ignores and other warnings go to stderr, as do the
objects render does not read. Nothing is printed unless every Gateway
renders.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			batchGCFromEnv()
			format, err := parseOutput(output, outputYAML, outputJSON, outputName)
			if err != nil {
				return err
			}
			opts, err := flags.options()
			if err != nil {
				return err
			}
			set, err := in.read(cmd.InOrStdin(), cmd.ErrOrStderr(), "render", renderReads...)
			if err != nil {
				return err
			}
			// Which ListenerSets each Gateway accepts is the translation's
			// decision, as in the controller.
			var accepted map[k8stypes.NamespacedName][]*gwv1.ListenerSet
			if len(set.ListenerSets) > 0 {
				to := translate.DefaultOptions()
				to.ControllerName = gwv1.GatewayController(controllerName)
				to.PrivilegedPortOffset = opts.PrivilegedPortOffset
				accepted = acceptedListenerSets(set, translate.Translate(translate.InputFromSet(set), to))
			}
			bundles, err := renderSet(set, controllerName, opts, accepted)
			if err != nil {
				return err
			}
			if len(bundles) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: no Gateway of a GatewayClass with controllerName %q\n", controllerName)
			}
			var objs []runtime.Object
			for _, b := range bundles {
				fmt.Fprintf(cmd.ErrOrStderr(), "Gateway %s: %d objects, inventory ConfigMap %s/%s (%s=%s)\n",
					b.Gateway, len(b.Objects), b.Inventory.Namespace, b.Inventory.Name, render.InventoryLabel, b.Inventory.ID)
				for _, u := range b.Unsupported {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: Gateway %s: unsupported: %s\n", b.Gateway, u)
				}
				for _, w := range b.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: Gateway %s: %s\n", b.Gateway, w)
				}
				us, err := b.Unstructured()
				if err != nil {
					return err
				}
				for _, u := range us {
					objs = append(objs, u)
				}
			}
			if len(objs) == 0 {
				return nil
			}
			return printObjects(cmd.OutOrStdout(), format, objs)
		},
	}
	in.bind(cmd.Flags())
	bindOutput(cmd, &output, outputYAML, "output format: yaml, json or name", outputYAML, outputJSON, outputName)
	cmd.Flags().StringVar(&controllerName, "controller-name", render.DefaultControllerName, "GatewayClass controllerName berth serves")
	flags.bind(cmd.Flags())
	return cmd
}

// renderSet renders every Gateway of set, with the ListenerSets its
// translation accepted (accepted, by Gateway), naming the input position of
// the object an error is about.
func renderSet(set *manifest.Set, controllerName string, opts render.Options, accepted map[k8stypes.NamespacedName][]*gwv1.ListenerSet) ([]*render.Bundle, error) {
	bundles, err := render.RenderStatic(render.Static{
		GatewayClasses: set.GatewayClasses,
		Gateways:       set.Gateways,
		EnvoyProxies:   set.EnvoyProxies,
		ListenerSets:   accepted,
	}, controllerName, opts)
	if err != nil {
		var se *render.StaticError
		if errors.As(err, &se) {
			if o := set.Origin(se.Object); o.Source != "" {
				return nil, fmt.Errorf("%s: %w", o, err)
			}
		}
		return nil, err
	}
	return bundles, nil
}

// acceptedListenerSets are, per translated Gateway, the ListenerSets of set
// its translation accepted (translate.AcceptedListenerSets).
func acceptedListenerSets(set *manifest.Set, results []*translate.Result) map[k8stypes.NamespacedName][]*gwv1.ListenerSet {
	out := map[k8stypes.NamespacedName][]*gwv1.ListenerSet{}
	for _, r := range results {
		if sets := translate.AcceptedListenerSets(r.ListenerSets, set.ListenerSets); len(sets) > 0 {
			out[r.Gateway] = sets
		}
	}
	return out
}
