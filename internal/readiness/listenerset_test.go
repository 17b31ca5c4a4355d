package readiness

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A Gateway's ListenerSets and the routes naming them are route inputs: a
// ListenerSet change moves the route digest berth wait compares.
func TestListenerSetInputs(t *testing.T) {
	gw := k8stypes.NamespacedName{Namespace: "infra", Name: "gw"}
	infra, lsKind := gwv1.Namespace("infra"), gwv1.Kind("ListenerSet")
	set := func(ns, name, parent string, gen int64) *gwv1.ListenerSet {
		return &gwv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID(name), Generation: gen},
			Spec: gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Name: gwv1.ObjectName(parent), Namespace: &infra}}}
	}
	sets := []*gwv1.ListenerSet{set("apps", "first", "gw", 1), set("apps", "elsewhere", "other-gw", 1)}
	http := []*gwv1.HTTPRoute{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "on-set", UID: "r1", Generation: 2},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Kind: &lsKind, Name: "first"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "on-other-set", UID: "r2", Generation: 1},
			Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Kind: &lsKind, Name: "elsewhere"}}}}},
	}
	objs := func() Objects {
		return Objects{KindListenerSet.GroupKind(): AsObjects(sets), KindHTTPRoute.GroupKind(): AsObjects(http)}
	}
	got := SelectInputs(gw, objs())
	if s, want := strings.Join(got.words(), ", "), "HTTPRoute apps/on-set generation 2, ListenerSet apps/first generation 1"; s != want {
		t.Errorf("inputs %q, want %q", s, want)
	}
	sets[0] = set("apps", "first", "gw", 2)
	changed := SelectInputs(gw, objs())
	if changed.Digest() == got.Digest() {
		t.Error("a ListenerSet generation change left the digest unchanged")
	}
	if c := changed.Changes(got); len(c) != 1 || c[0] != "ListenerSet apps/first generation 1→2" {
		t.Errorf("changes %v", c)
	}
}

// lset is ListenerSet apps/extra at generation 3, naming Gateway
// team-a/gateway-a (gw's key), with conds.
func lset(conds ...metav1.Condition) ListenerSet {
	return ListenerSet{Gateway: Gateway{Key: Key{Namespace: "apps", Name: "extra"}, Found: true, Generation: 3, Conditions: conds},
		Parent: Key{Namespace: "team-a", Name: "gateway-a"}, HasParent: true}
}

func TestDecideListenerSet(t *testing.T) {
	parentReady := gw(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "True", "Programmed", 2))
	parentPending := gw(cond("Accepted", "True", "Accepted", 2), cond("Programmed", "False", "Pending", 2))
	parentInvalid := gw(cond("Accepted", "False", "InvalidParameters", 2))
	accepted := cond("Accepted", "True", "Accepted", 3)
	programmed := cond("Programmed", "True", "Programmed", 3)
	cases := []struct {
		name   string
		ls     ListenerSet
		parent Gateway
		phase  Phase
		reason string
	}{
		{"not found", ListenerSet{Gateway: Gateway{Key: Key{"apps", "extra"}}}, parentReady, Failed, ReasonNotFound},
		{"parentRef names no Gateway", func() ListenerSet { s := lset(); s.HasParent = false; return s }(), parentReady, Failed, "Invalid"},
		{"programmed, parent ready", lset(accepted, programmed), parentReady, Ready, "Programmed"},
		{"programmed, parent pending (its inputs changed)", lset(accepted, programmed), parentPending, Waiting, "ParentNotReady"},
		{"programmed for an older generation", lset(accepted, cond("Programmed", "True", "Programmed", 2)), parentReady, Waiting, "Stale"},
		{"pending", lset(accepted, cond("Programmed", "Unknown", "Pending", 3)), parentReady, Waiting, "Pending"},
		{"not allowed", lset(cond("Accepted", "False", "NotAllowed", 3), cond("Programmed", "False", "NotAllowed", 3)), parentReady, Failed, "NotAllowed"},
		{"not allowed for an older generation", lset(cond("Accepted", "False", "NotAllowed", 2)), parentReady, Waiting, "NoProgrammedCondition"},
		{"parent not accepted", lset(cond("Accepted", "False", "ParentNotAccepted", 3)), parentInvalid, Failed, "ParentNotAccepted"},
		{"parent failed before the ListenerSet says so", lset(accepted, cond("Programmed", "Unknown", "Pending", 3)), parentInvalid, Failed, "InvalidParameters"},
		{"parent absent", lset(accepted, programmed), Gateway{Key: Key{"team-a", "gateway-a"}}, Failed, ReasonNotFound},
		{"programmed false, invalid", lset(accepted, cond("Programmed", "False", "Invalid", 3)), parentReady, Failed, "Invalid"},
		{"being deleted", func() ListenerSet { s := lset(accepted); s.Deleting = true; return s }(), parentReady, Failed, ReasonDeleting},
		{"parentRef changed", func() ListenerSet { s := lset(accepted, programmed); s.Parent.Name = "other"; return s }(), parentReady, Waiting, ReasonParentChanged},
	}
	for _, c := range cases {
		v := DecideListenerSet(c.ls, Snapshot{Gateway: c.parent})
		if v.Phase != c.phase || v.Reason != c.reason {
			t.Errorf("%s: got %s %s, want %s %s", c.name, v.Phase, v, c.phase, c.reason)
		}
		if got := (Snapshot{Gateway: c.parent, Set: &c.ls}).Verdict(); got != v {
			t.Errorf("%s: Snapshot.Verdict %v, DecideListenerSet %v", c.name, got, v)
		}
	}
	// Confirm on a later read: a ListenerSet Ready on one read whose parent
	// went Pending since is not Ready.
	if why := ConfirmListenerSet(Verdict{Phase: Ready}, lset(accepted, programmed), parentPending); !strings.Contains(why, "its status changed since it was Ready") {
		t.Errorf("ConfirmListenerSet with the parent Pending: %q", why)
	}
	if why := ConfirmListenerSet(Verdict{Phase: Ready}, lset(accepted, programmed), parentReady); why != "" {
		t.Errorf("ConfirmListenerSet unchanged: %q", why)
	}
}

// A ListenerSet's Programmed counts only when its parent's status follows
// the live inputs and the ListenerSet's status was computed from that
// parent status (the digests both record).
func TestCurrentListenerSet(t *testing.T) {
	gwIn := Inputs{{Kind: "GatewayClass", Name: "berth", UID: "c", Generation: 1}}
	setV3 := Inputs{{Kind: "ListenerSet", Namespace: "apps", Name: "extra", UID: "s", Generation: 3}}
	setV4 := Inputs{{Kind: "ListenerSet", Namespace: "apps", Name: "extra", UID: "s", Generation: 4}}
	recorded := func(g, x Inputs, og int64) metav1.Condition {
		return metav1.Condition{Type: InputsCondition, Status: metav1.ConditionTrue, Reason: ReasonInputsObserved, Message: InputsMessage(g, x), ObservedGeneration: og}
	}
	parent := gw(cond("Programmed", "True", "Programmed", 2), recorded(gwIn, setV3, 2))
	onParent := func(g, x Inputs) metav1.Condition {
		c := ListenerSetInputs(RecordedInputs{Found: true, Gateway: g.Digest(), XDS: x.Digest()}, parent.Key)
		c.ObservedGeneration = 3
		return c
	}
	programmed := cond("Programmed", "True", "Programmed", 3)
	live := Live{Gateway: &gwIn, XDS: &setV3}
	cases := []struct {
		name   string
		ls     ListenerSet
		parent Gateway
		live   Live
		want   string
	}{
		{"all agree", lset(programmed, onParent(gwIn, setV3)), parent, live, ""},
		{"the ListenerSet changed since the parent's status (live generation 4)", lset(programmed, onParent(gwIn, setV3)), parent, Live{Gateway: &gwIn, XDS: &setV4},
			"parent Gateway team-a/gateway-a: status describes older inputs: its routes or policies changed since"},
		{"the ListenerSet's status follows an older parent status", lset(programmed, onParent(Inputs{{Kind: "GatewayClass", Name: "berth", UID: "c", Generation: 0}}, setV3)), parent, live,
			"its status was computed from an older status of parent Gateway team-a/gateway-a"},
		{"recorded for an older ListenerSet generation", lset(programmed, func() metav1.Condition { c := onParent(gwIn, setV3); c.ObservedGeneration = 2; return c }()), parent, live,
			"the recorded inputs describe generation 2, the ListenerSet is at generation 3"},
		{"another controller's ListenerSet (no record): the parent decides", lset(programmed), parent, live, ""},
		{"no record, parent stale", lset(programmed), parent, Live{Gateway: &gwIn, XDS: &setV4}, "parent Gateway team-a/gateway-a: status describes older inputs"},
	}
	for _, c := range cases {
		got := CurrentListenerSet(c.ls, c.parent, c.live)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// Progress for a ListenerSet wait shows the ListenerSet's conditions before
// the parent's, and the timeout report names both.
func TestListenerSetProgress(t *testing.T) {
	parent := gw(cond("Programmed", "True", "Programmed", 2))
	pending := lset(cond("Accepted", "True", "Accepted", 3), cond("Programmed", "Unknown", "Pending", 3))
	s := Snapshot{Gateway: parent, Set: &pending}
	lines := Changes(nil, s, "")
	want := []string{
		"ListenerSet apps/extra: Accepted=True (Accepted) Accepted message",
		"ListenerSet apps/extra: Programmed=Unknown (Pending) Pending message",
		"Gateway team-a/gateway-a: Programmed=True (Programmed) Programmed message",
	}
	if len(lines) < len(want) || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant first:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	next := lset(cond("Accepted", "True", "Accepted", 3), cond("Programmed", "True", "Programmed", 3))
	lines = Changes(&s, Snapshot{Gateway: parent, Set: &next}, "")
	if len(lines) != 1 || lines[0] != "ListenerSet apps/extra: Programmed=True (Programmed) Programmed message" {
		t.Errorf("second lines %q", lines)
	}
	nr := NotReady(s)
	if len(nr) < 2 || nr[0] != "ListenerSet apps/extra: Pending: Programmed=Unknown: Pending message" || nr[1] != "parent Gateway team-a/gateway-a: Programmed: Programmed message" {
		t.Errorf("NotReady %q", nr)
	}
}
