package apply

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/apply/event"
	"sigs.k8s.io/cli-utils/pkg/apply/filter"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// collector turns one cli-utils event stream into a Result, so callers never read
// events. It is pure: prior states (what the object looked like right before the
// apply) come in through priorOf.
type collector struct {
	policy  InventoryPolicy
	manager string
	// priorOf returns the live object read right before id was applied; seen is false
	// when no read happened, obj is nil when the object did not exist.
	priorOf func(id object.ObjMetadata) (obj *unstructured.Unstructured, seen bool)

	objs     map[object.ObjMetadata]*ObjectResult
	applied  map[object.ObjMetadata]*unstructured.Unstructured // apply responses
	timedOut map[object.ObjMetadata]bool
	runErrs  []error
}

func newCollector(policy InventoryPolicy, manager string, priorOf func(object.ObjMetadata) (*unstructured.Unstructured, bool)) *collector {
	return &collector{
		policy:   policy,
		manager:  manager,
		priorOf:  priorOf,
		objs:     map[object.ObjMetadata]*ObjectResult{},
		applied:  map[object.ObjMetadata]*unstructured.Unstructured{},
		timedOut: map[object.ObjMetadata]bool{},
	}
}

func (c *collector) get(id object.ObjMetadata) *ObjectResult {
	o, ok := c.objs[id]
	if !ok {
		o = &ObjectResult{Ref: refFromID(id), Status: StatusUnknown}
		c.objs[id] = o
	}
	return o
}

func (c *collector) fail(id object.ObjMetadata, action Action, err error) {
	o := c.get(id)
	o.Action = action
	o.Err = c.typedError(id, err)
	if o.Err != nil {
		o.Reason = o.Err.Error()
	}
}

// typedError replaces cli-utils' filter errors with this package's typed errors.
func (c *collector) typedError(id object.ObjMetadata, err error) error {
	var pol *inventory.PolicyPreventedActuationError
	if errors.As(err, &pol) {
		oe := &OwnershipError{Ref: refFromID(id), Policy: c.policy}
		if prior, seen := c.priorOf(id); seen && prior != nil {
			oe.Owner = prior.GetAnnotations()[inventory.OwningInventoryKey]
		}
		return oe
	}
	var fatal *filter.FatalError
	if errors.As(err, &fatal) {
		return fatal.Err
	}
	return err
}

func (c *collector) add(e event.Event) {
	switch e.Type {
	case event.ErrorType:
		c.runErrs = append(c.runErrs, e.ErrorEvent.Err)
	case event.ValidationType:
		if len(e.ValidationEvent.Identifiers) == 0 {
			c.runErrs = append(c.runErrs, e.ValidationEvent.Error)
		}
		for _, id := range e.ValidationEvent.Identifiers {
			c.fail(id, ActionFailed, fmt.Errorf("invalid: %w", e.ValidationEvent.Error))
		}
	case event.ApplyType:
		ae := e.ApplyEvent
		switch ae.Status {
		case event.ApplySuccessful:
			o := c.get(ae.Identifier)
			o.Live = ae.Resource
			c.applied[ae.Identifier] = ae.Resource
		case event.ApplySkipped:
			c.fail(ae.Identifier, ActionSkipped, ae.Error)
		case event.ApplyFailed:
			c.fail(ae.Identifier, ActionFailed, ae.Error)
		}
	case event.PruneType:
		pe := e.PruneEvent
		switch pe.Status {
		case event.PruneSuccessful:
			c.get(pe.Identifier).Action = ActionPruned
		case event.PruneSkipped:
			c.fail(pe.Identifier, ActionSkipped, pe.Error)
		case event.PruneFailed:
			c.fail(pe.Identifier, ActionFailed, pe.Error)
		}
	case event.DeleteType:
		de := e.DeleteEvent
		switch de.Status {
		case event.DeleteSuccessful:
			c.get(de.Identifier).Action = ActionDeleted
		case event.DeleteSkipped:
			c.fail(de.Identifier, ActionSkipped, de.Error)
		case event.DeleteFailed:
			c.fail(de.Identifier, ActionFailed, de.Error)
		}
	case event.StatusType:
		se := e.StatusEvent
		if se.PollResourceInfo == nil {
			return
		}
		o := c.get(se.Identifier)
		o.Status = Status(se.PollResourceInfo.Status)
		o.Message = se.PollResourceInfo.Message
	case event.WaitType:
		we := e.WaitEvent
		switch we.Status {
		case event.ReconcileTimeout:
			c.timedOut[we.Identifier] = true
		case event.ReconcileFailed:
			c.get(we.Identifier).Status = StatusFailed
		}
	}
}

// result classifies applied objects, marks desired objects the run never reached as
// failed, and returns the sorted objects and the run error.
func (c *collector) result(desired []object.ObjMetadata) ([]ObjectResult, error) {
	runErr := errors.Join(c.runErrs...)
	for _, id := range desired {
		o := c.get(id)
		if o.Action != "" {
			continue
		}
		resp, ok := c.applied[id]
		if !ok {
			err := runErr
			if err == nil {
				err = errors.New("not applied: the run ended before reaching it")
			}
			c.fail(id, ActionFailed, err)
			continue
		}
		prior, seen := c.priorOf(id)
		switch {
		case seen && prior == nil:
			o.Action = ActionCreated
		case seen && resp != nil && prior.GetResourceVersion() == resp.GetResourceVersion():
			o.Action = ActionUnchanged
		default:
			o.Action = ActionConfigured
		}
		if seen && prior != nil && resp != nil {
			o.Conflicts = takenFields(prior, resp, c.manager)
		}
	}
	for id, o := range c.objs {
		if (o.Action == ActionPruned || o.Action == ActionDeleted) && o.Status == StatusUnknown && !c.timedOut[id] {
			o.Status = StatusNotFound
		}
	}
	out := make([]ObjectResult, 0, len(c.objs))
	for _, o := range c.objs {
		out = append(out, *o)
	}
	sortObjects(out)
	return out, runErr
}

// takenFields lists fields manager owns after an apply that, before it, were owned
// by another manager and not by manager: fields taken back by a forced apply.
func takenFields(prior, after *unstructured.Unstructured, manager string) []string {
	mine, others := ownership(prior, manager)
	afterMine, _ := ownership(after, manager)
	if afterMine == nil || others == nil {
		return nil
	}
	taken := afterMine.Intersection(others)
	if mine != nil {
		taken = taken.Difference(mine)
	}
	var out []string
	taken.Leaves().Iterate(func(p fieldpath.Path) { out = append(out, p.String()) })
	sort.Strings(out)
	return out
}

// ownership returns the fields manager owns through Apply, and the union of
// everything other managers own (main resource only).
func ownership(u *unstructured.Unstructured, manager string) (mine, others *fieldpath.Set) {
	for _, mf := range u.GetManagedFields() {
		if mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			continue
		}
		if mf.Manager == manager && mf.Operation == metav1.ManagedFieldsOperationApply {
			mine = s
			continue
		}
		if others == nil {
			others = s
		} else {
			others = others.Union(s)
		}
	}
	return mine, others
}
