package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/version"
)

func newVersionCmd() *cobra.Command {
	var (
		asJSON bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "version [-o json|yaml]",
		Short: "Print berth's version, commit and Go version (also berth --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				output = string(outputJSON)
			}
			format, err := parseOutput(output, outputDefault, outputJSON, outputYAML)
			if err != nil {
				return err
			}
			info := version.Get()
			switch format {
			case outputJSON, outputYAML:
				data, err := yaml.Marshal(info)
				if err != nil {
					return err
				}
				if format == outputJSON {
					if data, err = yaml.YAMLToJSON(data); err != nil {
						return err
					}
					data = append(data, '\n')
				}
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), info.String())
			return err
		},
	}
	bindOutput(cmd, &output, outputDefault, "output format: json or yaml (default: one line)", outputJSON, outputYAML)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "print as JSON")
	_ = cmd.Flags().MarkDeprecated("json", "use -o json")
	return cmd
}
