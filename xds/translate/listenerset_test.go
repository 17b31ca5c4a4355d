package translate_test

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/golden"
	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/evaluate"
)

// listenerSetResult translates testdata/listenerset.in.yaml (one Gateway).
func listenerSetResult(t *testing.T) *translate.Result {
	t.Helper()
	results := translate.Translate(loadInput(t, "testdata/listenerset.in.yaml"), translate.DefaultOptions())
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	return results[0]
}

// TestListenerSetConnections decides requests on the merged data plane as
// Envoy would: a ListenerSet's listeners serve its routes, on ports shared
// with the Gateway's own; a conflicted or refused listener serves nothing.
func TestListenerSetConnections(t *testing.T) {
	res := listenerSetResult(t)
	for _, tc := range []struct {
		name    string
		conn    evaluate.Connection
		req     evaluate.Request
		status  int
		cluster string
		table   string
		wantErr string
	}{
		{name: "ListenerSet http listener beside the Gateway's", conn: evaluate.Connection{Port: 10080}, req: evaluate.Request{Host: "app.example.com", Path: "/"},
			cluster: svc("apps", "app", 8080), table: "route/80"},
		{name: "Gateway's own listener keeps its hostname", conn: evaluate.Connection{Port: 10080}, req: evaluate.Request{Host: "gw.example.com", Path: "/"},
			cluster: svc("infra", "web", 8080), table: "route/80"},
		{name: "ListenerSet https listener with a granted certificate", conn: evaluate.Connection{Port: 10443, SNI: "grant.example.com"}, req: evaluate.Request{Host: "grant.example.com", Path: "/"},
			cluster: svc("apps", "app", 8080), table: "route/443/listenerset/apps/second/grant"},
		{name: "the earlier ListenerSet keeps a contested hostname", conn: evaluate.Connection{Port: 10443, SNI: "shop.example.com"}, req: evaluate.Request{Host: "shop.example.com", Path: "/"},
			status: 404, table: "route/443/listenerset/apps/first/shop"},
		{name: "listener refused its certificate is not served", conn: evaluate.Connection{Port: 10443, SNI: "nogrant.example.com"}, req: evaluate.Request{Host: "nogrant.example.com", Path: "/"},
			wantErr: "no filter chain"},
		{name: "a ListenerSet the Gateway does not admit binds nothing", conn: evaluate.Connection{Port: 8080}, req: evaluate.Request{Host: "a.test", Path: "/"},
			wantErr: "nothing listens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := evaluate.Snapshot(res.Resources, tc.conn, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.status || d.Cluster != tc.cluster || d.RouteConfiguration != tc.table {
				t.Errorf("got status %d cluster %q table %q; want %d %q %q", d.Status, d.Cluster, d.RouteConfiguration, tc.status, tc.cluster, tc.table)
			}
		})
	}
}

// TestListenerSetStatus states the status rules by table: admission,
// precedence, conflicts, certificate grants, attachment counts.
func TestListenerSetStatus(t *testing.T) {
	res := listenerSetResult(t)
	if res.AttachedListenerSets != 2 {
		t.Errorf("attachedListenerSets = %d, want 2 (first and second)", res.AttachedListenerSets)
	}
	sets := map[string]translate.ListenerSetStatus{}
	var order []string
	for _, s := range res.ListenerSets {
		sets[s.ListenerSet.String()] = s
		order = append(order, s.ListenerSet.String())
	}
	if got, want := strings.Join(order, " "), "other/outsider apps/first apps/second infra/third"; got != want {
		t.Errorf("ListenerSets in order %q, want precedence order %q", got, want)
	}
	for _, tc := range []struct {
		set, listener string // listener "" checks the ListenerSet's conditions
		typ           string
		status        metav1.ConditionStatus
		reason        string
		attached      int32
	}{
		{set: "other/outsider", typ: "Accepted", status: metav1.ConditionFalse, reason: "NotAllowed"},
		{set: "other/outsider", typ: "Programmed", status: metav1.ConditionFalse, reason: "NotAllowed"},
		{set: "apps/first", typ: "Accepted", status: metav1.ConditionTrue, reason: "ListenersNotValid"},
		{set: "apps/first", typ: "Programmed", status: metav1.ConditionTrue, reason: "Programmed"},
		{set: "apps/first", listener: "http", typ: "Programmed", status: metav1.ConditionTrue, reason: "Programmed", attached: 1},
		{set: "apps/first", listener: "dup", typ: "Conflicted", status: metav1.ConditionTrue, reason: "HostnameConflict"},
		{set: "apps/first", listener: "tcp", typ: "Accepted", status: metav1.ConditionFalse, reason: "ProtocolConflict"},
		{set: "apps/first", listener: "shop", typ: "Conflicted", status: metav1.ConditionFalse, reason: "NoConflicts"},
		{set: "apps/second", listener: "shop", typ: "Conflicted", status: metav1.ConditionTrue, reason: "HostnameConflict"},
		{set: "apps/second", listener: "grant", typ: "ResolvedRefs", status: metav1.ConditionTrue, reason: "ResolvedRefs", attached: 1},
		{set: "infra/third", typ: "Accepted", status: metav1.ConditionFalse, reason: "ListenersNotValid"},
		{set: "infra/third", listener: "nogrant", typ: "ResolvedRefs", status: metav1.ConditionFalse, reason: "RefNotPermitted"},
	} {
		s, ok := sets[tc.set]
		if !ok {
			t.Fatalf("no status for ListenerSet %s", tc.set)
		}
		conds := s.Conditions
		if tc.listener != "" {
			conds = nil
			for _, l := range s.Listeners {
				if string(l.Name) == tc.listener {
					conds = l.Conditions
					if l.AttachedRoutes != tc.attached {
						t.Errorf("%s listener %s: attachedRoutes = %d, want %d", tc.set, tc.listener, l.AttachedRoutes, tc.attached)
					}
				}
			}
		}
		var c *metav1.Condition
		for i := range conds {
			if conds[i].Type == tc.typ {
				c = &conds[i]
			}
		}
		if c == nil || c.Status != tc.status || c.Reason != tc.reason {
			t.Errorf("%s %s: %s = %v, want %s/%s", tc.set, tc.listener, tc.typ, c, tc.status, tc.reason)
		}
	}
	// The Gateway's own listener counts only the route naming the Gateway.
	if l := res.Listeners[0]; l.AttachedRoutes != 1 {
		t.Errorf("Gateway listener http: attachedRoutes = %d, want 1", l.AttachedRoutes)
	}
	// Route status is scoped to the parentRef each route named.
	for _, r := range res.Routes {
		a := r.Condition(gwv1.RouteConditionAccepted)
		want := metav1.ConditionTrue
		if r.Route.Name == "ls-missing" || r.Route.Name == "outsider-route" {
			want = metav1.ConditionFalse
		}
		if a == nil || a.Status != want {
			t.Errorf("route %s parentRef %s: Accepted = %v, want %s", r.Route, r.ParentRef.Name, a, want)
		}
	}
}

// TestListenerSetParentStatus states how a ListenerSet's status follows its
// parent Gateway (translate.ListenerSetStatusOf): every reason the
// ListenerSet API names for a parent, by table, and the whole statuses in
// testdata/listenerset-parent.golden.yaml.
func TestListenerSetParentStatus(t *testing.T) {
	res := listenerSetResult(t)
	in := loadInput(t, "testdata/listenerset.in.yaml")
	objs := map[string]*gwv1.ListenerSet{}
	for _, s := range in.ListenerSets {
		objs[s.Namespace+"/"+s.Name] = s
	}
	facts := map[string]*translate.ListenerSetStatus{}
	for i := range res.ListenerSets {
		facts[res.ListenerSets[i].ListenerSet.String()] = &res.ListenerSets[i]
	}
	gw := k8stypes.NamespacedName{Namespace: "infra", Name: "gw"}
	cond := func(typ string, s metav1.ConditionStatus, reason string) *metav1.Condition {
		return &metav1.Condition{Type: typ, Status: s, Reason: reason, Message: "the parent's own words"}
	}
	accepted := cond("Accepted", metav1.ConditionTrue, "Accepted")
	programmed := cond("Programmed", metav1.ConditionTrue, "Programmed")
	type want struct{ accepted, programmed, listenerAccepted, listenerProgrammed string }
	var out strings.Builder
	for _, tc := range []struct {
		name, set string
		parent    translate.ListenerSetParentState
		want      want // "Status/Reason"; listener* of the set's listener "http" ("" none)
	}{
		{name: "parent absent", set: "apps/first", parent: translate.ListenerSetParentState{Absent: true},
			want: want{"False/ParentNotAccepted", "False/ParentNotAccepted", "False/ParentNotAccepted", "False/ParentNotAccepted"}},
		{name: "parent being deleted", set: "apps/first", parent: translate.ListenerSetParentState{Deleting: true, Accepted: accepted, Programmed: programmed, Current: true},
			want: want{"False/ParentNotAccepted", "False/ParentNotAccepted", "False/ParentNotAccepted", "False/ParentNotAccepted"}},
		{name: "parent not accepted", set: "apps/first", parent: translate.ListenerSetParentState{Accepted: cond("Accepted", metav1.ConditionFalse, "InvalidParameters"), Programmed: cond("Programmed", metav1.ConditionFalse, "Invalid")},
			want: want{"False/ParentNotAccepted", "False/ParentNotAccepted", "False/ParentNotAccepted", "False/ParentNotAccepted"}},
		{name: "not allowed outranks a parent not accepted", set: "other/outsider", parent: translate.ListenerSetParentState{Accepted: cond("Accepted", metav1.ConditionFalse, "Invalid")},
			want: want{"False/NotAllowed", "False/NotAllowed", "", ""}},
		{name: "parent without a verdict yet", set: "apps/first", parent: translate.ListenerSetParentState{},
			want: want{"True/ListenersNotValid", "Unknown/Pending", "True/Accepted", "Unknown/Pending"}},
		{name: "parent not programmed", set: "apps/first", parent: translate.ListenerSetParentState{Accepted: accepted, Programmed: cond("Programmed", metav1.ConditionFalse, "Pending")},
			want: want{"True/ListenersNotValid", "False/ParentNotProgrammed", "True/Accepted", "False/Pending"}},
		{name: "parent programmed on other inputs", set: "apps/first", parent: translate.ListenerSetParentState{Accepted: accepted, Programmed: programmed},
			want: want{"True/ListenersNotValid", "Unknown/Pending", "True/Accepted", "Unknown/Pending"}},
		{name: "parent programmed on this translation", set: "apps/first", parent: translate.ListenerSetParentState{Accepted: accepted, Programmed: programmed, Current: true},
			want: want{"True/ListenersNotValid", "True/Programmed", "True/Accepted", "True/Programmed"}},
		{name: "invalid listeners stay invalid under a programmed parent", set: "infra/third", parent: translate.ListenerSetParentState{Accepted: accepted, Programmed: programmed, Current: true},
			want: want{"False/ListenersNotValid", "False/ListenersNotValid", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.parent.Gateway = gw
			fact := facts[tc.set]
			if tc.parent.Absent {
				fact = nil // no translation without a parent
			}
			before, _ := yaml.Marshal(fact)
			st := translate.ListenerSetStatusOf(objs[tc.set], fact, tc.parent)
			show := func(c *metav1.Condition) string {
				if c == nil {
					return ""
				}
				return string(c.Status) + "/" + c.Reason
			}
			got := want{accepted: show(st.Condition(gwv1.ListenerSetConditionAccepted)), programmed: show(st.Condition(gwv1.ListenerSetConditionProgrammed))}
			for _, l := range st.Listeners {
				if l.Name == "http" {
					got.listenerAccepted, got.listenerProgrammed = show(l.Condition(gwv1.ListenerConditionAccepted)), show(l.Condition(gwv1.ListenerConditionProgrammed))
					if tc.want.listenerAccepted == "False/ParentNotAccepted" && l.AttachedRoutes != 0 {
						t.Errorf("listener http: attachedRoutes = %d under a parent not accepted, want 0", l.AttachedRoutes)
					}
				}
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(st.Listeners) != len(objs[tc.set].Spec.Listeners) && tc.want.listenerAccepted != "" {
				t.Errorf("%d listener statuses, want one per listener (%d)", len(st.Listeners), len(objs[tc.set].Spec.Listeners))
			}
			for _, c := range st.Conditions {
				if strings.Contains(c.Message, "the parent's own words") {
					t.Errorf("%s message %q repeats the parent's message", c.Type, c.Message)
				}
			}
			if after, _ := yaml.Marshal(fact); string(after) != string(before) {
				t.Error("the fold changed the translation's facts in place")
			}
			y, err := yaml.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "# %s: %s\n%s---\n", tc.name, tc.set, y)
		})
	}
	golden.Compare(t, "testdata/listenerset-parent.golden.yaml", []byte(out.String()))
}

// The bundle's ports come from the listeners a translation programs: an
// accepted ListenerSet's conflicted or refused listeners get none, a
// ListenerSet not accepted gets none, and the input is left as it was.
func TestAcceptedListenerSetsServedListeners(t *testing.T) {
	res := listenerSetResult(t)
	in := loadInput(t, "testdata/listenerset.in.yaml")
	before, _ := yaml.Marshal(in.ListenerSets)
	got := map[string][]string{}
	for _, s := range translate.AcceptedListenerSets(res.ListenerSets, in.ListenerSets) {
		for _, l := range s.Spec.Listeners {
			got[s.Namespace+"/"+s.Name] = append(got[s.Namespace+"/"+s.Name], string(l.Name))
		}
	}
	// apps/first: dup (HostnameConflict) and tcp (ProtocolConflict) are
	// out; apps/second: shop (HostnameConflict) is; infra/third and
	// other/outsider are not accepted.
	want := map[string][]string{}
	for _, st := range res.ListenerSets {
		if a := st.Condition(gwv1.ListenerSetConditionAccepted); a.Status != metav1.ConditionTrue {
			continue
		}
		for _, l := range st.Listeners {
			if p := l.Condition(gwv1.ListenerConditionProgrammed); p.Status == metav1.ConditionTrue {
				want[st.ListenerSet.String()] = append(want[st.ListenerSet.String()], string(l.Name))
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("served listeners %v, want %v", got, want)
	}
	for _, name := range []string{"dup", "tcp"} {
		if strings.Contains(fmt.Sprint(got["apps/first"]), name) {
			t.Errorf("apps/first keeps the refused listener %s: %v", name, got["apps/first"])
		}
	}
	if len(got["apps/first"]) == 0 || len(got["apps/second"]) == 0 || len(got["infra/third"]) != 0 || len(got["other/outsider"]) != 0 {
		t.Errorf("served listeners %v: want apps/first and apps/second only", got)
	}
	if after, _ := yaml.Marshal(in.ListenerSets); string(after) != string(before) {
		t.Error("AcceptedListenerSets changed its input")
	}
}
