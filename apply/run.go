package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	cliapply "sigs.k8s.io/cli-utils/pkg/apply"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"
	"sigs.k8s.io/cli-utils/pkg/object/validation"
)

var namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// Run makes the cluster hold exactly objs under inv: server-side apply of every
// object (field manager Options.FieldManager), a ConfigMap inventory in
// inv.Namespace recording them, pruning of objects recorded earlier and now absent,
// and a bounded wait (Options.ReconcileTimeout) for kstatus Current.
//
// When the set equals the last set applied cleanly and the shared watches show every
// object still holding what was applied, Run proves it with one read of the
// inventory and writes nothing (Result.NoOp).
//
// The error is non-nil when the run as a whole failed (the inventory could not be
// read or written, the namespace is terminating, ctx ended); the Result then still
// says what happened to each object it reached (the Result is never nil). Object-level failures alone (a skipped object,
// a rejected apply) are reported in the Result, not as an error.
func (e *Engine) Run(ctx context.Context, inv Inventory, objs []*unstructured.Unstructured) (*Result, error) {
	start := time.Now()
	res := &Result{Inventory: inv.Key()}
	if err := inv.validate(); err != nil {
		return res, err
	}
	desired, err := e.prepare(inv, objs)
	if err != nil {
		return res, fmt.Errorf("apply inventory %s: %w", inv.Key(), err)
	}
	digest, err := setDigest(desired, e.writeOpts)
	if err != nil {
		return res, fmt.Errorf("apply inventory %s: %w", inv.Key(), err)
	}
	unlock := e.lock(inv.Key())
	defer unlock()

	// The no-op check reads the inventory from the watch when the watched
	// copy is the one this process last wrote or proved (no request), and
	// from the apiserver otherwise.
	if live, ok := e.watchedInventory(inv); ok && live.GetAnnotations()[annotationSetDigest] == digest && !e.isUnsettled(inv.Key()) {
		if res, ok := e.noOp(ctx, inv, desired, live); ok {
			res.Duration = time.Since(start)
			e.log.V(2).Info("apply: unchanged", "inventory", inv.Key().String(), "objects", len(res.Objects), "read", "watch", "duration", res.Duration)
			return res, nil
		}
	}
	invInfo := inventory.WrapInventoryInfoObj(e.inventoryTemplate(inv))
	var (
		live   *unstructured.Unstructured
		runInv *runInventory
	)
	if e.inventoryAbsent(inv) {
		// A new inventory: nothing to read (created without a read; if
		// it exists after all, the create fails and the run starts over).
		runInv = e.newRunInventory(inv)
	} else if live, runInv, err = e.readInventory(inv, invInfo); err != nil {
		return res, e.runError(ctx, inv, err)
	}
	if live != nil && live.GetAnnotations()[annotationSetDigest] == digest && !e.isUnsettled(inv.Key()) {
		if res, ok := e.noOp(ctx, inv, desired, live); ok {
			e.setProven(inv.Key(), live.GetResourceVersion())
			res.Duration = time.Since(start)
			e.log.V(2).Info("apply: unchanged", "inventory", inv.Key().String(), "objects", len(res.Objects), "read", "apiserver", "duration", res.Duration)
			return res, nil
		}
	}
	res, assumedWrong, err := e.fullRun(ctx, inv, invInfo, runInv, desired, digest, true)
	if assumedWrong {
		// An object or the inventory the watches did not show exists
		// after all (another writer's, or not watched yet): the run starts
		// over from the apiserver's view, as cli-utils alone would have.
		e.log.V(1).Info("apply: an object believed absent exists; running again from the apiserver's view", "inventory", inv.Key().String())
		if _, runInv, err = e.readInventory(inv, invInfo); err != nil {
			return res, e.runError(ctx, inv, err)
		}
		first := res
		res, _, err = e.fullRun(ctx, inv, invInfo, runInv, desired, digest, false)
		res.changedBy(first)
	}
	res.Duration = time.Since(start)
	e.log.V(1).Info("apply: ran", "inventory", inv.Key().String(), "objects", len(res.Objects),
		"created", res.Count(ActionCreated), "configured", res.Count(ActionConfigured), "pruned", res.Count(ActionPruned),
		"skipped", res.Count(ActionSkipped), "failed", res.Count(ActionFailed), "allCurrent", res.AllCurrent(),
		"duration", res.Duration, "error", err)
	return res, err
}

// prepare copies objs and stamps what the engine owns on them: the namespace (for
// namespaced kinds without one), the managed label and the owning-inventory
// annotation.
func (e *Engine) prepare(inv Inventory, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	seen := map[ObjectRef]bool{}
	for _, o := range objs {
		if o == nil {
			return nil, errors.New("nil object")
		}
		u := o.DeepCopy()
		if u.GetNamespace() == "" {
			gvk := u.GroupVersionKind()
			if m, err := e.c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil && m.Scope.Name() == meta.RESTScopeNameNamespace {
				u.SetNamespace(inv.Namespace)
			}
		}
		ref := refOf(u)
		if seen[ref] {
			return nil, fmt.Errorf("%s appears twice", ref)
		}
		seen[ref] = true
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[e.opts.ManagedLabelKey] = e.opts.ManagedLabelValue
		u.SetLabels(labels)
		ann := u.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[inventory.OwningInventoryKey] = inv.ID
		u.SetAnnotations(ann)
		out = append(out, u)
	}
	return out, nil
}

// noOp answers a Run from the shared watches when the inventory records the
// desired set (the last clean run's, or a new inventory's predicted one) and
// the cluster holds it: same set, same recorded objects, every object present,
// ours, not being deleted, and projecting to the recorded owned-fields digest.
func (e *Engine) noOp(ctx context.Context, inv Inventory, desired []*unstructured.Unstructured, live *unstructured.Unstructured) (*Result, bool) {
	ids := object.UnstructuredSetToObjMetadataSet(desired)
	if !inventoryIDs(live, e.log).Equal(ids) {
		return nil, false
	}
	failed, err := e.hub.waitKinds(ctx, ids)
	if err != nil || len(failed) > 0 {
		return nil, false
	}
	res, ok := e.watchedUnchanged(inv, ids, live)
	if ok {
		e.hub.setInventory(inv.Key(), ids, false)
	}
	return res, ok
}

// Settled reports, without a request, whether inventory inv is as this
// engine last applied or proved it: the watched inventory is at the version
// the engine last wrote or proved (its last full run ended clean), and every
// object it records is watched, present, ours, not being deleted and holds
// the recorded owned-fields digest. A caller whose desired set is unchanged
// since that run (it knows its inputs did not change) has nothing to apply;
// any drift, deletion or foreign edit of the inventory makes it false.
func (e *Engine) Settled(inv Inventory) bool {
	if err := inv.validate(); err != nil || e.isUnsettled(inv.Key()) {
		return false
	}
	live, ok := e.watchedInventory(inv)
	if !ok {
		return false
	}
	_, ok = e.watchedUnchangedCheck(inv, inventoryIDs(live, e.log), live, false)
	return ok
}

// watchedUnchanged is the no-op check on the watched objects ids of
// inventory live; a kind not watched yet fails it.
func (e *Engine) watchedUnchanged(inv Inventory, ids object.ObjMetadataSet, live *unstructured.Unstructured) (*Result, bool) {
	return e.watchedUnchangedCheck(inv, ids, live, true)
}

// watchedUnchangedCheck is watchedUnchanged; without result (Settled asks
// only whether) it computes no object's kstatus and returns a nil Result.
func (e *Engine) watchedUnchangedCheck(inv Inventory, ids object.ObjMetadataSet, live *unstructured.Unstructured, result bool) (*Result, bool) {
	res := &Result{Inventory: inv.Key(), NoOp: true}
	cached := make(map[string]string, len(ids))
	for _, id := range ids {
		u, ok := e.hub.lookup(id)
		if !ok || u == nil || u.GetDeletionTimestamp() != nil || u.GetAnnotations()[inventory.OwningInventoryKey] != inv.ID {
			return nil, false
		}
		cached[refFromID(id).String()] = u.GetAnnotations()[cachedOwnedDigest]
		if !result {
			continue
		}
		rs := resourceStatus(id, u)
		res.Objects = append(res.Objects, ObjectResult{
			Ref: refFromID(id), Action: ActionUnchanged, Status: Status(rs.Status), Message: rs.Message, Live: u,
		})
	}
	same := provenUnchanged(cached, live.GetAnnotations()[annotationOwnedDigest])
	if !result || !same {
		return nil, same
	}
	sortObjects(res.Objects)
	return res, true
}

// createOnlyVersion is the resourceVersion a run applies an object with
// when the synced watches show it absent: server-side apply checks a
// resourceVersion in the applied object against an existing object
// (a conflict unless equal) and drops it when it creates one, and no
// object is at "1" (etcd's revision before its first write). So the apply
// creates the object, or changes nothing if it exists after all (an object
// without the managed label is not watched), without the read cli-utils
// makes before each apply to check the object's owning inventory.
const createOnlyVersion = "1"

// inventoryAbsent reports whether inv's ConfigMap is absent from the synced
// inventory watch and this process has not written it.
func (e *Engine) inventoryAbsent(inv Inventory) bool {
	e.locksMu.Lock()
	_, known := e.proven[inv.Key()]
	e.locksMu.Unlock()
	u, ok := e.hub.lookup(object.ObjMetadata{GroupKind: configMapKind, Namespace: inv.Namespace, Name: inv.Name})
	return !known && ok && u == nil
}

// createOnly returns what cli-utils applies: desired, with the objects the
// synced watches show absent applied create-only (createOnlyVersion) and
// their pre-apply reads answered NotFound by rec without a request.
func (e *Engine) createOnly(desired []*unstructured.Unstructured, rec *recorder) ([]*unstructured.Unstructured, map[object.ObjMetadata]bool) {
	out := desired
	ids := map[object.ObjMetadata]bool{}
	for i, d := range desired {
		id := object.UnstructuredToObjMetadata(d)
		k, ok := readKeyFor(e.c.mapper, refFromID(id))
		if !ok {
			continue
		}
		if u, ok := e.hub.lookup(id); !ok || u != nil {
			continue
		}
		if len(ids) == 0 {
			out = slices.Clone(desired)
			rec.absent = map[readKey]bool{}
		}
		c := d.DeepCopy()
		c.SetResourceVersion(createOnlyVersion)
		out[i] = c
		ids[id] = true
		rec.absent[k] = true
	}
	return out, ids
}

// fullRun runs cli-utils' applier and turns its events into a Result. With
// assume, objects and an inventory the watches show absent are created
// without reads (createOnly, inventoryAbsent); assumedWrong reports that one
// existed after all, and the Result is then not the run's last word.
func (e *Engine) fullRun(ctx context.Context, inv Inventory, invInfo inventory.Info, runInv *runInventory, desired []*unstructured.Unstructured, digest string, assume bool) (res *Result, assumedWrong bool, err error) {
	res = &Result{Inventory: inv.Key()}
	e.setUnsettled(inv.Key(), true)
	rec := newRecorder(e.c.dynamic)
	toApply, absent := desired, map[object.ObjMetadata]bool(nil)
	if assume {
		toApply, absent = e.createOnly(desired, rec)
	}
	if _, exists, ok := runInv.known(); ok && !exists {
		// The run creates the inventory: with the digests a clean run
		// will record when the apiserver stores the objects as applied
		// (predict.go), which saves the digest patch after the run.
		if owned, ok := predictedDigests(desired); ok {
			runInv.createAnnotations = map[string]string{annotationSetDigest: digest, annotationOwnedDigest: owned}
		}
	}
	applier, err := cliapply.NewApplierBuilder().
		WithFactory(e.factory).
		WithInventoryClient(runInv).
		WithDynamicClient(rec).
		WithDiscoveryClient(e.c.discovery).
		WithRestMapper(e.c.mapper).
		WithRestConfig(e.c.config).
		WithUnstructuredClientForMapping(e.c.unstructuredClientForMapping).
		WithStatusWatcher(e.hub).
		Build()
	if err != nil {
		return res, false, fmt.Errorf("apply inventory %s: build applier: %w", inv.Key(), err)
	}
	validationPolicy := validation.SkipInvalid
	if e.opts.ValidationPolicy == ValidationExitEarly {
		validationPolicy = validation.ExitEarly
	}
	events := applier.Run(ctx, invInfo, object.UnstructuredSet(toApply), cliapply.ApplierOptions{
		ServerSideOptions: common.ServerSideOptions{
			ServerSideApply: true,
			ForceConflicts:  e.opts.ForceConflicts,
			FieldManager:    e.opts.FieldManager,
		},
		ReconcileTimeout:       e.opts.ReconcileTimeout,
		PruneTimeout:           e.opts.PruneTimeout,
		PrunePropagationPolicy: metav1.DeletePropagationBackground,
		EmitStatusEvents:       true,
		InventoryPolicy:        e.policy,
		ValidationPolicy:       validationPolicy,
	})
	col := newCollector(e.opts.InventoryPolicy, e.opts.FieldManager, func(id object.ObjMetadata) (*unstructured.Unstructured, bool) {
		k, ok := readKeyFor(e.c.mapper, refFromID(id))
		if !ok {
			return nil, false
		}
		return rec.lookup(k)
	})
	for ev := range events {
		col.add(ev)
	}
	ids := object.UnstructuredSetToObjMetadataSet(desired)
	res.Objects, err = col.result(ids)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if runInv.createConflict() && ctx.Err() == nil {
		return res, true, err
	}
	for _, o := range res.Objects {
		if o.Action == ActionFailed && absent[o.Ref.id()] && ctx.Err() == nil {
			return res, true, err
		}
	}

	clean := err == nil
	owned := map[string]string{}
	for _, o := range res.Objects {
		if o.Action == ActionFailed || o.Action == ActionSkipped {
			clean = false
		}
		if ids.Contains(o.Ref.id()) {
			if o.Live == nil {
				clean = false
				continue
			}
			owned[o.Ref.String()] = ownedDigest(o.Live, e.opts.FieldManager)
		}
	}
	if !clean {
		if err != nil {
			return res, false, e.runError(ctx, inv, err)
		}
		if nsErr := e.namespaceTerminating(ctx, inv.Namespace, nil); nsErr != nil {
			return res, false, fmt.Errorf("apply inventory %s: %w", inv.Key(), nsErr)
		}
		return res, false, nil
	}
	e.hub.setInventory(inv.Key(), ids, false)
	recorded := map[string]string{annotationSetDigest: digest, annotationOwnedDigest: combineDigests(owned)}
	if rv, ok := runInv.createdWith(recorded); ok {
		// Created carrying the digests the run ended with: nothing to patch.
		e.setUnsettled(inv.Key(), false)
		e.setProven(inv.Key(), rv)
		return res, false, nil
	}
	rv, err := e.recordDigests(ctx, inv, digest, recorded[annotationOwnedDigest])
	if err != nil {
		// Not fatal: the next Run is a full run instead of a no-op.
		e.log.Error(err, "recording applied digests", "inventory", inv.Key().String())
		return res, false, nil
	}
	e.setUnsettled(inv.Key(), false)
	e.setProven(inv.Key(), rv)
	return res, false, nil
}

// recordDigests stores the set and owned-fields digests on the inventory
// ConfigMap and returns its resourceVersion after the write.
func (e *Engine) recordDigests(ctx context.Context, inv Inventory, set, owned string) (string, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		annotationSetDigest:   set,
		annotationOwnedDigest: owned,
	}}})
	if err != nil {
		return "", err
	}
	u, err := e.c.dynamic.Resource(configMapGVR).Namespace(inv.Namespace).Patch(ctx, inv.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: e.opts.FieldManager})
	if err != nil {
		return "", fmt.Errorf("record digests on inventory %s: %w", inv.Key(), err)
	}
	return u.GetResourceVersion(), nil
}

// runError wraps a run-level error, naming a terminating namespace when that is
// the cause.
func (e *Engine) runError(ctx context.Context, inv Inventory, err error) error {
	if nsErr := e.namespaceTerminating(ctx, inv.Namespace, err); nsErr != nil {
		err = nsErr
	}
	return fmt.Errorf("apply inventory %s: %w", inv.Key(), err)
}

// namespaceTerminating returns a *NamespaceTerminatingError when ns is being
// deleted. Called only after something failed, so it costs nothing in steady state.
func (e *Engine) namespaceTerminating(ctx context.Context, ns string, cause error) error {
	if ctx.Err() != nil {
		ctx = context.Background() // still worth knowing why
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := e.c.dynamic.Resource(namespaceGVR).Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	if u.GetDeletionTimestamp() == nil && phase != "Terminating" {
		return nil
	}
	return &NamespaceTerminatingError{Namespace: ns, Err: cause}
}
