package cli

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/rbac"
)

func newRbacCmd() *cobra.Command {
	o := rbac.DefaultOptions()
	var tlsMode string
	cmd := &cobra.Command{
		Use:   "rbac [--watch-namespaces a,b]",
		Short: "Print the RBAC berth's controller needs (the rules the Helm chart installs)",
		Long: `Rbac prints, as YAML, the ClusterRole, Roles and bindings that berth's
controller needs and nothing more. By default the object rights are
cluster-wide; with --watch-namespaces they become Roles in those namespaces
only, and the ClusterRole keeps just GatewayClasses, Namespaces and
TokenReviews. A Role in --namespace covers the leader election Lease and the
xDS TLS Secret. With --watch-namespace-selector the controller needs the
cluster-wide rules (RBAC cannot follow a label selector).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch tlsMode {
			case "Managed":
				o.ExternalTLS = false
			case "External":
				o.ExternalTLS = true
			default:
				return fmt.Errorf("unknown --xds-tls-mode %q (want Managed or External)", tlsMode)
			}
			out, err := rbacYAML(o)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "berth's own namespace")
	fs.StringVar(&o.ServiceAccount, "service-account", o.ServiceAccount, "the controller's ServiceAccount (in --namespace)")
	fs.StringSliceVar(&o.WatchNamespaces, "watch-namespaces", nil, "namespaces the controller watches (default: all)")
	fs.StringVar(&o.Name, "name", o.Name, "name of the ClusterRole, bindings and Roles")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease in --namespace")
	fs.StringVar(&o.XDSTLSSecret, "xds-tls-secret", o.XDSTLSSecret, "xDS TLS Secret in --namespace")
	fs.StringVar(&tlsMode, "xds-tls-mode", "Managed", "Managed: berth creates and rotates the xDS TLS Secret; External: it only reads it")
	return cmd
}

// rbacYAML renders the RBAC of o as a multi-document YAML stream, keys
// sorted; the chart tests compare the chart's RBAC with it.
func rbacYAML(o rbac.Options) ([]byte, error) {
	set, err := rbac.Build(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, obj := range set.Objects() {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("marshal %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes(), nil
}
