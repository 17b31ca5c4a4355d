package readiness

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// cond builds a condition for generation 2 unless og says otherwise.
func cond(t, status, reason string, og int64) metav1.Condition {
	return metav1.Condition{Type: t, Status: metav1.ConditionStatus(status), Reason: reason, Message: reason + " message", ObservedGeneration: og}
}

func gw(conds ...metav1.Condition) Gateway {
	return Gateway{Key: Key{Namespace: "team-a", Name: "gateway-a"}, Found: true, Generation: 2, Conditions: conds}
}

func TestDecide(t *testing.T) {
	accepted := cond("Accepted", "True", "Accepted", 2)
	deploy := func(s kstatus.Status, msg string) Object {
		return Object{Group: "apps", Kind: "Deployment", Namespace: "team-a", Name: "envoy-team-a-gateway-a-b65c6264", Status: s, Message: msg}
	}
	cases := []struct {
		name    string
		gw      Gateway
		objects []Object
		phase   Phase
		reason  string
	}{
		{"not found", Gateway{Key: Key{"team-a", "gateway-a"}}, nil, Failed, ReasonNotFound},
		{"fresh status from the CRD default", gw(cond("Accepted", "Unknown", "Pending", 0), cond("Programmed", "Unknown", "Pending", 0)), nil, Waiting, "Pending"},
		{"no conditions", gw(), nil, Waiting, "NoProgrammedCondition"},
		{"programmed", gw(accepted, cond("Programmed", "True", "Programmed", 2)), nil, Ready, "Programmed"},
		{"programmed, observedGeneration absent (kubectl takes it as current)", gw(cond("Programmed", "True", "Programmed", 0)), nil, Ready, "Programmed"},
		{"programmed for an older generation", gw(accepted, cond("Programmed", "True", "Programmed", 1)), nil, Waiting, "Stale"},
		{"programmed wins over a failed object", gw(accepted, cond("Programmed", "True", "Programmed", 2)), []Object{deploy(kstatus.FailedStatus, "Progress deadline exceeded")}, Ready, "Programmed"},
		{"programmed while being deleted (kubectl says yes)", func() Gateway {
			g := gw(accepted, cond("Programmed", "True", "Programmed", 2))
			g.Deleting = true
			return g
		}(), nil, Ready, "Programmed"},
		{"being deleted", func() Gateway {
			g := gw(accepted, cond("Programmed", "False", "Pending", 2))
			g.Deleting = true
			return g
		}(), nil, Failed, ReasonDeleting},
		{"invalid parameters", gw(cond("Accepted", "False", "InvalidParameters", 2), cond("Programmed", "False", "Invalid", 2)), nil, Failed, "InvalidParameters"},
		{"accepted false, invalid", gw(cond("Accepted", "False", "Invalid", 2)), nil, Failed, "Invalid"},
		{"accepted false, unsupported address", gw(cond("Accepted", "False", "UnsupportedAddress", 2)), nil, Failed, "UnsupportedAddress"},
		{"accepted false, listeners not valid", gw(cond("Accepted", "False", "ListenersNotValid", 2)), nil, Failed, "ListenersNotValid"},
		{"accepted false, implementation reason", gw(cond("Accepted", "False", "ClassNotBerths", 2)), nil, Failed, "ClassNotBerths"},
		{"accepted false, pending", gw(cond("Accepted", "False", "Pending", 2)), nil, Waiting, "NoProgrammedCondition"},
		{"accepted false, not reconciled (deprecated pending)", gw(cond("Accepted", "False", "NotReconciled", 2), cond("Programmed", "Unknown", "Pending", 2)), nil, Waiting, "Pending"},
		{"accepted false for an older generation", gw(cond("Accepted", "False", "InvalidParameters", 1), cond("Programmed", "False", "Invalid", 1)), nil, Waiting, "Stale"},
		{"programmed false, invalid", gw(accepted, cond("Programmed", "False", "Invalid", 2)), nil, Failed, "Invalid"},
		{"programmed false, invalid, stale", gw(accepted, cond("Programmed", "False", "Invalid", 1)), nil, Waiting, "Stale"},
		{"programmed false, pending, deployment progressing", gw(accepted, cond("Programmed", "False", "Pending", 2)), []Object{deploy(kstatus.InProgressStatus, "Available: 0/1")}, Waiting, "Pending"},
		{"address not assigned", gw(accepted, cond("Programmed", "False", "AddressNotAssigned", 2)), []Object{deploy(kstatus.CurrentStatus, "")}, Waiting, "AddressNotAssigned"},
		{"no resources", gw(accepted, cond("Programmed", "False", "NoResources", 2)), nil, Waiting, "NoResources"},
		{"implementation programmed reason", gw(accepted, cond("Programmed", "False", "SnapshotNotPublished", 2)), nil, Waiting, "SnapshotNotPublished"},
		{"deployment past its deadline", gw(accepted, cond("Programmed", "False", "Pending", 2)), []Object{deploy(kstatus.FailedStatus, "Progress deadline exceeded")}, Failed, ReasonObjectFailed},
		{"objects not found or terminating", gw(accepted, cond("Programmed", "False", "Pending", 2)), []Object{deploy(kstatus.NotFoundStatus, ""), {Kind: "Service", Name: "x", Status: kstatus.TerminatingStatus}}, Waiting, "Pending"},
		{"condition types compare case-insensitively, like kubectl", gw(cond("programmed", "True", "Programmed", 2)), nil, Ready, "Programmed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Decide(Snapshot{Gateway: c.gw, Bundle: Bundle{InventoryFound: true, Objects: c.objects}})
			if v.Phase != c.phase || v.Reason != c.reason {
				t.Errorf("Decide = %s %q (%s), want %s %q", v.Phase, v.Reason, v.Message, c.phase, c.reason)
			}
		})
	}
}

func TestDecideMessages(t *testing.T) {
	v := Decide(Snapshot{Gateway: gw(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "False", "Pending", 2)),
		Bundle: Bundle{Objects: []Object{{Group: "apps", Kind: "Deployment", Name: "envoy-x", Status: kstatus.FailedStatus, Message: "Progress deadline exceeded"}}}})
	if want := "ObjectFailed: Deployment envoy-x: Progress deadline exceeded"; v.String() != want {
		t.Errorf("got %q, want %q", v.String(), want)
	}
	v = Decide(Snapshot{Gateway: gw(cond("Programmed", "True", "Programmed", 1))})
	if want := "Stale: Programmed=True describes generation 1, the Gateway is at generation 2"; v.String() != want {
		t.Errorf("got %q, want %q", v.String(), want)
	}
}

func TestGatewayFromUnstructured(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"namespace": "team-a", "name": "gateway-a", "generation": int64(3), "deletionTimestamp": "2026-01-01T00:00:00Z"},
		"status": map[string]any{"conditions": []any{
			map[string]any{"type": "Programmed", "status": "False", "reason": "AddressNotAssigned", "message": "no address", "observedGeneration": int64(3)},
			"garbage",
		}},
	}}
	g := GatewayFromUnstructured(u)
	if !g.Found || !g.Deleting || g.Generation != 3 || len(g.Conditions) != 1 {
		t.Fatalf("got %+v", g)
	}
	c := g.Conditions[0]
	if c.Type != "Programmed" || c.Status != "False" || c.Reason != "AddressNotAssigned" || c.Message != "no address" || c.ObservedGeneration != 3 {
		t.Errorf("condition %+v", c)
	}
}

func TestObjectFromUnstructured(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"namespace": "team-a", "name": "envoy-x", "generation": int64(1)},
		"spec":     map[string]any{"replicas": int64(1)},
		"status":   map[string]any{"observedGeneration": int64(1), "replicas": int64(1), "updatedReplicas": int64(1), "availableReplicas": int64(0)},
	}}
	o := ObjectFromUnstructured(u)
	if o.Kind != "Deployment" || o.Group != "apps" || o.Status != kstatus.InProgressStatus || o.Message != "Available: 0/1" {
		t.Errorf("got %+v", o)
	}
}

// A verdict counts only if the later read of the Gateway, the one whose
// inputs are compared, still gives it.
func TestConfirm(t *testing.T) {
	gw := func(cs ...metav1.Condition) Gateway {
		return Gateway{Key: Key{Namespace: "n", Name: "gw"}, Found: true, Generation: 2, Conditions: cs}
	}
	programmed := gw(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "True", "Programmed", 2))
	pending := gw(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "False", "Pending", 2))
	invalid := gw(cond("Accepted", "False", "InvalidParameters", 2))
	ready := Decide(Snapshot{Gateway: programmed})
	failed := Decide(Snapshot{Gateway: invalid})
	for _, c := range []struct {
		name string
		v    Verdict
		g    Gateway
		want string
	}{
		{"still Programmed", ready, programmed, ""},
		{"Pending written since", ready, pending, "its status changed since it was Ready (now Pending"},
		{"still rejected", failed, invalid, ""},
		{"rejection replaced by Pending", failed, pending, "its status changed since it was Failed (now Pending"},
		{"a bundle object's failure", Verdict{Phase: Failed, Reason: ReasonObjectFailed}, pending, ""},
	} {
		got := Confirm(c.v, c.g)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
