package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-gateway/berth/rbac"
)

func newRbacCmd() *cobra.Command {
	o := rbac.DefaultOptions()
	var tlsMode, output string
	cmd := &cobra.Command{
		Use:   "rbac [--watch-namespaces a,b]",
		Short: "Print the RBAC berth's controller needs (the rules the Helm chart installs)",
		Long: `Rbac prints, as YAML, the ClusterRole, Roles and bindings that berth's
controller needs and nothing more. By default the object rights are
cluster-wide; with --watch-namespaces they become Roles in those namespaces
only, and the ClusterRole keeps just GatewayClasses, Namespaces and
TokenReviews. A Role in --controller-namespace covers the leader election Lease and the
xDS TLS Secret. With --watch-namespace-selector the controller needs the
cluster-wide rules (RBAC cannot follow a label selector).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch strings.ToLower(tlsMode) {
			case "managed":
				o.ExternalTLS = false
			case "external":
				o.ExternalTLS = true
			default:
				return usageErrorf("unknown --xds-tls-mode %q (want Managed or External)", tlsMode)
			}
			format, err := parseOutput(output, outputYAML, outputJSON, outputName)
			if err != nil {
				return err
			}
			set, err := rbac.Build(o)
			if err != nil {
				return usageError(err)
			}
			var objs []runtime.Object
			for _, obj := range set.Objects() {
				objs = append(objs, obj.(runtime.Object))
			}
			return printObjects(cmd.OutOrStdout(), format, objs)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Namespace, "controller-namespace", o.Namespace, "berth's own namespace")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "")
	renamed(fs, "namespace", "controller-namespace")
	bindOutput(cmd, &output, outputYAML, "output format: yaml, json or name", outputYAML, outputJSON, outputName)
	fs.StringVar(&o.ServiceAccount, "service-account", o.ServiceAccount, "the controller's ServiceAccount (in --controller-namespace)")
	fs.StringSliceVar(&o.WatchNamespaces, "watch-namespaces", nil, "namespaces the controller watches (default: all)")
	fs.StringVar(&o.Name, "name", o.Name, "name of the ClusterRole, bindings and Roles")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease in --controller-namespace")
	fs.StringVar(&o.XDSTLSSecret, "xds-tls-secret", o.XDSTLSSecret, "xDS TLS Secret in --controller-namespace")
	fs.StringVar(&tlsMode, "xds-tls-mode", "Managed", "Managed: berth creates and rotates the xDS TLS Secret; External: it only reads it")
	return cmd
}
