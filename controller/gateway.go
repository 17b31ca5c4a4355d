package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
)

// InventoryOf is the apply inventory of Gateway key's bundle (berth diff plans
// against it). Its labels name the Gateway so that the sweep can find
// inventories whose Gateway is gone.
func InventoryOf(key k8stypes.NamespacedName) apply.Inventory {
	return apply.Inventory{
		Namespace: key.Namespace,
		Name:      render.InventoryName(key.Namespace, key.Name),
		ID:        render.InventoryID(key.Namespace, key.Name),
		Labels: map[string]string{
			render.LabelOwningGatewayNamespace: key.Namespace,
			render.LabelOwningGatewayName:      key.Name,
		},
	}
}

// reconcileGateway makes one Gateway's bundle match its spec and reports
// status (leader only).
func (c *Controller) reconcileGateway(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("gateway")
	defer func() { done(err) }()
	key := req.NamespacedName
	inv := InventoryOf(key)
	var read readMark // what the status below was computed from (wakes)
	c.wakes.begin(key)
	defer func() {
		if now, ok := c.engine.Changes(inv.Key()); c.wakes.end(key, read, now, ok) {
			c.gwQueue.addUrgent(key)
		}
	}()
	c.hold(ctx, "gateway", key)
	c.invGateways.Store(inv.Key(), key)

	var gw gwv1.Gateway
	if err := c.client.Get(ctx, key, &gw); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		// Gone without berth's finalizer (forced off, or never served):
		// destroy whatever is left. Deletions are rare, and an absent
		// inventory costs one read.
		c.forget(ctx, key)
		return ctrl.Result{}, c.destroy(ctx, nil, inv)
	}
	if v, ok := c.statusWrites.Load(key); ok {
		w := v.(statusWrite)
		if slices.Contains(w.replaced, gw.ResourceVersion) {
			// The cache has not seen this process's last status write yet:
			// anything written from this copy would conflict. The write's
			// watch event is on its way.
			return ctrl.Result{RequeueAfter: conflictRequeueAfter}, nil
		}
		// The cache has caught up with the writes.
		if time.Since(w.at) > pendingMessageWindow {
			c.statusWrites.Delete(key)
		} else {
			c.statusWrites.Store(key, statusWrite{at: w.at})
		}
	}
	class := c.classOf(ctx, &gw)
	if gw.DeletionTimestamp != nil || class == nil || !c.inScope(ctx, gw.Namespace) {
		// Deleted, moved to another class, or its class is no longer berth's.
		c.forget(ctx, key)
		if !controllerutil.ContainsFinalizer(&gw, render.Finalizer) {
			// Not berth's to clean up: without berth's finalizer the Gateway
			// may belong to another berth installation (another
			// controllerName) whose inventories look just like ours.
			return ctrl.Result{}, nil
		}
		if err := c.destroy(ctx, &gw, inv); err != nil {
			return ctrl.Result{}, err
		}
		fins := slices.DeleteFunc(slices.Clone(gw.Finalizers), func(f string) bool { return f == render.Finalizer })
		return ctrl.Result{}, client.IgnoreNotFound(c.client.Patch(ctx, &gw, finalizersPatch(&gw, fins)))
	}

	// The finalizer goes on before anything is created, so a deletion always
	// finds it.
	if !controllerutil.ContainsFinalizer(&gw, render.Finalizer) {
		from := gw.ResourceVersion
		if err := c.client.Patch(ctx, &gw, finalizersPatch(&gw, append(slices.Clip(gw.Finalizers), render.Finalizer))); err != nil {
			return ctrl.Result{}, err
		}
		c.wrote(key, from, false)
	}

	f := gatewayFacts{Generation: gw.Generation, Requested: render.RequestedAddresses(&gw)}
	var roll rollOutcome
	// One translation gives the bundle its ListenerSets' ports and the
	// status its verdict: a Programmed=True never describes a bundle
	// rendered from an older translation.
	t := c.store.get(key)
	in, renderErr := c.renderInput(ctx, class, &gw, t)
	f.Inputs = readiness.GatewayInputs(&gw, class, in.ClassParameters, in.GatewayParameters)
	if f.XDS, err = c.xdsInputs(ctx, key); err != nil {
		return ctrl.Result{}, err
	}
	// Status says the inputs changed before anything else happens, so no
	// reader takes the previous Programmed=True for the new inputs.
	var prev *recordedInputs
	if v, ok := c.inputs.Load(key); ok {
		r := v.(recordedInputs)
		prev = &r
	}
	if st, changed := inputsChangedStatus(gw.Status, gw.Generation, f.Inputs, f.XDS, prev, metav1.Now()); changed {
		gw.Status = st
		if err := c.writeStatus(ctx, &gw); err != nil {
			return statusWritten(err)
		}
		c.setConditionGauge(key, st.Conditions)
		c.hold(ctx, HoldAfterPending, key)
	}
	c.inputs.Store(key, recordedInputs{Gateway: f.Inputs, XDS: f.XDS})
	var (
		bundle  *render.Bundle
		inputFP string
		caPEM   []byte
	)
	if renderErr == nil {
		caPEM = c.certs.CABundle()
		if in.Others, err = ClaimsBeside(ctx, c.client, c.opts.ControllerName, &gw); err != nil {
			return ctrl.Result{}, err
		}
		inputFP = renderFingerprint(in, caPEM)
	}
	var runErr error
	if v, ok := c.applied.Load(key); ok && renderErr == nil && v.(appliedBundle).inputs == inputFP &&
		c.engine.Settled(inv) && c.stillQueued(ctx, &gw, v.(appliedBundle), &roll) {
		// Nothing to render or apply: the inputs (the other Gateways'
		// claims included) are those of the last clean apply and the
		// bundle holds what it wrote (a wake-up from a bundle object's
		// status; drift or a foreign edit fails Settled), and no roll is
		// under way or newly admitted. Its collisions are those noted then.
		f.Unsupported = v.(appliedBundle).unsupported
		f.Kept = v.(appliedBundle).kept
	} else {
		if renderErr == nil {
			opts := c.opts.Render
			opts.CABundle = caPEM
			bundle = renderFacts(in, opts, &f)
			renderErr = f.RenderErr
		}
		c.noteCollisions(key, bundle, renderErr)
	}
	switch {
	case bundle == nil && renderErr == nil:
		// Unchanged (above).
	case renderErr != nil:
		c.applied.Delete(key)
		// The previous bundle stays as it is: no apply, no prune.
		f.RenderErr = renderErr
		c.event(&gw, corev1.EventTypeWarning, "RenderFailed", "Render", renderErr.Error())
	default:
		objs, err := bundle.Unstructured()
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("bundle of %s: %w", key, err)
		}
		roll = c.gateRoll(ctx, &gw, in.GatewayParameters, objs, c.engine.Status(inv.Key()))
		if roll.Err != nil {
			return ctrl.Result{}, roll.Err
		}
		run, err := c.engine.Run(ctx, inv, objs)
		runErr = err
		f.ApplyErr = err
		f.Failed = run.Failed()
		for _, o := range run.Objects {
			if o.Action == apply.ActionCreated || o.Action == apply.ActionConfigured || o.Action == apply.ActionUnchanged {
				f.Applied = append(f.Applied, o.Ref)
			}
		}
		c.recordRun(&gw, run, err)
		if err == nil && len(f.Failed) == 0 && run.Count(apply.ActionSkipped) == 0 && (roll.Note == "" || roll.Queued) {
			c.applied.Store(key, appliedBundle{inputs: inputFP, unsupported: bundle.Unsupported, kept: bundle.Kept, queued: roll.Queued})
		} else {
			c.applied.Delete(key)
		}
	}
	if v, ok := c.applied.Load(key); ok && renderErr == nil && runErr == nil && v.(appliedBundle).inputs == inputFP {
		read = c.readSettled(ctx, inv)
	}
	f.Objects = c.engine.Status(inv.Key())
	f.Service = c.bundleService(ctx, f.Objects)
	f.Roll = roll.Note
	if t != nil && t.Generation == gw.Generation {
		f.Translation = &t.translated
	}
	if v, ok := c.xds.Published(key); ok {
		f.PublishedVersion = v
	}

	st := gatewayStatus(gw.Status, f, metav1.Now())
	var later time.Duration // a Pending message left for later
	if v, ok := c.statusWrites.Load(key); ok && runErr == nil && pendingMessageOnly(gw.Status, st) {
		later = pendingMessageWindow - time.Since(v.(statusWrite).at)
	}
	if later <= 0 && runErr == nil {
		// A new Gateway's first status waits a little when all it would say
		// is "on its way": a data plane ready by then is one write.
		later = initialStatusHold(gw.Status, st, f, gw.CreationTimestamp.Time, time.Now(), c.opts.InitialStatusDelay)
	}
	// The gauge counts what the Gateway's status says: a status held back
	// (above) or not written is not counted until it is.
	published := gw.Status.Conditions
	if later <= 0 && !awaitFacts(f) && !equality.Semantic.DeepEqual(st, gw.Status) {
		gw.Status = st
		err := c.writeStatus(ctx, &gw)
		if err == nil {
			published = st.Conditions
		}
		c.setConditionGauge(key, published)
		if err != nil {
			if apierrors.IsConflict(err) && runErr == nil {
				// The cache held an older Gateway (our own finalizer patch
				// or another writer got there first): not an error. The
				// newer object's watch event wakes it again; the requeue
				// retries even if that event was already consumed.
				return ctrl.Result{RequeueAfter: conflictRequeueAfter}, nil
			}
			if !apierrors.IsConflict(err) {
				return ctrl.Result{}, client.IgnoreNotFound(err)
			}
			// A conflict with a failed run: the run's error below is the
			// one to report (and retry with backoff).
		}
	} else {
		c.setConditionGauge(key, published)
	}
	if runErr != nil {
		var nsErr *apply.NamespaceTerminatingError
		if errors.As(runErr, &nsErr) {
			return ctrl.Result{RequeueAfter: requeueAfter}, nil
		}
		return ctrl.Result{}, runErr
	}
	if roll.RecheckAfter > 0 && (later == 0 || roll.RecheckAfter < later) {
		later = roll.RecheckAfter
	}
	return ctrl.Result{RequeueAfter: later}, nil
}

// settleWait bounds how long a reconcile whose run ended clean waits for the
// watches to show what the run wrote (its objects, the inventory's
// digests): moments, usually. Its status then describes them, and their
// arrival wakes nothing more (wakes); past the bound they wake the Gateway
// as they arrive.
const settleWait = time.Second

// readSettled waits (settleWait) for inv's bundle to be Settled as last
// applied and returns the change mark the state read after it covers; a
// bundle that does not settle (drift, a foreign edit, the watches behind)
// covers nothing.
func (c *Controller) readSettled(ctx context.Context, inv apply.Inventory) readMark {
	if !c.engine.WaitSettled(ctx, inv, settleWait) {
		return readMark{}
	}
	// The mark before the look that proves it: a change after it is
	// newer than what is read below and wakes the Gateway.
	mark, ok := c.engine.Changes(inv.Key())
	if !ok || !c.engine.Settled(inv) {
		return readMark{}
	}
	return readMark{mark: mark, ok: true}
}

// finalizersPatch is the merge patch that sets gw's finalizers to fins (none:
// null) if gw is still at its resourceVersion: what client.MergeFrom with its
// optimistic lock sends for that change, without encoding the Gateway twice
// and comparing the two.
func finalizersPatch(gw *gwv1.Gateway, fins []string) client.Patch {
	if len(fins) == 0 {
		fins = nil
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": fins, "resourceVersion": gw.ResourceVersion}})
	return client.RawPatch(k8stypes.MergePatchType, b)
}

// renderFacts renders in and records the outcome in f (RenderErr, or the
// bundle's unsupported fields and kept objects): the reconciler's pure step
// between reading the inputs and applying, which berth render and berth
// translate share through render.Render.
func renderFacts(in render.Input, opts render.Options, f *gatewayFacts) *render.Bundle {
	bundle, err := render.Render(in, opts)
	f.RenderErr = err
	if bundle != nil {
		f.Unsupported = bundle.Unsupported
		f.Kept = bundle.Kept
	}
	return bundle
}

// writeStatus writes gw's status, sets gw's resourceVersion to the stored
// one (a reconcile may write twice: the Pending that says its inputs changed,
// then the outcome), and remembers the write (statusWrite). Of the response,
// the whole Gateway as stored (~4 KB of JSON), only the resourceVersion is
// read: the Gateway's watch brings the rest.
func (c *Controller) writeStatus(ctx context.Context, gw *gwv1.Gateway) error {
	from := gw.ResourceVersion
	raw, err := c.gatewayStatus.Put().Namespace(gw.Namespace).Resource("gateways").Name(gw.Name).
		SubResource("status").Body(gw).Do(ctx).Raw()
	if err != nil {
		return err
	}
	c.wrote(client.ObjectKeyFromObject(gw), from, true)
	var stored struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &stored); err != nil || stored.Metadata.ResourceVersion == "" {
		return fmt.Errorf("status of Gateway %s/%s written, but the response has no resourceVersion: %v", gw.Namespace, gw.Name, err)
	}
	gw.ResourceVersion = stored.Metadata.ResourceVersion
	return nil
}

// wrote records that a write of this process replaced resourceVersion from
// of Gateway key (status: the write was the status's).
func (c *Controller) wrote(key k8stypes.NamespacedName, from string, status bool) {
	var w statusWrite
	if v, ok := c.statusWrites.Load(key); ok {
		w = v.(statusWrite)
	}
	w.replaced = append(slices.Clip(w.replaced), from)
	if status {
		w.at = time.Now()
	}
	c.statusWrites.Store(key, w)
}

// renderInput fetches the EnvoyProxy objects gw depends on (RenderInput),
// and the ListenerSets translation t of gw accepted (their ports join the
// bundle's).
func (c *Controller) renderInput(ctx context.Context, class *gwv1.GatewayClass, gw *gwv1.Gateway, t *gatewayTranslation) (render.Input, error) {
	in, err := RenderInput(ctx, c.client, class, gw)
	key := client.ObjectKeyFromObject(gw)
	sets, lerr := c.listenerSetsOf(ctx, key)
	if lerr != nil && err == nil {
		return in, lerr
	}
	in.ListenerSets = acceptedListenerSets(t, sets)
	return in, err
}

// RenderInput reads through r the EnvoyProxy objects gw and its class
// refer to: the controller's render input (berth diff reads it the same way).
// It returns what it found even with an error (a missing EnvoyProxy), so that
// the inputs can be recorded.
func RenderInput(ctx context.Context, r client.Reader, class *gwv1.GatewayClass, gw *gwv1.Gateway) (render.Input, error) {
	in := render.Input{GatewayClass: class, Gateway: gw}
	refs, err := render.ResolveParametersRefs(class, gw)
	if err != nil {
		return in, err
	}
	var errs []error
	in.ClassParameters, err = envoyProxy(ctx, r, "GatewayClass "+class.Name, refs.Class)
	errs = append(errs, err)
	in.GatewayParameters, err = envoyProxy(ctx, r, "Gateway "+gw.Namespace+"/"+gw.Name, refs.Gateway)
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil {
			return in, err
		}
	}
	return in, nil
}

// ClaimsBeside reads through r the claims (render.ClaimOf) of the other
// Gateways in gw's namespace whose GatewayClass has controllerName: bundle
// objects live in their Gateway's namespace, so only those can name the
// same object. A Gateway whose parameters are unusable claims nothing (it
// is refused itself). A Gateway being deleted keeps its claims until it is
// gone (its finalizer is removed once its bundle is destroyed): another
// Gateway naming the same object waits for that instead of applying beside
// a bundle still being destroyed (whose destroy would then find the object
// recreated under the other inventory and leave its own inventory behind).
// The reconciler renders with them (render.Input.Others), and berth diff
// reads them the same way.
func ClaimsBeside(ctx context.Context, r client.Reader, controllerName string, gw *gwv1.Gateway) ([]render.Claim, error) {
	var list gwv1.GatewayList
	// Read only: from a cache, the cached objects themselves.
	if err := r.List(ctx, &list, client.InNamespace(gw.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var out []render.Claim
	classes := map[gwv1.ObjectName]*gwv1.GatewayClass{}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Name == gw.Name {
			continue
		}
		class, seen := classes[other.Spec.GatewayClassName]
		if !seen {
			class = &gwv1.GatewayClass{}
			if err := r.Get(ctx, k8stypes.NamespacedName{Name: string(other.Spec.GatewayClassName)}, class); err != nil || string(class.Spec.ControllerName) != controllerName {
				class = nil
			}
			classes[other.Spec.GatewayClassName] = class
		}
		if class == nil {
			continue
		}
		in, err := RenderInput(ctx, r, class, other)
		if err != nil {
			continue
		}
		if claim, err := render.ClaimOf(in); err == nil {
			out = append(out, claim)
		}
	}
	// In a stable order: the cache lists in no particular order, and the
	// claims enter the render fingerprint (unchanged reconciles skip
	// render and apply only when it is the same).
	slices.SortFunc(out, func(a, b render.Claim) int { return strings.Compare(a.Gateway.String(), b.Gateway.String()) })
	return out, nil
}

// noteCollisions records the Gateways whose bundles name an object of key's
// (render's outcome) and wakes those that joined or left the set: each
// reports the collision from its own side (refused, or keeping the object).
func (c *Controller) noteCollisions(key k8stypes.NamespacedName, bundle *render.Bundle, renderErr error) {
	var cols []render.Collision
	var ce *render.CollisionError
	switch {
	case bundle != nil:
		cols = bundle.Kept
	case errors.As(renderErr, &ce):
		cols = ce.Lost
	}
	now := map[k8stypes.NamespacedName]bool{}
	for _, col := range cols {
		now[col.Other] = true
	}
	var before map[k8stypes.NamespacedName]bool
	if v, ok := c.collisions.Load(key); ok {
		before = v.(map[k8stypes.NamespacedName]bool)
	}
	if len(now) == 0 {
		c.collisions.Delete(key)
	} else {
		c.collisions.Store(key, now)
	}
	for o := range now {
		if !before[o] {
			c.gwQueue.add(o)
		}
	}
	for o := range before {
		if !now[o] {
			c.gwQueue.add(o)
		}
	}
}

// envoyProxy reads a referenced EnvoyProxy; a missing one is a
// *render.ParametersError (InvalidParameters).
func envoyProxy(ctx context.Context, r client.Reader, referrer string, ref *k8stypes.NamespacedName) (*v1alpha1.EnvoyProxy, error) {
	if ref == nil {
		return nil, nil
	}
	var ep v1alpha1.EnvoyProxy
	if err := r.Get(ctx, *ref, &ep); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &render.ParametersError{Referrer: referrer, Ref: "EnvoyProxy " + ref.String(), Reason: render.ParametersNotFound, Err: errors.New("not found")}
		}
		return nil, err
	}
	return &ep, nil
}

// destroy removes a Gateway's bundle and inventory; gw (may be nil) receives
// the events.
func (c *Controller) destroy(ctx context.Context, gw *gwv1.Gateway, inv apply.Inventory) error {
	res, err := c.engine.Destroy(ctx, inv)
	if res != nil {
		c.metrics.actions(res)
	}
	if err != nil {
		if gw != nil {
			c.event(gw, corev1.EventTypeWarning, "DestroyFailed", "Destroy", err.Error())
		}
		return fmt.Errorf("destroy bundle of %s/%s: %w", inv.Namespace, inv.Name, err)
	}
	if gw != nil && res != nil && res.InventoryDeleted {
		c.event(gw, corev1.EventTypeNormal, "Destroyed", "Destroy", fmt.Sprintf("deleted %d objects of the data plane", res.Count(apply.ActionDeleted)))
	}
	return nil
}

// recordRun turns a run's outcome into events and metrics.
func (c *Controller) recordRun(gw *gwv1.Gateway, run *apply.Result, err error) {
	c.metrics.actions(run)
	if err != nil {
		c.event(gw, corev1.EventTypeWarning, "ApplyFailed", "Apply", err.Error())
	}
	for _, o := range run.Objects {
		switch {
		case o.Action == apply.ActionPruned:
			c.event(gw, corev1.EventTypeNormal, "Pruned", "Prune", objectName(o.Ref)+" left the bundle and was deleted")
		case o.Action == apply.ActionSkipped:
			var own *apply.OwnershipError
			if errors.As(o.Err, &own) {
				c.event(gw, corev1.EventTypeWarning, "OwnershipConflict", "Apply", fmt.Sprintf("%s exists and does not belong to this Gateway; left untouched: %s", objectName(o.Ref), o.Reason))
			} else {
				c.event(gw, corev1.EventTypeWarning, "ApplySkipped", "Apply", objectName(o.Ref)+": "+o.Reason)
			}
		case o.Action == apply.ActionFailed:
			c.event(gw, corev1.EventTypeWarning, "ApplyFailed", "Apply", objectName(o.Ref)+": "+o.Reason)
		}
	}
}

func (c *Controller) event(gw *gwv1.Gateway, typ, reason, action, note string) {
	if len(note) > 1000 {
		note = note[:1000]
	}
	c.recorder.Eventf(gw, nil, typ, reason, action, "%s", note)
}

// bundleService returns the bundle's Service once apply's watch shows it:
// read from the controller's cache, whose load-balancer status changes wake
// the Gateway (so the reconcile they wake sees them), or as apply watches it
// while that cache has not seen it yet.
func (c *Controller) bundleService(ctx context.Context, agg apply.AggregateStatus) *corev1.Service {
	for _, o := range agg.Objects {
		if o.Ref.Kind != "Service" || o.Ref.Group != "" || o.Live == nil {
			continue
		}
		var svc corev1.Service
		if err := c.client.Get(ctx, k8stypes.NamespacedName{Namespace: o.Ref.Namespace, Name: o.Ref.Name}, &svc); err == nil && svc.UID == o.Live.GetUID() {
			return &svc
		}
		svc = corev1.Service{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Live.Object, &svc); err == nil {
			return &svc
		}
	}
	return nil
}

// appliedBundle is what reconcileGateway remembers of a Gateway's last clean
// apply: the fingerprint of its render inputs and what render reported.
type appliedBundle struct {
	inputs      string
	unsupported []render.Unsupported
	kept        []render.Collision
	// queued: applied with the live pod template, its roll queued by the
	// budget (stillQueued).
	queued bool
}

// renderFingerprint identifies what render.Render reads of a Gateway's
// inputs: the specs (by generation) of the Gateway, its class, their
// EnvoyProxies and the attached ListenerSets (their ports), the Gateway's
// UID (its owner reference), the other Gateways' claims (collisions) and
// the xDS CA bundle; the other render options are the process's.
func renderFingerprint(in render.Input, caPEM []byte) string {
	h := sha256.New()
	for _, o := range []client.Object{in.Gateway, in.GatewayClass, in.ClassParameters, in.GatewayParameters} {
		if o == nil || reflect.ValueOf(o).IsNil() {
			_, _ = io.WriteString(h, "-\n")
			continue
		}
		_, _ = fmt.Fprintf(h, "%s/%s %s %d\n", o.GetNamespace(), o.GetName(), o.GetUID(), o.GetGeneration())
	}
	for _, ls := range in.ListenerSets {
		_, _ = fmt.Fprintf(h, "ListenerSet %s/%s %s %d\n", ls.Namespace, ls.Name, ls.UID, ls.Generation)
	}
	for _, o := range in.Others {
		_, _ = fmt.Fprintf(h, "claim %s %s", o.Gateway, o.Created.UTC().Format(time.RFC3339))
		for _, k := range o.Objects {
			_, _ = fmt.Fprintf(h, " %s", k)
		}
		_, _ = io.WriteString(h, "\n")
	}
	_, _ = h.Write(caPEM)
	return hex.EncodeToString(h.Sum(nil))
}

// forget drops what the process remembers of a Gateway it no longer serves.
func (c *Controller) forget(ctx context.Context, key k8stypes.NamespacedName) {
	c.conditions.forget(key, c.metrics.setGateways)
	c.rollFinished(ctx, key)
	c.rolls.mu.Lock()
	delete(c.rolls.own, key)
	c.rolls.mu.Unlock()
	c.inputs.Delete(key)
	c.applied.Delete(key)
	c.statusWrites.Delete(key)
	c.wakes.forget(key)
	c.noteCollisions(key, nil, nil) // the others may take over or drop their note
}

func (c *Controller) setConditionGauge(key k8stypes.NamespacedName, conds []metav1.Condition) {
	var v [2]bool
	for _, cd := range conds {
		switch cd.Type {
		case string(gwv1.GatewayConditionAccepted):
			v[0] = cd.Status == metav1.ConditionTrue
		case string(gwv1.GatewayConditionProgrammed):
			v[1] = cd.Status == metav1.ConditionTrue
		}
	}
	c.conditions.set(key, v, c.metrics.setGateways)
}

// statusWritten turns the outcome of a status write into a reconcile
// result: a conflict (the cache held an older object) is retried quietly,
// a deleted object is done, anything else is an error.
func statusWritten(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conflictRequeueAfter}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}
