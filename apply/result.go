package apply

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/object"
)

// Inventory identifies one set of objects the engine applies and prunes together.
// Its ConfigMap lives in Namespace (the objects' namespace) under Name.
type Inventory struct {
	// Namespace of the inventory ConfigMap; namespaced objects without a namespace
	// are placed here.
	Namespace string
	// Name of the inventory ConfigMap.
	Name string
	// ID is the inventory id: the value of cli-utils' inventory-id label on the
	// ConfigMap and of the owning-inventory annotation on every object. Objects whose
	// annotation holds another value belong to someone else.
	ID string
	// Labels are extra labels for the inventory ConfigMap (set when it is created),
	// e.g. the owner's identity, so a sweep can find inventories whose owner is gone.
	Labels map[string]string
}

// Key returns the inventory's key.
func (i Inventory) Key() InventoryKey { return InventoryKey{Namespace: i.Namespace, Name: i.Name} }

func (i Inventory) validate() error {
	var errs []error
	if i.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if i.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if i.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("inventory %s: %w", i.Key(), err)
	}
	return nil
}

// InventoryKey names an inventory ConfigMap.
type InventoryKey struct {
	Namespace string
	Name      string
}

func (k InventoryKey) String() string { return k.Namespace + "/" + k.Name }

// InventoryInfo describes an inventory found in the cluster.
type InventoryInfo struct {
	Inventory
	// Objects are the objects the inventory records.
	Objects []ObjectRef
}

// ObjectRef identifies one object.
type ObjectRef struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// String renders "Kind ns/name" (or "Kind name" for cluster-scoped objects), the form
// used in messages.
func (r ObjectRef) String() string {
	kind := r.Kind
	if r.Group != "" {
		kind += "." + r.Group
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

func (r ObjectRef) less(o ObjectRef) bool {
	if r.Namespace != o.Namespace {
		return r.Namespace < o.Namespace
	}
	if r.Group != o.Group {
		return r.Group < o.Group
	}
	if r.Kind != o.Kind {
		return r.Kind < o.Kind
	}
	return r.Name < o.Name
}

func (r ObjectRef) id() object.ObjMetadata {
	return object.ObjMetadata{Namespace: r.Namespace, Name: r.Name, GroupKind: schema.GroupKind{Group: r.Group, Kind: r.Kind}}
}

func refFromID(id object.ObjMetadata) ObjectRef {
	return ObjectRef{Group: id.GroupKind.Group, Kind: id.GroupKind.Kind, Namespace: id.Namespace, Name: id.Name}
}

func refOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Action is what a run did to one object.
type Action string

const (
	// ActionCreated: the object did not exist and was created.
	ActionCreated Action = "created"
	// ActionConfigured: the object existed and the apply changed it.
	ActionConfigured Action = "configured"
	// ActionUnchanged: the object already held what was applied; nothing was written.
	ActionUnchanged Action = "unchanged"
	// ActionPruned: the object left the set and was deleted.
	ActionPruned Action = "pruned"
	// ActionDeleted: the object was deleted by Destroy.
	ActionDeleted Action = "deleted"
	// ActionSkipped: the engine deliberately left the object alone; Reason says why
	// (for example it belongs to someone else).
	ActionSkipped Action = "skipped"
	// ActionFailed: the engine tried and failed, or the run ended before reaching it.
	ActionFailed Action = "failed"
)

// Status is an object's kstatus status.
type Status string

const (
	StatusCurrent     Status = "Current"
	StatusInProgress  Status = "InProgress"
	StatusFailed      Status = "Failed"
	StatusTerminating Status = "Terminating"
	StatusNotFound    Status = "NotFound"
	StatusUnknown     Status = "Unknown"
)

// severity orders statuses from healthy to worst, for aggregation.
func (s Status) severity() int {
	switch s {
	case StatusCurrent:
		return 0
	case StatusInProgress:
		return 1
	case StatusUnknown:
		return 2
	case StatusTerminating:
		return 3
	case StatusNotFound:
		return 4
	case StatusFailed:
		return 5
	}
	return 2
}

// ObjectResult is what one run did to one object and how the object is doing.
type ObjectResult struct {
	Ref    ObjectRef
	Action Action
	// Status and Message are the object's kstatus status when the run ended
	// (for a pruned or deleted object: NotFound once it is gone).
	Status  Status
	Message string
	// Reason explains ActionSkipped and ActionFailed in one line.
	Reason string
	// Err is the typed cause of ActionSkipped / ActionFailed (*OwnershipError,
	// *NamespaceTerminatingError, a validation or API error), nil otherwise.
	Err error
	// Conflicts lists fields another field manager had taken that this run took back
	// (Options.ForceConflicts), as managed-fields paths. Non-empty means drift was
	// restored.
	Conflicts []string
	// Live is the object as last seen (apply response or shared watch), nil when
	// unknown or gone. Read-only. A watched copy lacks some fields (see Live of
	// ObjectStatus).
	Live *unstructured.Unstructured
}

// Result reports one Run or Destroy. Objects are sorted by namespace, group, kind, name.
type Result struct {
	Inventory InventoryKey
	Objects   []ObjectResult
	// NoOp is true when Run proved from the inventory's recorded digests and the
	// shared watches that nothing changed, and therefore wrote nothing.
	NoOp bool
	// InventoryDeleted is true when Destroy confirmed the inventory ConfigMap is gone.
	InventoryDeleted bool
	// Duration is the wall time of the run.
	Duration time.Duration
}

// Object returns the result for ref, or nil.
func (r *Result) Object(ref ObjectRef) *ObjectResult {
	for i := range r.Objects {
		if r.Objects[i].Ref == ref {
			return &r.Objects[i]
		}
	}
	return nil
}

// Count returns how many objects got action a.
func (r *Result) Count(a Action) int {
	n := 0
	for _, o := range r.Objects {
		if o.Action == a {
			n++
		}
	}
	return n
}

// Failed returns the objects the run could not handle: ActionFailed and ActionSkipped.
func (r *Result) Failed() []ObjectResult {
	var out []ObjectResult
	for _, o := range r.Objects {
		if o.Action == ActionFailed || o.Action == ActionSkipped {
			out = append(out, o)
		}
	}
	return out
}

// AllCurrent is true when nothing failed or was skipped and every object that is
// meant to exist is kstatus Current.
func (r *Result) AllCurrent() bool { return r.Blocking() == nil }

// Blocking returns the object holding the set back, worst first: a failed or skipped
// object, then the most severe non-Current status. Nil when AllCurrent.
func (r *Result) Blocking() *ObjectResult {
	var worst *ObjectResult
	rank := func(o *ObjectResult) int {
		switch o.Action {
		case ActionFailed:
			return 100
		case ActionSkipped:
			return 99
		}
		return o.Status.severity()
	}
	for i := range r.Objects {
		o := &r.Objects[i]
		if o.Action == ActionPruned || o.Action == ActionDeleted {
			continue
		}
		if o.Action != ActionFailed && o.Action != ActionSkipped && o.Status == StatusCurrent {
			continue
		}
		if worst == nil || rank(o) > rank(worst) {
			worst = o
		}
	}
	return worst
}

// Message describes the blocking object, e.g. "Deployment.apps ns/x: Available: 0/2",
// or "" when AllCurrent.
func (r *Result) Message() string {
	b := r.Blocking()
	if b == nil {
		return ""
	}
	switch {
	case b.Reason != "":
		return b.Ref.String() + ": " + b.Reason
	case b.Message != "":
		return b.Ref.String() + ": " + b.Message
	}
	return b.Ref.String() + ": " + string(b.Status)
}

func sortObjects(objs []ObjectResult) {
	sort.Slice(objs, func(i, j int) bool { return objs[i].Ref.less(objs[j].Ref) })
}

// ObjectStatus is the watched status of one inventory object.
type ObjectStatus struct {
	Ref     ObjectRef
	Status  Status
	Message string
	// Live is the watched object, nil when not found. Read-only. Watched copies
	// carry no managedFields (the engine keeps a digest of its own fields in an
	// in-memory annotation instead), no pod template of a workload (Deployment,
	// StatefulSet, DaemonSet, ReplicaSet, Job; a Deployment's spec keeps only
	// replicas, progressDeadlineSeconds and paused), no labels (but an
	// inventory's) and no data of a ConfigMap or Secret that is not an
	// inventory: kstatus reads none of them.
	Live *unstructured.Unstructured
}

// AggregateStatus is the status of an inventory's objects as the shared watches see
// them right now.
type AggregateStatus struct {
	Inventory InventoryKey
	// Known is false when the engine has not seen the inventory (yet); Objects is
	// then empty.
	Known bool
	// Status is the worst object status (Current when every object is Current).
	Status  Status
	Objects []ObjectStatus
}

// AllCurrent is true when the inventory is known and every object is Current.
func (a AggregateStatus) AllCurrent() bool { return a.Known && a.Status == StatusCurrent }

// Blocking returns the first object with the worst status, or nil when AllCurrent.
func (a AggregateStatus) Blocking() *ObjectStatus {
	var worst *ObjectStatus
	for i := range a.Objects {
		o := &a.Objects[i]
		if o.Status == StatusCurrent {
			continue
		}
		if worst == nil || o.Status.severity() > worst.Status.severity() {
			worst = o
		}
	}
	return worst
}

// Message describes the blocking object ("Deployment.apps ns/x: Available: 0/2"),
// or "" when nothing blocks.
func (a AggregateStatus) Message() string {
	if !a.Known {
		return "inventory " + a.Inventory.String() + " not seen yet"
	}
	b := a.Blocking()
	if b == nil {
		return ""
	}
	if b.Message != "" {
		return b.Ref.String() + ": " + b.Message
	}
	return b.Ref.String() + ": " + string(b.Status)
}

// OwnershipError: the object exists and the inventory policy forbids taking it.
type OwnershipError struct {
	Ref ObjectRef
	// Owner is the owning-inventory annotation on the live object; "" when it
	// belongs to no inventory.
	Owner  string
	Policy InventoryPolicy
}

func (e *OwnershipError) Error() string {
	owner := "it belongs to no inventory"
	if e.Owner != "" {
		owner = fmt.Sprintf("it belongs to inventory %q", e.Owner)
	}
	return fmt.Sprintf("%s exists and is not owned by this inventory (%s; policy %s does not adopt it)", e.Ref, owner, e.Policy)
}

// NamespaceTerminatingError: the run's namespace is being deleted, so nothing new can
// be created in it.
type NamespaceTerminatingError struct {
	Namespace string
	// Err is the API error that revealed it, if any.
	Err error
}

func (e *NamespaceTerminatingError) Error() string {
	msg := fmt.Sprintf("namespace %q is terminating", e.Namespace)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *NamespaceTerminatingError) Unwrap() error { return e.Err }

// changedBy reports the objects an earlier attempt of the same run created
// or configured, and r found unchanged, as that attempt did.
func (r *Result) changedBy(earlier *Result) {
	changed := map[ObjectRef]ObjectResult{}
	for _, o := range earlier.Objects {
		if o.Action == ActionCreated || o.Action == ActionConfigured {
			changed[o.Ref] = o
		}
	}
	for i := range r.Objects {
		o := &r.Objects[i]
		if e, ok := changed[o.Ref]; ok && o.Action == ActionUnchanged {
			o.Action, o.Conflicts = e.Action, e.Conflicts
		}
	}
}
