package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// output is an -o format. Every command that prints objects takes
// -o yaml|json (and name where kubectl has it), case-insensitively.
type output string

const (
	outputDefault output = ""
	outputYAML    output = "yaml"
	outputJSON    output = "json"
	outputName    output = "name"
)

// bindOutput binds -o/--output with its shell completion: the formats
// allowed, the first non-empty one the default unless def is empty.
func bindOutput(cmd *cobra.Command, v *string, def output, usage string, allowed ...output) {
	cmd.Flags().StringVarP(v, "output", "o", string(def), usage)
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, a := range allowed {
			if a != outputDefault {
				names = append(names, string(a))
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// parseOutput checks -o against the formats a command supports.
func parseOutput(s string, allowed ...output) (output, error) {
	o := output(strings.ToLower(strings.TrimSpace(s)))
	for _, a := range allowed {
		if o == a {
			return o, nil
		}
	}
	var names []string
	for _, a := range allowed {
		if a != outputDefault {
			names = append(names, string(a))
		}
	}
	return "", usageErrorf("unknown output format %q (want %s)", s, strings.Join(names, ", "))
}

// printObjects writes objects as kubectl does: yaml is a multi-document
// stream (one document per object, ready for kubectl apply -f -), json one
// object or a v1 List of several, name "kind.group/name" lines.
func printObjects(w io.Writer, o output, objs []runtime.Object) error {
	var buf bytes.Buffer
	switch o {
	case outputYAML:
		for _, obj := range objs {
			data, err := yaml.Marshal(obj)
			if err != nil {
				return fmt.Errorf("marshal: %w", err)
			}
			buf.WriteString("---\n")
			buf.Write(data)
		}
	case outputJSON:
		var v any = objs
		switch len(objs) {
		case 1:
			v = objs[0]
		default:
			items := objs
			if items == nil {
				items = []runtime.Object{}
			}
			v = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		}
		data, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return fmt.Errorf("marshal: %w", err)
		}
		buf.Write(data)
		buf.WriteByte('\n')
	case outputName:
		for _, obj := range objs {
			buf.WriteString(objectName(obj) + "\n")
		}
	default:
		return fmt.Errorf("output format %q cannot print objects", o)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// objectName is kubectl's -o name form: "kind.group/name", lower-case kind.
func objectName(obj runtime.Object) string {
	gvk := obj.GetObjectKind().GroupVersionKind()
	kind := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	name := ""
	if m, ok := obj.(interface{ GetName() string }); ok {
		name = m.GetName()
	}
	return kind + "/" + name
}
