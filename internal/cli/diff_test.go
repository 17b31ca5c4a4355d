package cli

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-gateway/berth/apply"
)

func service(name, typ string, ports ...int64) *unstructured.Unstructured {
	var ps []any
	for _, p := range ports {
		ps = append(ps, map[string]any{"name": "http", "port": p, "protocol": "TCP"})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"namespace": "team-a", "name": name},
		"spec":     map[string]any{"type": typ, "ports": ps},
	}}
}

func configured(live, planned *unstructured.Unstructured) apply.PlannedObject {
	return apply.PlannedObject{
		Ref:    apply.ObjectRef{Kind: live.GetKind(), Namespace: live.GetNamespace(), Name: live.GetName()},
		Action: apply.ActionConfigured, Live: live, Planned: planned,
		Changes: apply.FieldChanges(live.Object, planned.Object),
	}
}

// TestDiffOutputGolden: the summary and -o yaml of berth diff for a type
// change, a rename (prune + create) and no change.
func TestDiffOutputGolden(t *testing.T) {
	inv := apply.InventoryKey{Namespace: "team-a", Name: "envoy-team-a-gw-inventory"}
	svc := apply.ObjectRef{Kind: "Service", Namespace: "team-a", Name: "envoy-team-a-gw"}
	sa := apply.ObjectRef{Kind: "ServiceAccount", Namespace: "team-a", Name: "envoy-team-a-gw"}
	plans := map[string]*apply.Plan{
		"team-a/type": {Inventory: inv, InventoryExists: true, Objects: []apply.PlannedObject{
			configured(service(svc.Name, "LoadBalancer", 80), service(svc.Name, "ClusterIP", 80, 443)),
			{Ref: sa, Action: apply.ActionUnchanged},
		}},
		"team-a/rename": {Inventory: inv, InventoryExists: true, Objects: []apply.PlannedObject{
			{Ref: svc, Action: apply.ActionPruned, Live: service(svc.Name, "ClusterIP", 80)},
			{Ref: apply.ObjectRef{Kind: "Service", Namespace: "team-a", Name: "my-gateway"}, Action: apply.ActionCreated, Planned: service("my-gateway", "ClusterIP", 80)},
		}},
		"team-a/same": {Inventory: inv, InventoryExists: true, Objects: []apply.PlannedObject{
			{Ref: svc, Action: apply.ActionUnchanged, Live: service(svc.Name, "ClusterIP", 80), Planned: service(svc.Name, "ClusterIP", 80)},
			{Ref: sa, Action: apply.ActionSkipped, Err: &apply.OwnershipError{Ref: sa, Owner: "other", Policy: apply.PolicyMustMatch}},
		}},
	}
	var diffs []gatewayDiff
	for _, gw := range []string{"team-a/type", "team-a/rename", "team-a/same"} {
		diffs = append(diffs, *diffOf(gw, plans[gw], nil))
	}
	for _, c := range []struct {
		file string
		o    output
	}{{"output/diff.txt", outputDefault}, {"output/diff.yaml", outputYAML}} {
		var b bytes.Buffer
		if err := printDiffs(&b, c.o, diffs); err != nil {
			t.Fatal(err)
		}
		golden(t, c.file, b.String())
	}
	if a := diffs[0].Address; !a.Changes || strings.Join(a.Reasons, "; ") != "type LoadBalancer → ClusterIP; ports 80/TCP → 443/TCP,80/TCP" {
		t.Errorf("type change: address %+v", a)
	}
	if a := diffs[1].Address; !a.Changes || strings.Join(a.Reasons, "; ") != "Service team-a/envoy-team-a-gw is replaced by team-a/my-gateway" {
		t.Errorf("rename: address %+v", a)
	}
	if diffs[2].Changed || diffs[2].Address.Changes {
		t.Errorf("no change: %+v", diffs[2])
	}
}
