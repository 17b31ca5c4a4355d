package readiness

// This file is an I/O edge: listing the objects of the input kinds, for the
// controller (from its cache) and for berth wait (from the API server).

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ListInputs lists the objects of kinds through r, each kind with the list
// options opts gives (nil: every namespace) plus, for Local kinds when
// namespace is set, that namespace. An optional kind that r does not know
// (its CRD is not installed) is skipped: it has no objects. The error names
// the kind that could not be listed.
func ListInputs(ctx context.Context, r client.Reader, kinds []InputKind, namespace string, opts func(InputKind) []client.ListOption) (Objects, error) {
	objs := Objects{}
	for _, k := range kinds {
		var lo []client.ListOption
		if opts != nil {
			lo = opts(k)
		}
		if k.Local && namespace != "" {
			lo = append(lo, client.InNamespace(namespace))
		}
		l := k.NewList()
		if err := r.List(ctx, l, lo...); err != nil {
			if k.Optional && meta.IsNoMatchError(err) {
				continue
			}
			return nil, fmt.Errorf("list %ss: %w", k.Kind.Kind, err)
		}
		if err := objs.Add(k.Kind.GroupKind(), l); err != nil {
			return nil, fmt.Errorf("list %ss: %w", k.Kind.Kind, err)
		}
	}
	return objs, nil
}
