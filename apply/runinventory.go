package apply

import (
	"fmt"
	"sync"

	"sigs.k8s.io/cli-utils/pkg/apis/actuation"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// runInventory is a per-run view of the shared inventory client: the inventory as
// the run read it at the start answers cli-utils' reads of the recorded objects
// (it asks twice before its first task) until the run's first inventory write.
type runInventory struct {
	inventory.Client
	mu    sync.Mutex
	objs  object.ObjMetadataSet
	valid bool
}

// readInventory reads inv's ConfigMap (one list by the inventory-id label, as
// cli-utils finds it) and returns it (nil when absent) with a per-run client
// primed with its objects.
func (e *Engine) readInventory(inv Inventory, invInfo inventory.Info) (*unstructured.Unstructured, *runInventory, error) {
	found, err := e.invClient.GetClusterInventoryObjs(invInfo)
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w", err)
	}
	ri := &runInventory{Client: e.invClient, valid: true}
	switch len(found) {
	case 0:
		return nil, ri, nil
	case 1:
	default:
		return nil, nil, fmt.Errorf("%d ConfigMaps carry inventory id %q", len(found), inv.ID)
	}
	live := found[0]
	if live.GetName() != inv.Name {
		return nil, nil, fmt.Errorf("inventory id %q is held by ConfigMap %s/%s", inv.ID, live.GetNamespace(), live.GetName())
	}
	ri.objs, err = inventory.WrapInventoryObj(live).Load()
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w", err)
	}
	return live, ri, nil
}

func (r *runInventory) invalidate() {
	r.mu.Lock()
	r.valid = false
	r.mu.Unlock()
}

func (r *runInventory) GetClusterObjs(inv inventory.Info) (object.ObjMetadataSet, error) {
	r.mu.Lock()
	if r.valid {
		objs := append(object.ObjMetadataSet(nil), r.objs...)
		r.mu.Unlock()
		return objs, nil
	}
	r.mu.Unlock()
	return r.Client.GetClusterObjs(inv)
}

func (r *runInventory) Merge(inv inventory.Info, objs object.ObjMetadataSet, dryRun common.DryRunStrategy) (object.ObjMetadataSet, error) {
	r.invalidate()
	return r.Client.Merge(inv, objs, dryRun)
}

func (r *runInventory) Replace(inv inventory.Info, objs object.ObjMetadataSet, status []actuation.ObjectStatus, dryRun common.DryRunStrategy) error {
	r.invalidate()
	return r.Client.Replace(inv, objs, status, dryRun)
}

func (r *runInventory) DeleteInventoryObj(inv inventory.Info, dryRun common.DryRunStrategy) error {
	r.invalidate()
	return r.Client.DeleteInventoryObj(inv, dryRun)
}
