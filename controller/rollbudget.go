package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/rollbudget"
)

// annotationTemplateHash, on each data-plane Deployment (not on its pod
// template, so it never rolls pods itself), is a digest of the spec.template
// berth last applied: a rendered template whose digest differs from the live
// one would roll the pods. Comparing digests of what berth renders is exact
// (the apiserver's defaulting never enters it) and costs no request: the live
// Deployment is in apply's watch cache. A server-side dry-run would cost one
// request per Gateway per reconcile. It changes only with the template: a
// Deployment's generation counts its annotations too, and a generation
// change alone makes it InProgress for a moment.
const annotationTemplateHash = "gateway.berth.dev/pod-template-hash"

// rolls wires the cluster-wide roll budget into the Gateway reconciler.
type rolls struct {
	budget *rollbudget.Budget
	limit  rollbudget.Limit

	mu    sync.Mutex
	state map[k8stypes.NamespacedName]string // last reported: queued, rolling, stuck
	// own is each Gateway's own inputs as last reconciled (ownInputs): a
	// reconcile that finds them changed asks for its roll with priority Own.
	own map[k8stypes.NamespacedName]string
}

func newRolls(opts Options) (*rolls, error) {
	lim, err := rollbudget.ParseLimit(opts.MaxConcurrentRolls)
	if err != nil {
		return nil, err
	}
	return &rolls{budget: rollbudget.New(time.Now, opts.RollProgressDeadline), limit: lim, state: map[k8stypes.NamespacedName]string{}, own: map[k8stypes.NamespacedName]string{}}, nil
}

// rollOutcome is what the roll budget decided for one reconcile.
type rollOutcome struct {
	// Note is appended to the Programmed message ("" when nothing rolls).
	Note string
	// RecheckAfter is when a rolling Gateway becomes stuck.
	RecheckAfter time.Duration
	// Queued: the budget queued the roll; the Deployment keeps its live
	// pod template.
	Queued bool
	// Err: the live Deployment could not be read; nothing is applied.
	Err error
}

// liveDeployment returns the live Deployment of dep and its kstatus from
// apply's watch. Absent when the inventory, as watched, holds no such
// Deployment (a new Gateway: no request). When the watch cannot tell yet (a
// restart, before it listed), it is read from the apiserver with an Unknown
// status: an upgrade must see the old template even when it reconciles
// before the watches have listed. Nil when absent.
func (c *Controller) liveDeployment(ctx context.Context, dep *unstructured.Unstructured, agg apply.AggregateStatus) (*unstructured.Unstructured, apply.Status, error) {
	listed := false
	for _, o := range agg.Objects {
		if o.Ref.Group == "apps" && o.Ref.Kind == "Deployment" && o.Ref.Name == dep.GetName() {
			if o.Live != nil {
				return o.Live, o.Status, nil
			}
			listed = true
		}
	}
	if !listed && (agg.Known || c.engine.HasSynced()) {
		// Every Deployment berth made is in its inventory.
		return nil, apply.StatusUnknown, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dep.GroupVersionKind())
	if err := c.mgr.GetAPIReader().Get(ctx, client.ObjectKeyFromObject(dep), u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apply.StatusUnknown, nil
		}
		return nil, apply.StatusUnknown, fmt.Errorf("read Deployment %s/%s for the roll budget: %w", dep.GetNamespace(), dep.GetName(), err)
	}
	return u, apply.StatusUnknown, nil
}

// gateRoll decides whether objs may change the Gateway's pod template now.
// When the budget queues the roll, the Deployment keeps its live template
// (the rest of the bundle is applied as rendered, and the Deployment stays
// in the inventory so it is never pruned).
func (c *Controller) gateRoll(ctx context.Context, gw *gwv1.Gateway, ownParams *v1alpha1.EnvoyProxy, objs []*unstructured.Unstructured, live apply.AggregateStatus) rollOutcome {
	key := k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	own := ownInputs(gw, ownParams)
	c.rolls.mu.Lock()
	prevOwn, known := c.rolls.own[key]
	c.rolls.own[key] = own
	c.rolls.mu.Unlock()
	dep := findObject(objs, "apps", "Deployment")
	if dep == nil {
		c.rollFinished(ctx, key)
		return rollOutcome{}
	}
	hash := StampTemplateHash(objs)

	liveDep, liveStatus, err := c.liveDeployment(ctx, dep, live)
	if err != nil {
		// Unknown: hold the whole bundle back rather than roll unbudgeted.
		return rollOutcome{Err: err}
	}
	if liveDep == nil {
		// A new data plane replaces no pods.
		c.rollFinished(ctx, key)
		return rollOutcome{}
	}
	liveHash := liveDep.GetAnnotations()[annotationTemplateHash]
	if liveHash == hash {
		held := c.rolls.budget.Holds(key.String())
		switch {
		case held && liveStatus != apply.StatusCurrent:
			// A roll berth started, not finished yet.
			return c.rollReport(gw, c.rolls.budget.Adopt(key.String()))
		case !held && liveStatus != apply.StatusUnknown && replacingPods(liveDep):
			// Pods of an older template are being replaced: a roll
			// started before a restart.
			return c.rollReport(gw, c.rolls.budget.Adopt(key.String()))
		case liveStatus == apply.StatusUnknown:
			// Read past the watch: its kstatus wakes the Gateway again.
			return rollOutcome{}
		}
		c.rollFinished(ctx, key)
		return rollOutcome{}
	}
	prio := rollbudget.Fleet
	if known && prevOwn != own {
		prio = rollbudget.Own
	}
	d := c.rolls.budget.Request(key.String(), prio, c.rolls.limit, c.servedGateways(ctx))
	c.wake(d.Wake)
	if !d.Go {
		// Keep the live template (and the digest describing it).
		liveTmpl, err := c.liveTemplate(ctx, liveDep)
		if err != nil {
			return rollOutcome{Err: err}
		}
		_ = unstructured.SetNestedMap(dep.Object, liveTmpl, "spec", "template")
		setAnnotations(dep, map[string]string{annotationTemplateHash: liveHash})
	}
	return c.rollReport(gw, d)
}

// liveTemplate is the pod template of the live Deployment dep. apply's
// watched copies drop pod templates (nothing else reads them, and they are
// most of a Deployment's size), so a queued roll reads it from the
// apiserver: one read per reconcile of a queued Gateway.
func (c *Controller) liveTemplate(ctx context.Context, dep *unstructured.Unstructured) (map[string]any, error) {
	if tmpl, found, _ := unstructured.NestedMap(dep.Object, "spec", "template"); found {
		return tmpl, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dep.GroupVersionKind())
	if err := c.mgr.GetAPIReader().Get(ctx, client.ObjectKeyFromObject(dep), u); err != nil {
		return nil, fmt.Errorf("read Deployment %s/%s for the roll budget: %w", dep.GetNamespace(), dep.GetName(), err)
	}
	tmpl, found, _ := unstructured.NestedMap(u.Object, "spec", "template")
	if !found {
		return nil, fmt.Errorf("Deployment %s/%s has no pod template", dep.GetNamespace(), dep.GetName())
	}
	return tmpl, nil
}

// StampTemplateHash annotates the bundle's Deployment (objs, as rendered)
// with the digest of its pod template, as the controller applies it, and
// returns the digest ("" without a Deployment). berth diff stamps the same,
// so that a Programmed Gateway diffs clean.
func StampTemplateHash(objs []*unstructured.Unstructured) string {
	dep := findObject(objs, "apps", "Deployment")
	if dep == nil {
		return ""
	}
	tmpl, _, _ := unstructured.NestedMap(dep.Object, "spec", "template")
	hash := templateHash(tmpl)
	setAnnotations(dep, map[string]string{annotationTemplateHash: hash})
	return hash
}

// replacingPods reports whether the Deployment's controller is replacing
// pods of an older template (it saw the current spec, and not every pod is
// of the current template). A scale-up or a crashed pod is not a roll.
func replacingPods(dep *unstructured.Unstructured) bool {
	gen, _, _ := unstructured.NestedInt64(dep.Object, "status", "observedGeneration")
	if gen < dep.GetGeneration() {
		return false
	}
	want, found, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	if !found {
		want = 1
	}
	updated, _, _ := unstructured.NestedInt64(dep.Object, "status", "updatedReplicas")
	total, _, _ := unstructured.NestedInt64(dep.Object, "status", "replicas")
	return updated < want || total > updated
}

// rollReport turns a decision into an event (on each change of state), the
// Programmed note and the requeue.
func (c *Controller) rollReport(gw *gwv1.Gateway, d rollbudget.Decision) rollOutcome {
	key := k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	budget := "unlimited"
	if d.Slots > 0 {
		budget = fmt.Sprintf("%d", d.Slots)
	}
	var state, note string
	switch {
	case !d.Go:
		state = "queued"
		note = fmt.Sprintf("pod template change queued by the roll budget (position %d of %d when last reconciled; %d of %s slots rolling): the current pods keep serving the published configuration", d.Position, d.Queued, d.Rolling, budget)
	case d.Stuck:
		state = "stuck"
		note = fmt.Sprintf("roll stuck: the Deployment is not fully updated and Available %s after the roll started (--roll-progress-deadline); it holds one of %s roll budget slots until it heals or the Gateway is removed", c.opts.RollProgressDeadline, budget)
	default:
		state = "rolling"
		note = fmt.Sprintf("pod template rolling (one of %s roll budget slots)", budget)
	}
	c.rolls.mu.Lock()
	prev := c.rolls.state[key]
	c.rolls.state[key] = state
	c.rolls.mu.Unlock()
	if prev != state {
		switch state {
		case "queued":
			c.event(gw, corev1.EventTypeNormal, "RollQueued", "Roll", note)
		case "stuck":
			c.event(gw, corev1.EventTypeWarning, "RollStuck", "Roll", note)
		default:
			c.event(gw, corev1.EventTypeNormal, "RollStarted", "Roll", note)
		}
	}
	c.metrics.setRolls(c.rolls.budget.Counts())
	return rollOutcome{Note: note, RecheckAfter: d.RecheckAfter, Queued: !d.Go}
}

// stillQueued reports whether a Gateway whose inputs are those of its last
// clean apply a (which the caller checked) may skip rendering and applying
// as far as the roll budget goes: nothing of it held by the budget, or its
// roll queued then and still queued now — the budget is asked again, its
// outcome set in roll. A rolling Gateway, or a queued one just admitted,
// takes the full path (gateRoll follows the roll).
func (c *Controller) stillQueued(ctx context.Context, gw *gwv1.Gateway, a appliedBundle, roll *rollOutcome) bool {
	key := k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	if !c.rolls.budget.Holds(key.String()) {
		return true
	}
	if !a.queued {
		return false
	}
	// Fleet: a change of the Gateway's own inputs changes a's inputs and
	// takes the full path, where gateRoll asks with priority Own.
	d := c.rolls.budget.Request(key.String(), rollbudget.Fleet, c.rolls.limit, c.servedGateways(ctx))
	c.wake(d.Wake)
	if d.Go {
		return false
	}
	*roll = c.rollReport(gw, d)
	return true
}

// rollFinished releases key's slot or queue place, if any, and wakes the
// Gateways admitted in its place.
func (c *Controller) rollFinished(ctx context.Context, key k8stypes.NamespacedName) {
	if !c.rolls.budget.Holds(key.String()) {
		return
	}
	c.wake(c.rolls.budget.Done(key.String(), c.rolls.limit, c.servedGateways(ctx)))
	c.rolls.mu.Lock()
	prev := c.rolls.state[key]
	delete(c.rolls.state, key)
	c.rolls.mu.Unlock()
	c.metrics.setRolls(c.rolls.budget.Counts())
	if prev != "" && prev != "queued" {
		c.log.V(1).Info("roll finished", "gateway", key)
	}
}

func (c *Controller) wake(keys []string) {
	for _, k := range keys {
		ns, name, _ := strings.Cut(k, "/")
		c.gwQueue.addUrgent(k8stypes.NamespacedName{Namespace: ns, Name: name})
	}
}

// servedGateways is the number of Gateways berth serves (for a percentage
// budget): those of its classes in the cache, so that right after a restart
// the budget is already a share of all of them, not of those reconciled so
// far. With a namespace selector, the Gateways reconciled so far.
func (c *Controller) servedGateways(ctx context.Context) int {
	var classes gwv1.GatewayClassList
	var gws gwv1.GatewayList
	if c.nsSel != nil || c.client.List(ctx, &classes, client.UnsafeDisableDeepCopy) != nil || c.client.List(ctx, &gws, client.UnsafeDisableDeepCopy) != nil {
		return c.conditions.len()
	}
	ours := map[string]bool{}
	for _, cl := range classes.Items {
		ours[cl.Name] = string(cl.Spec.ControllerName) == c.opts.ControllerName
	}
	n := 0
	for _, gw := range gws.Items {
		if ours[string(gw.Spec.GatewayClassName)] {
			n++
		}
	}
	return n
}

// ownInputs identifies the Gateway's own inputs: its generation and its own
// EnvoyProxy's identity and generation (the one render used; nil when none).
// They are kept in memory only: after a restart, a Gateway's first
// reconcile cannot tell its own change from a fleet one and queues as fleet.
func ownInputs(gw *gwv1.Gateway, own *v1alpha1.EnvoyProxy) string {
	s := fmt.Sprintf("gateway:%d", gw.Generation)
	if own != nil {
		s += fmt.Sprintf(",envoyproxy:%s:%d", own.UID, own.Generation)
	}
	return s
}

// templateHash is a digest of a rendered pod template (encoding/json sorts
// map keys, so equal templates hash equal).
func templateHash(tmpl map[string]any) string {
	b, _ := json.Marshal(tmpl)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func findObject(objs []*unstructured.Unstructured, group, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Group == group && gvk.Kind == kind {
			return o
		}
	}
	return nil
}

// setAnnotations sets (or, for an empty value, removes) annotations.
func setAnnotations(u *unstructured.Unstructured, kv map[string]string) {
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	for k, v := range kv {
		if v == "" {
			delete(ann, k)
		} else {
			ann[k] = v
		}
	}
	u.SetAnnotations(ann)
}
