package apply

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/apis/actuation"
	"sigs.k8s.io/cli-utils/pkg/apply/event"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	pollevent "sigs.k8s.io/cli-utils/pkg/kstatus/polling/event"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/cli-utils/pkg/object"
)

func id(kind, name string) object.ObjMetadata {
	g := ""
	if kind == "Deployment" {
		g = "apps"
	}
	return object.ObjMetadata{GroupKind: schema.GroupKind{Group: g, Kind: kind}, Namespace: "ns", Name: name}
}

func withRV(u *unstructured.Unstructured, rv string) *unstructured.Unstructured {
	u = u.DeepCopy()
	u.SetResourceVersion(rv)
	return u
}

func applied(i object.ObjMetadata, u *unstructured.Unstructured) event.Event {
	return event.Event{Type: event.ApplyType, ApplyEvent: event.ApplyEvent{Identifier: i, Status: event.ApplySuccessful, Resource: u}}
}

func statusEvent(i object.ObjMetadata, s status.Status, msg string) event.Event {
	return event.Event{Type: event.StatusType, StatusEvent: event.StatusEvent{Identifier: i,
		PollResourceInfo: &pollevent.ResourceStatus{Identifier: i, Status: s, Message: msg}}}
}

func TestCollectorClassifiesEveryObject(t *testing.T) {
	created, configured, unchanged := id("Deployment", "new"), id("Deployment", "changed"), id("Deployment", "same")
	foreign, pruned, unreached := id("Service", "foreign"), id("HorizontalPodAutoscaler", "old"), id("ConfigMap", "late")

	priors := map[object.ObjMetadata]*unstructured.Unstructured{
		created:    nil,
		configured: withRV(deployment("changed", 1), "10"),
		unchanged:  withRV(deployment("same", 1), "20"),
		foreign: func() *unstructured.Unstructured {
			u := deployment("foreign", 1)
			u.SetAnnotations(map[string]string{inventory.OwningInventoryKey: "someone-else"})
			return u
		}(),
	}
	c := newCollector(PolicyMustMatch, "berth", func(i object.ObjMetadata) (*unstructured.Unstructured, bool) {
		u, ok := priors[i]
		return u, ok
	})
	for _, e := range []event.Event{
		applied(created, withRV(deployment("new", 1), "1")),
		applied(configured, withRV(deployment("changed", 2), "11")),
		applied(unchanged, withRV(deployment("same", 1), "20")),
		{Type: event.ApplyType, ApplyEvent: event.ApplyEvent{Identifier: foreign, Status: event.ApplySkipped,
			Error: &inventory.PolicyPreventedActuationError{Strategy: actuation.ActuationStrategyApply, Policy: inventory.PolicyMustMatch, Status: inventory.NoMatch}}},
		{Type: event.PruneType, PruneEvent: event.PruneEvent{Identifier: pruned, Status: event.PruneSuccessful}},
		statusEvent(created, status.InProgressStatus, "Available: 0/1"),
		statusEvent(configured, status.CurrentStatus, "ready"),
		statusEvent(unchanged, status.CurrentStatus, "ready"),
	} {
		c.add(e)
	}
	objs, err := c.result(object.ObjMetadataSet{created, configured, unchanged, foreign, unreached})
	if err != nil {
		t.Fatalf("run error %v", err)
	}
	res := &Result{Objects: objs}
	want := map[object.ObjMetadata]Action{
		created: ActionCreated, configured: ActionConfigured, unchanged: ActionUnchanged,
		foreign: ActionSkipped, pruned: ActionPruned, unreached: ActionFailed,
	}
	for i, a := range want {
		o := res.Object(refFromID(i))
		if o == nil {
			t.Errorf("%s missing from the result", i)
			continue
		}
		if o.Action != a {
			t.Errorf("%s: action %s, want %s", i, o.Action, a)
		}
	}
	var own *OwnershipError
	if o := res.Object(refFromID(foreign)); !errors.As(o.Err, &own) || own.Owner != "someone-else" {
		t.Errorf("foreign object error %v, want an OwnershipError naming the owner", o.Err)
	}
	if o := res.Object(refFromID(pruned)); o.Status != StatusNotFound {
		t.Errorf("pruned object status %s, want NotFound", o.Status)
	}
	if res.AllCurrent() {
		t.Errorf("AllCurrent with a failed object")
	}
	if b := res.Blocking(); b == nil || b.Action != ActionFailed {
		t.Errorf("blocking object %+v, want the failed one first", b)
	}
	for i := 1; i < len(objs); i++ {
		if objs[i].Ref.less(objs[i-1].Ref) {
			t.Errorf("objects not sorted: %s before %s", objs[i-1].Ref, objs[i].Ref)
		}
	}
}

func TestCollectorReportsRunErrorOnUnreachedObjects(t *testing.T) {
	c := newCollector(PolicyMustMatch, "berth", func(object.ObjMetadata) (*unstructured.Unstructured, bool) { return nil, false })
	boom := errors.New("inventory write failed")
	c.add(event.Event{Type: event.ErrorType, ErrorEvent: event.ErrorEvent{Err: boom}})
	objs, err := c.result(object.ObjMetadataSet{id("ConfigMap", "a")})
	if !errors.Is(err, boom) {
		t.Fatalf("run error %v, want %v", err, boom)
	}
	if len(objs) != 1 || objs[0].Action != ActionFailed || !errors.Is(objs[0].Err, boom) {
		t.Errorf("unreached object %+v, want failed with the run error", objs)
	}
}

func TestTakenFieldsReportsOnlyFieldsTakenFromOthers(t *testing.T) {
	prior := withOwnership(deployment("a", 2))
	// kubectl edited replicas: ownership of spec.replicas moved from berth to kubectl-edit.
	mf := prior.GetManagedFields()
	mf[0].FieldsV1 = &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"envoy\"}":{".":{},"f:image":{}}}}}}}`)}
	mf = append(mf, metav1.ManagedFieldsEntry{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate,
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{}}}`)}})
	prior.SetManagedFields(mf)
	after := withOwnership(deployment("a", 2)) // berth owns replicas again
	got := takenFields(prior, after, "berth")
	if len(got) != 1 || got[0] != ".spec.replicas" {
		t.Errorf("taken fields %q, want [.spec.replicas]", got)
	}
	if got := takenFields(after, after, "berth"); len(got) != 0 {
		t.Errorf("taken fields %q on an apply that took nothing", got)
	}
}

func TestResultMessageNamesTheBlockingObject(t *testing.T) {
	r := &Result{Objects: []ObjectResult{
		{Ref: refFromID(id("ConfigMap", "a")), Action: ActionUnchanged, Status: StatusCurrent},
		{Ref: refFromID(id("Deployment", "envoy")), Action: ActionConfigured, Status: StatusInProgress, Message: "Available: 0/2"},
		{Ref: refFromID(id("Service", "gone")), Action: ActionPruned, Status: StatusNotFound},
	}}
	if r.AllCurrent() {
		t.Fatal("AllCurrent with an InProgress Deployment")
	}
	if got, want := r.Message(), "Deployment.apps ns/envoy: Available: 0/2"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	r.Objects[1].Status = StatusCurrent
	if !r.AllCurrent() || r.Message() != "" {
		t.Errorf("not AllCurrent (%q) although every live object is Current and the pruned one is gone", r.Message())
	}
}
