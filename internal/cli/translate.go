package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

func newTranslateCmd() *cobra.Command {
	var (
		in       inputFlags
		output   string
		gateways []string
		opts     = translate.DefaultOptions()
	)
	var controllerName string
	cmd := &cobra.Command{
		Use:   "translate -f FILE|DIR|- [-R] [-o yaml|json]",
		Short: "Print the xDS configuration each Gateway's Envoy would receive (offline)",
		Long: `Translate reads Gateway API manifests (multi-document YAML or JSON; files,
directories with -R, "-" for stdin):
GatewayClasses, Gateways, HTTPRoutes, GRPCRoutes, ReferenceGrants, Services,
EndpointSlices, Secrets and Namespaces. For every Gateway of a GatewayClass
whose controllerName is --controller-name it prints the listeners, route
configurations, clusters, endpoints and TLS secrets its proxy would receive,
with the content version and the listener and route status the controller
would publish. Private keys are redacted. Every Gateway's resources are
validated as Envoy would validate them; nothing is printed if one fails.
Objects translate does not read are listed on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := parseOutput(output, outputYAML, outputJSON)
			if err != nil {
				return err
			}
			format := translate.Format(o)
			opts.ControllerName = gwv1.GatewayController(controllerName)
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			set, err := in.read(cmd.InOrStdin(), cmd.ErrOrStderr(), "translate", translateReads...)
			if err != nil {
				return err
			}
			results := translate.Translate(translate.InputFromSet(set), opts)
			if len(gateways) > 0 {
				if results, err = selectGateways(results, gateways); err != nil {
					return usageError(err)
				}
			}
			for _, r := range results {
				if err := translate.Validate(r.Resources); err != nil {
					return fmt.Errorf("gateway %s: %w", r.Gateway, err)
				}
			}
			if len(results) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: no Gateway of a GatewayClass with controllerName %q\n", controllerName)
			}
			out, err := translate.Marshal(results, format)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	in.bind(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", string(translate.FormatYAML), "output format: yaml or json")
	cmd.Flags().StringArrayVarP(&gateways, "gateway", "g", nil, "print only this Gateway (NAMESPACE/NAME); repeatable")
	cmd.Flags().StringVar(&controllerName, "controller-name", render.DefaultControllerName, "GatewayClass controllerName berth serves")
	cmd.Flags().Int32Var(&opts.PrivilegedPortOffset, "privileged-port-offset", opts.PrivilegedPortOffset, "added to listener ports below 1024 to get the port Envoy binds")
	cmd.Flags().Uint32Var(&opts.XffNumTrustedHops, "xff-num-trusted-hops", opts.XffNumTrustedHops, "X-Forwarded-For hops in front of Envoy that are trusted")
	return cmd
}

// translateReads are the kinds berth translate reads.
var translateReads = []string{"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "Service", "EndpointSlice", "Secret", "Namespace"}

// selectGateways keeps the results of the named Gateways ("namespace/name"),
// in result order; a name that matches no translated Gateway is an error.
func selectGateways(results []*translate.Result, names []string) ([]*translate.Result, error) {
	want := map[string]bool{}
	for _, n := range names {
		if ns, name, ok := strings.Cut(n, "/"); !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--gateway %q: want NAMESPACE/NAME", n)
		}
		want[n] = true
	}
	var out []*translate.Result
	for _, r := range results {
		if want[r.Gateway.String()] {
			out = append(out, r)
			delete(want, r.Gateway.String())
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("no translated Gateway %s", strings.Join(missing, ", "))
	}
	return out, nil
}
