package render

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"
)

// YAML writes the bundles as one multi-document YAML stream: per bundle a
// comment header (Gateway, inventory, unsupported fields, warnings) and its
// objects in order. The output is deterministic (keys sorted).
func YAML(bundles []*Bundle) ([]byte, error) {
	var buf bytes.Buffer
	for _, b := range bundles {
		fmt.Fprintf(&buf, "# Gateway %s: inventory ConfigMap %s/%s (%s=%s)\n",
			b.Gateway, b.Inventory.Namespace, b.Inventory.Name, InventoryLabel, b.Inventory.ID)
		for _, u := range b.Unsupported {
			fmt.Fprintf(&buf, "# unsupported: %s\n", u)
		}
		for _, w := range b.Warnings {
			fmt.Fprintf(&buf, "# warning: %s\n", w)
		}
		objects, err := b.Unstructured()
		if err != nil {
			return nil, err
		}
		for _, obj := range objects {
			data, err := yaml.Marshal(obj.Object)
			if err != nil {
				return nil, fmt.Errorf("marshal %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
			}
			buf.WriteString("---\n")
			buf.Write(data)
		}
	}
	return buf.Bytes(), nil
}
