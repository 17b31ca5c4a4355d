package readiness

// This file is pure: what berth wait knows of a ListenerSet, the decision it
// takes for one, and the inputs record that ties its status to its parent
// Gateway's. No client, no clock.

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate"
)

// ListenerSet is what berth wait knows of one ListenerSet: the fields a
// Gateway's status has (its conditions, generation, existence) and the
// Gateway its parentRef names.
type ListenerSet struct {
	Gateway
	// Parent is the Gateway the parentRef names; HasParent is false when it
	// names another kind.
	Parent    Key
	HasParent bool
}

// ListenerSetFromUnstructured reads a watched ListenerSet.
func ListenerSetFromUnstructured(u *unstructured.Unstructured) ListenerSet {
	s := ListenerSet{Gateway: GatewayFromUnstructured(u)}
	var typed gwv1.ListenerSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &typed); err == nil {
		s.Parent, s.HasParent = ListenerSetParent(&typed)
	}
	return s
}

// ListenerSetParent is the Gateway s's parentRef names, by translation's
// rule (translate.ListenerSetParent).
func ListenerSetParent(s *gwv1.ListenerSet) (Key, bool) {
	p, ok := translate.ListenerSetParent(s)
	return Key{Namespace: p.Namespace, Name: p.Name}, ok
}

// ListenerSetInputs is the InputsCondition the controller writes on a
// ListenerSet beside the status it computed while its parent Gateway's
// status recorded parent (for the translation that holds the ListenerSet's
// listeners): the same digests, so berth wait can tell that the
// ListenerSet's Programmed follows the parent status it reads.
func ListenerSetInputs(parent RecordedInputs, gw Key) metav1.Condition {
	return metav1.Condition{
		Type:    InputsCondition,
		Status:  metav1.ConditionTrue,
		Reason:  ReasonInputsObserved,
		Message: fmt.Sprintf("gateway-inputs=%s xds-inputs=%s: the status of parent Gateway %s this status was computed from", parent.Gateway, parent.XDS, gw),
	}
}

// DecideListenerSet is the rule berth wait listenerset/NAME exits by, for
// ListenerSet ls whose parent Gateway's snapshot is s (s.Gateway is the
// Gateway ls.Parent names; its bundle is the data plane serving ls). In
// order:
//
//  1. ListenerSet not found → Failed (NotFound); a parentRef naming
//     another kind → Failed (Invalid).
//  2. Programmed=True for the ListenerSet's generation and the parent
//     Gateway Ready by Decide → Ready: the parent's data plane serves the
//     ListenerSet's listeners (berth writes Programmed=True only then). The
//     inputs check (CurrentListenerSet) comes on top, as for Gateways.
//  3. ListenerSet being deleted → Failed (Deleting).
//  4. Accepted=False for its generation with any reason but Pending →
//     Failed (NotAllowed, ParentNotAccepted, …).
//  5. Programmed=False for its generation with reason Invalid → Failed.
//  6. The parent Gateway Failed by Decide → Failed, with the parent's
//     reason: it will not serve these listeners without a change.
//  7. Anything else → Waiting.
func DecideListenerSet(ls ListenerSet, s Snapshot) Verdict {
	name := "ListenerSet " + ls.Key.String()
	if !ls.Found {
		return Verdict{Phase: Failed, Reason: ReasonNotFound, Message: name + " not found"}
	}
	if !ls.HasParent {
		return Verdict{Phase: Failed, Reason: string(gwv1.GatewayReasonInvalid), Message: name + ": its parentRef names no Gateway"}
	}
	prog := ls.Condition(string(gwv1.ListenerSetConditionProgrammed))
	parent := Decide(s)
	if s.Gateway.Key != ls.Parent {
		// The parentRef changed since the wait chose the Gateway to watch.
		return Verdict{Phase: Waiting, Reason: ReasonParentChanged, Message: fmt.Sprintf("%s now names parent Gateway %s, not %s", name, ls.Parent, s.Gateway.Key)}
	}
	progTrue := prog != nil && ls.Fresh(prog) && strings.EqualFold(string(prog.Status), string(metav1.ConditionTrue))
	if progTrue && parent.Phase == Ready {
		return Verdict{Phase: Ready, Reason: prog.Reason, Message: prog.Message}
	}
	if ls.Deleting {
		return Verdict{Phase: Failed, Reason: ReasonDeleting, Message: name + " is being deleted"}
	}
	if acc := ls.Condition(string(gwv1.ListenerSetConditionAccepted)); acc != nil && ls.Fresh(acc) &&
		acc.Status == metav1.ConditionFalse && !waitingAccepted[acc.Reason] {
		return Verdict{Phase: Failed, Reason: acc.Reason, Message: "Accepted=False: " + acc.Message}
	}
	if prog != nil && ls.Fresh(prog) && prog.Status == metav1.ConditionFalse && failedProgrammed[prog.Reason] {
		return Verdict{Phase: Failed, Reason: prog.Reason, Message: "Programmed=False: " + prog.Message}
	}
	if parent.Phase == Failed {
		return Verdict{Phase: Failed, Reason: parent.Reason, Message: "parent " + parent.Message}
	}
	if progTrue {
		return Verdict{Phase: Waiting, Reason: "ParentNotReady", Message: "parent Gateway " + s.Gateway.Key.String() + ": " + parent.String()}
	}
	return Verdict{Phase: Waiting, Reason: waitingReason(prog, ls.Gateway), Message: strings.Replace(waitingMessage(prog, ls.Gateway), "the Gateway", "the ListenerSet", 1)}
}

// ReasonParentChanged: the ListenerSet's parentRef names another Gateway
// than the one the wait watches; the wait starts over on the new parent.
const ReasonParentChanged = "ParentChanged"

// ConfirmListenerSet returns why verdict v, decided from an earlier read,
// does not hold for ls and its parent gw read later ("" when it does), as
// Confirm does for a Gateway.
func ConfirmListenerSet(v Verdict, ls ListenerSet, gw Gateway) string {
	if v.Reason == ReasonObjectFailed {
		return ""
	}
	if now := DecideListenerSet(ls, Snapshot{Gateway: gw}); now.Phase != v.Phase {
		return "its status changed since it was " + string(v.Phase) + " (now " + now.String() + ")"
	}
	return ""
}

// CurrentListenerSet decides whether ls's Programmed follows the live
// inputs: its parent gw's status must be current (Current, whose xds
// inputs include ls at its generation), and ls's status must have been
// computed from that very parent status (the digests ls's InputsCondition
// records equal gw's). It returns "" when so, else why not. A ListenerSet
// without the InputsCondition (another controller, or an older berth) is
// judged by its parent alone.
func CurrentListenerSet(ls ListenerSet, gw Gateway, live Live) string {
	if why := Current(gw, live); why != "" {
		return "parent Gateway " + gw.Key.String() + ": " + why
	}
	c := ls.Condition(InputsCondition)
	if c == nil {
		return ""
	}
	rec := ls.Recorded()
	switch {
	case !ls.Fresh(c):
		return fmt.Sprintf("the recorded inputs describe generation %d, the ListenerSet is at generation %d", c.ObservedGeneration, ls.Generation)
	case !rec.Found:
		return fmt.Sprintf("condition %s does not record digests this berth reads (%q)", InputsCondition, c.Message)
	case rec != gw.Recorded():
		return "its status was computed from an older status of parent Gateway " + gw.Key.String()
	}
	return ""
}
