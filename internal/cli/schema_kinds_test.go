package cli

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/crdschema"
)

// Every custom resource kind berth render or translate reads (a kind of the
// Gateway API or of berth's own group) has an embedded CRD, so it is
// schema- and CEL-checked offline: a kind only in the Gateway API's
// experimental channel would have none (crdschema embeds the standard
// channel) and fail here.
func TestReadKindsHaveCRDs(t *testing.T) {
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	v, err := crdschema.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	custom := map[string]bool{gwv1.GroupName: true, v1alpha1.GroupVersion.Group: true}
	checked := 0
	for _, kind := range append(append([]string(nil), renderReads...), translateReads...) {
		var groups []string
		for gvk := range scheme.AllKnownTypes() {
			if gvk.Kind == kind && custom[gvk.Group] {
				groups = append(groups, gvk.Group)
			}
		}
		for _, g := range groups {
			checked++
			if !v.Has(schema.GroupKind{Group: g, Kind: kind}) {
				t.Errorf("berth reads %s.%s but no CRD of it is embedded: it is not validated offline", kind, g)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no custom kind among the kinds berth reads")
	}
}
