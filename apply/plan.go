package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"
)

// Plan is what a Run of the same inventory and objects would do, computed
// without changing the cluster (Engine.Plan).
type Plan struct {
	Inventory InventoryKey
	// InventoryExists is false when the inventory ConfigMap does not exist yet
	// (a Run would create it).
	InventoryExists bool
	// Objects are the objects of the set and those the inventory records but
	// the set no longer holds, sorted by namespace, group, kind, name.
	Objects []PlannedObject
}

// PlannedObject is what a Run would do to one object.
type PlannedObject struct {
	Ref ObjectRef
	// Action is ActionCreated, ActionConfigured, ActionUnchanged, ActionPruned
	// or ActionSkipped (Err says why: an *OwnershipError).
	Action Action
	// Changes are the fields a configure would change (ActionConfigured
	// only), sorted by path.
	Changes []FieldChange
	// Err is the cause of ActionSkipped.
	Err error
	// Live is the object in the cluster now (nil for ActionCreated); Planned
	// the object as the server-side dry run returned it (nil for
	// ActionPruned and ActionSkipped). Both without the fields Plan ignores.
	Live, Planned *unstructured.Unstructured
}

// FieldChange is one field a configure changes: Live is its value now, Planned
// after (nil: absent).
type FieldChange struct {
	// Path names the field: dotted map keys, [name=N] for an element of a
	// list of objects with unique names, [i] for other list elements, and
	// ["key"] for map keys that are not plain identifiers.
	Path    string
	Live    any
	Planned any
}

// Changed reports whether a Run would write or delete anything (the
// inventory's own creation included).
func (p *Plan) Changed() bool {
	if !p.InventoryExists {
		return true
	}
	for _, o := range p.Objects {
		if o.Action != ActionUnchanged && o.Action != ActionSkipped {
			return true
		}
	}
	return false
}

// Plan computes what Run(ctx, inv, objs) would do, without changing anything:
// each object of the set is read and server-side applied with dry run
// (DryRun=All, the engine's field manager and force setting, the same labels
// and owning-inventory annotation Run stamps), and the result compared with
// the live object, ignoring what the server owns (managedFields,
// resourceVersion, generation, uid, creationTimestamp, status); each object
// the inventory records and the set does not is read to see whether Run
// would prune it. Ownership follows Options.InventoryPolicy as in Run.
//
// It needs get on the objects' kinds and the inventory ConfigMaps (list) and
// patch for the dry runs; it does not use the shared watches.
func (e *Engine) Plan(ctx context.Context, inv Inventory, objs []*unstructured.Unstructured) (*Plan, error) {
	if err := inv.validate(); err != nil {
		return nil, err
	}
	desired, err := e.prepare(inv, objs)
	if err != nil {
		return nil, fmt.Errorf("plan inventory %s: %w", inv.Key(), err)
	}
	invInfo := inventory.WrapInventoryInfoObj(e.inventoryTemplate(inv))
	live, runInv, err := e.readInventory(inv, invInfo)
	if err != nil {
		return nil, fmt.Errorf("plan inventory %s: %w", inv.Key(), err)
	}
	p := &Plan{Inventory: inv.Key(), InventoryExists: live != nil}
	inSet := object.ObjMetadataSet{}
	for _, u := range desired {
		po, err := e.planApply(ctx, invInfo, u)
		if err != nil {
			return nil, fmt.Errorf("plan inventory %s: %w", inv.Key(), err)
		}
		inSet = append(inSet, refOf(u).id())
		p.Objects = append(p.Objects, po)
	}
	for _, id := range runInv.objs {
		if inSet.Contains(id) {
			continue
		}
		po, ok, err := e.planPrune(ctx, invInfo, refFromID(id))
		if err != nil {
			return nil, fmt.Errorf("plan inventory %s: %w", inv.Key(), err)
		}
		if ok {
			p.Objects = append(p.Objects, po)
		}
	}
	sort.SliceStable(p.Objects, func(i, j int) bool { return p.Objects[i].Ref.less(p.Objects[j].Ref) })
	return p, nil
}

// resourceFor is the dynamic client of ref's kind and namespace.
func (e *Engine) resourceFor(ref ObjectRef, version string) (dynamic.ResourceInterface, error) {
	gk := ref.id().GroupKind
	var versions []string
	if version != "" {
		versions = []string{version}
	}
	m, err := e.c.mapper.RESTMapping(gk, versions...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	r := e.c.dynamic.Resource(m.Resource)
	if ref.Namespace == "" {
		return r, nil
	}
	return r.Namespace(ref.Namespace), nil
}

// planApply reads u's live object and dry-runs its apply.
func (e *Engine) planApply(ctx context.Context, invInfo inventory.Info, u *unstructured.Unstructured) (PlannedObject, error) {
	ref := refOf(u)
	po := PlannedObject{Ref: ref}
	res, err := e.resourceFor(ref, u.GroupVersionKind().Version)
	if err != nil {
		return po, err
	}
	live, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return po, fmt.Errorf("read %s: %w", ref, err)
	default:
		if ok, _ := inventory.CanApply(invInfo, live, e.policy); !ok {
			po.Action = ActionSkipped
			po.Err = &OwnershipError{Ref: ref, Owner: live.GetAnnotations()[inventory.OwningInventoryKey], Policy: e.opts.InventoryPolicy}
			po.Live = withoutServerFields(live)
			return po, nil
		}
	}
	planned, err := res.Apply(ctx, ref.Name, u, metav1.ApplyOptions{
		FieldManager: e.opts.FieldManager,
		Force:        e.opts.ForceConflicts,
		DryRun:       []string{metav1.DryRunAll},
	})
	if err != nil {
		return po, fmt.Errorf("dry-run apply %s: %w", ref, err)
	}
	po.Planned = withoutServerFields(planned)
	if live == nil {
		po.Action = ActionCreated
		return po, nil
	}
	po.Live = withoutServerFields(live)
	po.Changes = FieldChanges(po.Live.Object, po.Planned.Object)
	po.Action = ActionUnchanged
	if len(po.Changes) > 0 {
		po.Action = ActionConfigured
	}
	return po, nil
}

// planPrune reads an object the inventory records and the set no longer
// holds: absent, nothing happens (ok false); present, Run prunes it if the
// inventory policy lets it, and otherwise leaves it (ActionSkipped).
func (e *Engine) planPrune(ctx context.Context, invInfo inventory.Info, ref ObjectRef) (PlannedObject, bool, error) {
	po := PlannedObject{Ref: ref}
	res, err := e.resourceFor(ref, "")
	if err != nil {
		return po, false, err
	}
	live, err := res.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return po, false, nil
	}
	if err != nil {
		return po, false, fmt.Errorf("read %s: %w", ref, err)
	}
	po.Live = withoutServerFields(live)
	po.Action = ActionPruned
	if ok, _ := inventory.CanPrune(invInfo, live, e.policy); !ok {
		po.Action = ActionSkipped
		po.Err = &OwnershipError{Ref: ref, Owner: live.GetAnnotations()[inventory.OwningInventoryKey], Policy: e.opts.InventoryPolicy}
	}
	return po, true, nil
}

// withoutServerFields copies u without what the server owns and a plan
// ignores: managedFields, resourceVersion, generation, uid,
// creationTimestamp and status.
func withoutServerFields(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	delete(c.Object, "status")
	return c
}

// FieldChanges lists the leaf fields that differ between two JSON-shaped
// objects (maps, lists, scalars as unstructured holds them), sorted by path.
// A list of objects that all carry a unique "name" is compared by name, any
// other list element by element.
func FieldChanges(live, planned map[string]any) []FieldChange {
	var out []FieldChange
	diffValue("", live, planned, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func diffValue(path string, a, b any, out *[]FieldChange) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range av {
				keys[k] = true
			}
			for k := range bv {
				keys[k] = true
			}
			for k := range keys {
				diffValue(joinKey(path, k), av[k], bv[k], out)
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			an, aok := namedElements(av)
			bn, bok := namedElements(bv)
			if aok && bok {
				for n := range an {
					if _, ok := bn[n]; !ok {
						*out = append(*out, FieldChange{Path: path + "[name=" + n + "]", Live: an[n]})
					}
				}
				for n, v := range bn {
					diffValue(path+"[name="+n+"]", an[n], v, out)
				}
				return
			}
			if len(av) == len(bv) {
				for i := range av {
					diffValue(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out)
				}
				return
			}
		}
	}
	if !equalJSON(a, b) {
		*out = append(*out, FieldChange{Path: path, Live: a, Planned: b})
	}
}

// namedElements maps a list of objects to its elements by their "name" field,
// false unless every element is an object with a unique non-empty name.
func namedElements(l []any) (map[string]any, bool) {
	if len(l) == 0 {
		return map[string]any{}, true
	}
	m := make(map[string]any, len(l))
	for _, e := range l {
		o, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := o["name"].(string)
		if !ok || n == "" {
			return nil, false
		}
		if _, dup := m[n]; dup {
			return nil, false
		}
		m[n] = e
	}
	return m, true
}

// joinKey appends a map key to a path, quoted unless it is a plain
// identifier.
func joinKey(path, k string) string {
	plain := k != ""
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(k) + "]"
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// equalJSON compares two JSON-shaped values, numbers by value (int64 and
// float64 both occur in unstructured objects).
func equalJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
