package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	cliapply "sigs.k8s.io/cli-utils/pkg/apply"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"
	"sigs.k8s.io/cli-utils/pkg/object/validation"
)

// Destroy deletes every object inv records (only those it owns, per
// Options.InventoryPolicy), waits up to Options.DeleteTimeout until each is gone
// (NotFound), then deletes the inventory ConfigMap and confirms it is gone
// (Result.InventoryDeleted). An inventory that does not exist is already destroyed.
//
// The error is non-nil when anything is left behind; the inventory is then kept so
// a later Destroy can finish the job.
func (e *Engine) Destroy(ctx context.Context, inv Inventory) (*Result, error) {
	start := time.Now()
	res := &Result{Inventory: inv.Key()}
	if err := inv.validate(); err != nil {
		return res, err
	}
	unlock := e.lock(inv.Key())
	defer unlock()
	e.setProven(inv.Key(), "") // what follows writes it
	invInfo := inventory.WrapInventoryInfoObj(e.inventoryTemplate(inv))
	live, runInv, err := e.readInventory(inv, invInfo)
	if err != nil {
		return res, e.runError(ctx, inv, err)
	}
	recorded, _ := runInv.GetClusterObjs(invInfo)
	if live == nil {
		// Nothing recorded, nothing to delete; an absent inventory is destroyed.
		e.hub.setInventory(inv.Key(), nil, true)
		e.setUnsettled(inv.Key(), false)
		res.InventoryDeleted = true
		res.Duration = time.Since(start)
		return res, nil
	}
	destroyer, err := cliapply.NewDestroyerBuilder().
		WithFactory(e.factory).
		WithInventoryClient(runInv).
		WithDynamicClient(e.c.dynamic).
		WithDiscoveryClient(e.c.discovery).
		WithRestMapper(e.c.mapper).
		WithRestConfig(e.c.config).
		WithUnstructuredClientForMapping(e.c.unstructuredClientForMapping).
		WithStatusWatcher(e.hub).
		Build()
	if err != nil {
		return res, fmt.Errorf("destroy inventory %s: build destroyer: %w", inv.Key(), err)
	}
	validationPolicy := validation.SkipInvalid
	if e.opts.ValidationPolicy == ValidationExitEarly {
		validationPolicy = validation.ExitEarly
	}
	events := destroyer.Run(ctx, invInfo, cliapply.DestroyerOptions{
		InventoryPolicy:         e.policy,
		DeleteTimeout:           e.opts.DeleteTimeout,
		DeletePropagationPolicy: metav1.DeletePropagationBackground,
		EmitStatusEvents:        true,
		ValidationPolicy:        validationPolicy,
	})
	col := newCollector(e.opts.InventoryPolicy, e.opts.FieldManager, func(object.ObjMetadata) (*unstructured.Unstructured, bool) { return nil, false })
	for ev := range events {
		col.add(ev)
	}
	runErr := errors.Join(col.runErrs...)
	for _, id := range recorded {
		o := col.get(id)
		switch {
		case o.Action != "":
		case runErr != nil:
			o.Action, o.Err = ActionFailed, runErr
			o.Reason = "not deleted: " + runErr.Error()
		default:
			// cli-utils does not delete what it cannot find: already gone.
			o.Action, o.Status = ActionDeleted, StatusNotFound
		}
	}
	res.Objects, err = col.result(nil)
	var left []error
	for _, o := range res.Objects {
		switch {
		case o.Action != ActionDeleted:
			left = append(left, fmt.Errorf("%s %s: %s", o.Ref, o.Action, o.Reason))
		case col.timedOut[o.Ref.id()]:
			left = append(left, fmt.Errorf("%s still exists after %s", o.Ref, e.opts.DeleteTimeout))
		}
	}
	// Confirm with the API server, not the watch: the caller removes a finalizer on this.
	getCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, getErr := e.c.dynamic.Resource(configMapGVR).Namespace(inv.Namespace).Get(getCtx, inv.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(getErr):
		res.InventoryDeleted = true
		e.hub.setInventory(inv.Key(), nil, true)
		e.setUnsettled(inv.Key(), false)
	case getErr != nil:
		left = append(left, fmt.Errorf("confirm inventory deleted: %w", getErr))
	default:
		left = append(left, errors.New("inventory still exists"))
	}
	res.Duration = time.Since(start)
	e.log.V(1).Info("apply: destroyed", "inventory", inv.Key().String(), "deleted", res.Count(ActionDeleted),
		"inventoryDeleted", res.InventoryDeleted, "duration", res.Duration, "error", err, "left", len(left))
	if err != nil {
		return res, e.runError(ctx, inv, err)
	}
	if len(left) > 0 {
		return res, fmt.Errorf("destroy inventory %s: %w", inv.Key(), errors.Join(left...))
	}
	return res, nil
}
