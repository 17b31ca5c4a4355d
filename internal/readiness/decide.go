package readiness

// This file is pure: the state berth wait observes and the decision it takes
// from it. No client, no clock.

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Phase is where a Gateway stands.
type Phase string

const (
	// Waiting: not ready yet, and waiting longer may help.
	Waiting Phase = "Waiting"
	// Ready: Programmed=True for the current generation.
	Ready Phase = "Ready"
	// Failed: the Gateway cannot become ready without someone changing
	// something (its spec, its parameters, a conflicting object).
	Failed Phase = "Failed"
)

// Reasons berth wait gives for a failure of its own finding; the others are
// the Gateway's condition reasons.
const (
	// ReasonNotFound: the Gateway does not exist (or was deleted while
	// waiting). kubectl wait fails the same way.
	ReasonNotFound = "NotFound"
	// ReasonDeleting: the Gateway carries a deletionTimestamp.
	ReasonDeleting = "Deleting"
	// ReasonObjectFailed: a bundle object is kstatus Failed (a Deployment
	// past its progress deadline), the case where `kubectl rollout status`
	// gives up too.
	ReasonObjectFailed = "ObjectFailed"
)

// Key names a Gateway.
type Key struct {
	Namespace string
	Name      string
}

func (k Key) String() string { return k.Namespace + "/" + k.Name }

// Gateway is what berth wait knows of one Gateway.
type Gateway struct {
	Key
	// Found is false when the Gateway is not in the cluster.
	Found      bool
	Deleting   bool
	Generation int64
	Conditions []metav1.Condition
}

// GatewayFromUnstructured reads a watched Gateway. Conditions that do not
// decode are dropped (the CRD's schema makes that impossible in practice).
func GatewayFromUnstructured(u *unstructured.Unstructured) Gateway {
	g := Gateway{
		Key:        Key{Namespace: u.GetNamespace(), Name: u.GetName()},
		Found:      true,
		Deleting:   u.GetDeletionTimestamp() != nil,
		Generation: u.GetGeneration(),
	}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		c.Type, _, _ = unstructured.NestedString(m, "type")
		s, _, _ := unstructured.NestedString(m, "status")
		c.Status = metav1.ConditionStatus(s)
		c.Reason, _, _ = unstructured.NestedString(m, "reason")
		c.Message, _, _ = unstructured.NestedString(m, "message")
		c.ObservedGeneration, _, _ = unstructured.NestedInt64(m, "observedGeneration")
		if c.Type != "" {
			g.Conditions = append(g.Conditions, c)
		}
	}
	return g
}

// Condition returns the condition of type t, or nil.
func (g Gateway) Condition(t string) *metav1.Condition {
	for i := range g.Conditions {
		// kubectl wait compares types case-insensitively; so do we.
		if strings.EqualFold(g.Conditions[i].Type, t) {
			return &g.Conditions[i]
		}
	}
	return nil
}

// Fresh reports whether c describes the Gateway's current generation, by
// kubectl wait's rule: an observedGeneration below metadata.generation is
// stale; an absent one (0) is taken as current.
func (g Gateway) Fresh(c *metav1.Condition) bool {
	return c.ObservedGeneration == 0 || c.ObservedGeneration >= g.Generation
}

// Object is the observed state of one bundle object.
type Object struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
	// Status is the object's kstatus; NotFound when it does not exist,
	// Unknown while its kind's watch has not listed yet.
	Status  kstatus.Status
	Message string
}

// String is "Kind name", the form progress lines use (the namespace is the
// Gateway's).
func (o Object) String() string { return o.Kind + " " + o.Name }

func (o Object) id() string { return o.Group + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name }

// ObjectFromUnstructured computes u's kstatus.
func ObjectFromUnstructured(u *unstructured.Unstructured) Object {
	gvk := u.GroupVersionKind()
	o := Object{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
	res, err := kstatus.Compute(u)
	if err != nil {
		o.Status, o.Message = kstatus.UnknownStatus, err.Error()
		return o
	}
	o.Status, o.Message = res.Status, res.Message
	return o
}

// Bundle is what berth wait knows of a Gateway's bundle.
type Bundle struct {
	// Inventory is the inventory ConfigMap's key; InventoryFound whether it
	// exists. Before it exists, Objects are the objects carrying the
	// Gateway's bundle labels (an apply in progress); afterwards, exactly
	// the objects the inventory lists.
	Inventory      Key
	InventoryFound bool
	Objects        []Object
}

// Snapshot is one Gateway and its bundle at one moment, and, when the wait
// is for a ListenerSet, that ListenerSet (whose parent the Gateway is).
type Snapshot struct {
	Gateway Gateway
	Bundle  Bundle
	// Set is the ListenerSet waited for; nil when waiting for the Gateway.
	Set *ListenerSet
}

// Verdict is the decision for what the snapshot waits for: the ListenerSet
// (DecideListenerSet) or the Gateway (Decide).
func (s Snapshot) Verdict() Verdict {
	if s.Set != nil {
		return DecideListenerSet(*s.Set, s)
	}
	return Decide(s)
}

// Subject names what the snapshot waits for: "Gateway ns/name" or
// "ListenerSet ns/name".
func (s Snapshot) Subject() string {
	if s.Set != nil {
		return "ListenerSet " + s.Set.Key.String()
	}
	return "Gateway " + s.Gateway.Key.String()
}

// Verdict is the decision for one Gateway.
type Verdict struct {
	Phase Phase
	// Reason is a condition reason (Invalid, InvalidParameters, Pending, …)
	// or one of berth wait's own (ReasonNotFound, …).
	Reason  string
	Message string
}

func (v Verdict) String() string {
	if v.Message == "" {
		return v.Reason
	}
	return v.Reason + ": " + v.Message
}

// waitingAccepted are the Accepted=False reasons that mean "not decided
// yet" rather than "rejected".
var waitingAccepted = map[string]bool{
	string(gwv1.GatewayReasonPending):       true,
	string(gwv1.GatewayReasonNotReconciled): true, // Pending's deprecated name
}

// failedProgrammed are the Programmed=False reasons that only a change of
// the Gateway or its parameters can clear.
var failedProgrammed = map[string]bool{
	string(gwv1.GatewayReasonInvalid): true,
}

// Decide is the rule berth wait exits by. In order:
//
//  1. Gateway not found → Failed (NotFound), as kubectl wait fails.
//  2. Programmed=True and fresh (observedGeneration absent or ≥
//     metadata.generation) → Ready. This is exactly kubectl wait
//     --for=condition=Programmed, so the two always agree on success, and
//     bundle objects do not veto it (the controller already required them
//     Current before it said Programmed).
//  3. Gateway being deleted → Failed (Deleting).
//  4. Accepted=False, fresh, with any reason but Pending (or its deprecated
//     NotReconciled) → Failed: the controller looked at this generation and
//     rejected it (Invalid, InvalidParameters, UnsupportedAddress,
//     ListenersNotValid, or an implementation's own reason).
//  5. Programmed=False, fresh, reason Invalid → Failed.
//  6. A bundle object kstatus Failed (Deployment ProgressDeadlineExceeded)
//     → Failed (ObjectFailed), where `kubectl rollout status` gives up too.
//  7. Anything else → Waiting: Programmed Unknown, Pending,
//     AddressNotAssigned (a load balancer may still assign one), NoResources
//     (capacity may still appear), implementation-specific Programmed
//     reasons, stale conditions of an older generation (the controller has
//     not caught up), objects InProgress, NotFound or Terminating.
//
// Stale conditions never fail a wait: they describe a spec that is gone.
func Decide(s Snapshot) Verdict {
	g := s.Gateway
	if !g.Found {
		return Verdict{Phase: Failed, Reason: ReasonNotFound, Message: "Gateway " + g.Key.String() + " not found"}
	}
	prog := g.Condition(string(gwv1.GatewayConditionProgrammed))
	if prog != nil && g.Fresh(prog) && strings.EqualFold(string(prog.Status), string(metav1.ConditionTrue)) {
		return Verdict{Phase: Ready, Reason: prog.Reason, Message: prog.Message}
	}
	if g.Deleting {
		return Verdict{Phase: Failed, Reason: ReasonDeleting, Message: "Gateway " + g.Key.String() + " is being deleted"}
	}
	if acc := g.Condition(string(gwv1.GatewayConditionAccepted)); acc != nil && g.Fresh(acc) &&
		acc.Status == metav1.ConditionFalse && !waitingAccepted[acc.Reason] {
		return Verdict{Phase: Failed, Reason: acc.Reason, Message: "Accepted=False: " + acc.Message}
	}
	if prog != nil && g.Fresh(prog) && prog.Status == metav1.ConditionFalse && failedProgrammed[prog.Reason] {
		return Verdict{Phase: Failed, Reason: prog.Reason, Message: "Programmed=False: " + prog.Message}
	}
	for _, o := range sortedObjects(s.Bundle.Objects) {
		if o.Status == kstatus.FailedStatus {
			return Verdict{Phase: Failed, Reason: ReasonObjectFailed, Message: o.String() + ": " + o.Message}
		}
	}
	return Verdict{Phase: Waiting, Reason: waitingReason(prog, g), Message: waitingMessage(prog, g)}
}

// Confirm returns why verdict v, decided from an earlier read, does not
// hold for g, a later read of the same Gateway ("" when it does): berth
// wait checks a verdict and the inputs on one read (Current), never the
// verdict of one read with the inputs of another. A bundle object's
// failure (ReasonObjectFailed) is not the Gateway's status to confirm.
func Confirm(v Verdict, g Gateway) string {
	if v.Reason == ReasonObjectFailed {
		return ""
	}
	if now := Decide(Snapshot{Gateway: g}); now.Phase != v.Phase {
		return "its status changed since it was " + string(v.Phase) + " (now " + now.String() + ")"
	}
	return ""
}

func waitingReason(prog *metav1.Condition, g Gateway) string {
	switch {
	case prog == nil:
		return "NoProgrammedCondition"
	case !g.Fresh(prog):
		return "Stale"
	case prog.Reason == "":
		return "Programmed" + string(prog.Status)
	}
	return prog.Reason
}

func waitingMessage(prog *metav1.Condition, g Gateway) string {
	switch {
	case prog == nil:
		return "the Gateway has no Programmed condition yet"
	case !g.Fresh(prog):
		return fmt.Sprintf("Programmed=%s describes generation %d, the Gateway is at generation %d", prog.Status, prog.ObservedGeneration, g.Generation)
	}
	return "Programmed=" + string(prog.Status) + ": " + prog.Message
}

// NotReady lists, for a timeout report, what still holds the Gateway (or
// ListenerSet) back: the verdict (and a ListenerSet's parent's) and every
// bundle object that is not Current.
func NotReady(s Snapshot) []string {
	out := []string{s.Subject() + ": " + s.Verdict().String()}
	if s.Set != nil {
		out = append(out, "parent Gateway "+s.Gateway.Key.String()+": "+Decide(s).String())
	}
	if !s.Bundle.InventoryFound {
		out = append(out, "bundle not applied yet (no inventory ConfigMap "+s.Bundle.Inventory.String()+")")
	}
	for _, o := range sortedObjects(s.Bundle.Objects) {
		if o.Status != kstatus.CurrentStatus {
			out = append(out, objectLine(o))
		}
	}
	return out
}

// sortedObjects returns objs ordered by kind, then name (stable output).
func sortedObjects(objs []Object) []Object {
	out := append([]Object(nil), objs...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}
