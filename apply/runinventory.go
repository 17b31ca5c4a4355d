package apply

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"sigs.k8s.io/cli-utils/pkg/apis/actuation"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// runInventory is a per-run view of the shared inventory client: the inventory as
// the run read it at the start answers cli-utils' reads of the recorded objects
// (it asks twice before its first task) until the run's first inventory write.
// The run's own inventory writes keep it known: Merge of the recorded set writes
// nothing, Merge into an absent inventory creates it without listing first, and a
// Replace with the set the inventory already holds writes nothing; cli-utils'
// client would list the inventory once or twice to find that out.
type runInventory struct {
	inventory.Client
	mu     sync.Mutex
	objs   object.ObjMetadataSet
	exists bool // the inventory ConfigMap exists holding objs
	valid  bool // objs and exists are what the cluster holds
	// template is the inventory ConfigMap as cli-utils creates it.
	template *unstructured.Unstructured
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	// conflict: creating the inventory found a ConfigMap of its name.
	conflict bool
	// createAnnotations go onto the inventory when the run creates it (the
	// digests a clean run will record, predicted); createdVersion is the
	// resourceVersion the create returned, until any other inventory write
	// of the run.
	createAnnotations map[string]string
	createdVersion    string
}

// readInventory reads inv's ConfigMap (one list by the inventory-id label, as
// cli-utils finds it) and returns it (nil when absent) with a per-run client
// primed with its objects.
func (e *Engine) readInventory(inv Inventory, invInfo inventory.Info) (*unstructured.Unstructured, *runInventory, error) {
	found, err := e.invClient.GetClusterInventoryObjs(invInfo)
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w", err)
	}
	ri := e.newRunInventory(inv)
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
	ri.exists = true
	return live, ri, nil
}

// newRunInventory is the per-run client of an inventory known to be absent.
func (e *Engine) newRunInventory(inv Inventory) *runInventory {
	return &runInventory{Client: e.invClient, valid: true, template: e.inventoryTemplate(inv), dyn: e.c.dynamic, mapper: e.c.mapper}
}

// createConflict reports whether the run's create of the inventory found a
// ConfigMap of its name (the run believed it absent).
func (r *runInventory) createConflict() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conflict
}

// known returns what the cluster holds when the run knows it.
func (r *runInventory) known() (objs object.ObjMetadataSet, exists, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.objs, r.exists, r.valid
}

// set records what the cluster holds after a write of this run.
func (r *runInventory) set(objs object.ObjMetadataSet) {
	r.mu.Lock()
	r.objs, r.exists, r.valid = append(object.ObjMetadataSet(nil), objs...), true, true
	r.mu.Unlock()
}

// invalidate forgets what the run knew of the inventory: a write through
// cli-utils' client is on its way.
func (r *runInventory) invalidate() {
	r.mu.Lock()
	r.valid, r.createdVersion = false, ""
	r.mu.Unlock()
}

// createdWith returns the resourceVersion of the inventory this run created
// carrying annotations ann, when that create was the run's only inventory
// write.
func (r *runInventory) createdWith(ann map[string]string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.createdVersion == "" || len(ann) == 0 {
		return "", false
	}
	for k, v := range ann {
		if r.createAnnotations[k] != v {
			return "", false
		}
	}
	return r.createdVersion, true
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

// Merge is cli-utils' ClusterClient.Merge (status policy none) without its
// reads when the run knows the inventory: the recorded set merged with itself
// writes nothing, and an absent inventory is created (cli-utils' ConfigMap
// storage reads it first, and would update a ConfigMap of its name that
// does not carry the inventory's id; the create fails on one instead).
func (r *runInventory) Merge(inv inventory.Info, objs object.ObjMetadataSet, dryRun common.DryRunStrategy) (object.ObjMetadataSet, error) {
	cur, exists, ok := r.known()
	switch {
	case !ok || dryRun.ClientOrServerDryRun():
	case exists && objs.Equal(cur):
		return object.ObjMetadataSet{}, nil
	case !exists:
		r.invalidate()
		st := inventory.WrapInventoryObj(r.template.DeepCopy())
		if err := st.Store(objs, nil); err != nil {
			return nil, err
		}
		u, err := st.GetObject()
		if err != nil {
			return nil, err
		}
		if len(r.createAnnotations) > 0 {
			ann := u.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			maps.Copy(ann, r.createAnnotations)
			u.SetAnnotations(ann)
		}
		created, err := r.dyn.Resource(configMapGVR).Namespace(u.GetNamespace()).Create(context.TODO(), u, metav1.CreateOptions{})
		if err != nil {
			if apierrors.IsAlreadyExists(err) {
				r.mu.Lock()
				r.conflict = true
				r.mu.Unlock()
			}
			return nil, err
		}
		r.set(objs)
		r.mu.Lock()
		r.createdVersion = created.GetResourceVersion()
		r.mu.Unlock()
		return nil, nil
	}
	r.invalidate()
	prune, err := r.Client.Merge(inv, objs, dryRun)
	if err == nil && ok && !dryRun.ClientOrServerDryRun() {
		r.set(cur.Union(objs))
	}
	return prune, err
}

// Replace skips cli-utils' reads and write when the run knows the inventory
// already holds objs (cli-utils would write nothing either).
func (r *runInventory) Replace(inv inventory.Info, objs object.ObjMetadataSet, status []actuation.ObjectStatus, dryRun common.DryRunStrategy) error {
	if cur, exists, ok := r.known(); ok && exists && objs.Equal(cur) && !dryRun.ClientOrServerDryRun() {
		return nil
	}
	r.invalidate()
	return r.Client.Replace(inv, objs, status, dryRun)
}

func (r *runInventory) DeleteInventoryObj(inv inventory.Info, dryRun common.DryRunStrategy) error {
	r.invalidate()
	return r.Client.DeleteInventoryObj(inv, dryRun)
}
