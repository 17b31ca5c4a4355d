package controller

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/readiness"
)

// listCounter counts the Lists made through it by kind of list, and those
// made without a field selector (a whole kind read).
type listCounter struct {
	client.Client
	whole map[string]int
}

func (l *listCounter) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	if o.FieldSelector == nil {
		l.whole[fmt.Sprintf("%T", list)]++
	}
	return l.Client.List(ctx, list, opts...)
}

func indexedClient(t *testing.T, objs ...client.Object) *listCounter {
	t.Helper()
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&gwv1.BackendTLSPolicy{}, backendTLSTargetIndex, backendTLSTargets).
		WithIndex(&gwv1.ReferenceGrant{}, grantFromIndex, grantFromNamespaces).
		WithObjects(objs...).Build()
	return &listCounter{Client: cl, whole: map[string]int{}}
}

func keysOf[T client.Object](objs []T) string {
	var out []string
	for _, o := range objs {
		out = append(out, client.ObjectKeyFromObject(o).String())
	}
	return fmt.Sprint(out)
}

// A translation reads the BackendTLSPolicies of the Services its routes
// use, by target, never the whole kind: its cost does not grow with the
// policies of other Gateways' backends.
func TestPoliciesOfReadsByTarget(t *testing.T) {
	policy := func(ns, name string, targets ...string) *gwv1.BackendTLSPolicy {
		p := &gwv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		for _, s := range targets {
			p.Spec.TargetRefs = append(p.Spec.TargetRefs, gwv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: gwv1.ObjectName(s)}})
		}
		return p
	}
	notService := policy("team-a", "not-a-service", "web")
	notService.Spec.TargetRefs[0].Group = "example.com"
	if got := fmt.Sprint(backendTLSTargets(policy("team-a", "p", "web", "api", "web"))); got != "[team-a/web team-a/api]" {
		t.Errorf("backendTLSTargets %s", got)
	}
	if got := backendTLSTargets(notService); len(got) != 0 {
		t.Errorf("a non-Service target indexed: %v", got)
	}
	cl := indexedClient(t,
		policy("team-a", "web-tls", "web"),
		policy("team-a", "both", "web", "api"),
		policy("team-b", "web-tls", "web"), // another namespace's web
		policy("team-a", "other-tls", "other"),
		notService,
	)
	c := &Controller{client: cl}
	got, err := c.policiesOf(context.Background(), []k8stypes.NamespacedName{{Namespace: "team-a", Name: "api"}, {Namespace: "team-a", Name: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := keysOf(got); s != "[team-a/both team-a/web-tls]" {
		t.Errorf("policies %s, want [team-a/both team-a/web-tls]", s)
	}
	if len(cl.whole) != 0 {
		t.Errorf("whole-kind lists: %v", cl.whole)
	}
}

// A translation reads the ReferenceGrants that permit references from the
// namespaces of its Gateway, routes and ListenerSets, never the whole kind.
func TestGrantsFromReadsByNamespace(t *testing.T) {
	grant := func(ns, name string, from ...string) *gwv1.ReferenceGrant {
		g := &gwv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		for _, f := range from {
			g.Spec.From = append(g.Spec.From, gwv1.ReferenceGrantFrom{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: gwv1.Namespace(f)})
		}
		g.Spec.To = []gwv1.ReferenceGrantTo{{Kind: "Service"}}
		return g
	}
	if got := fmt.Sprint(grantFromNamespaces(grant("svc", "g", "a", "b", "a"))); got != "[a b]" {
		t.Errorf("grantFromNamespaces %s", got)
	}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gw-ns", Name: "gw"}}
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "route-ns", Name: "r"}}
	set := &gwv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Namespace: "set-ns", Name: "s"}}
	objs := readiness.Objects{
		readiness.KindHTTPRoute.GroupKind():   {route},
		readiness.KindListenerSet.GroupKind(): {set},
	}
	nss := referringNamespaces(gw, objs)
	if got := fmt.Sprint(nss); got != "[gw-ns route-ns set-ns]" {
		t.Errorf("referringNamespaces %s", got)
	}
	cl := indexedClient(t,
		grant("backend", "from-route", "route-ns"),
		grant("certs", "from-gw-and-set", "gw-ns", "set-ns"),
		grant("backend", "from-elsewhere", "elsewhere"),
	)
	c := &Controller{client: cl}
	got, err := c.grantsFrom(context.Background(), nss)
	if err != nil {
		t.Fatal(err)
	}
	if s := keysOf(got); s != "[backend/from-route certs/from-gw-and-set]" {
		t.Errorf("grants %s, want [backend/from-route certs/from-gw-and-set]", s)
	}
	if len(cl.whole) != 0 {
		t.Errorf("whole-kind lists: %v", cl.whole)
	}
}

// The translation input reads BackendTLSPolicies and ReferenceGrants by
// index: only those of its routes' Services and its objects' namespaces,
// and neither kind whole (the GatewayClasses are the one kind it lists
// whole).
func TestTranslationInputReadsByIndex(t *testing.T) {
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth"}, Spec: gwv1.GatewayClassSpec{ControllerName: "berth.example/controller"}}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gw-ns", Name: "gw"}, Spec: gwv1.GatewaySpec{GatewayClassName: "berth"}}
	backendNS := gwv1.Namespace("backend")
	gwNS := gwv1.Namespace("gw-ns")
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "route-ns", Name: "r"}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "gw", Namespace: &gwNS}}},
		Rules:           []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Namespace: &backendNS}}}}}},
	}}
	policy := func(ns, name, svc string) *gwv1.BackendTLSPolicy {
		return &gwv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gwv1.BackendTLSPolicySpec{
			TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: gwv1.ObjectName(svc)}}}}}
	}
	grant := func(ns, name, from string) *gwv1.ReferenceGrant {
		return &gwv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gwv1.ReferenceGrantSpec{
			From: []gwv1.ReferenceGrantFrom{{Group: gwv1.GroupName, Kind: "HTTPRoute", Namespace: gwv1.Namespace(from)}},
			To:   []gwv1.ReferenceGrantTo{{Kind: "Service"}}}}
	}
	cl := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&gwv1.BackendTLSPolicy{}, backendTLSTargetIndex, backendTLSTargets).
		WithIndex(&gwv1.ReferenceGrant{}, grantFromIndex, grantFromNamespaces).
		WithIndex(&gwv1.HTTPRoute{}, routeParentIndex, parentGatewayKeys).
		WithIndex(&gwv1.GRPCRoute{}, routeParentIndex, parentGatewayKeys).
		WithObjects(class, gw, route,
			policy("backend", "web-tls", "web"), policy("backend", "api-tls", "api"), policy("route-ns", "web-tls", "web"),
			grant("backend", "from-route", "route-ns"), grant("backend", "from-elsewhere", "elsewhere")).Build()
	counter := &listCounter{Client: cl, whole: map[string]int{}}
	c := &Controller{client: counter}
	c.kinds.backendTLS.Store(true)
	c.kinds.served.Store(readiness.KindBackendTLSPolicy.GroupKind(), true)
	c.wirings = c.inputWirings()
	ctx := context.Background()
	in, _, _, _, err := c.translateInput(ctx, gw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.backendTLSInput(ctx, &in); err != nil {
		t.Fatal(err)
	}
	if s := keysOf(in.BackendTLSPolicies); s != "[backend/web-tls]" {
		t.Errorf("BackendTLSPolicies %s, want [backend/web-tls]", s)
	}
	if s := keysOf(in.ReferenceGrants); s != "[backend/from-route]" {
		t.Errorf("ReferenceGrants %s, want [backend/from-route]", s)
	}
	if want := map[string]int{"*v1.GatewayClassList": 1}; fmt.Sprint(counter.whole) != fmt.Sprint(want) {
		t.Errorf("whole-kind lists %v, want %v", counter.whole, want)
	}
	// The status's view of the inputs reads the policies the same way.
	counter.whole = map[string]int{}
	inputs, err := c.xdsInputs(ctx, client.ObjectKeyFromObject(gw))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(inputs), "[BackendTLSPolicy backend/web-tls (absent) HTTPRoute route-ns/r (absent)]"; got != want {
		t.Errorf("inputs %s, want %s", got, want)
	}
	if counter.whole["*v1.BackendTLSPolicyList"] != 0 {
		t.Errorf("xdsInputs listed every BackendTLSPolicy: %v", counter.whole)
	}
}
