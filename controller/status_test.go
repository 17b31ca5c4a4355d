package controller

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

var (
	t0 = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(t0.Add(time.Minute))
)

func deployRef() apply.ObjectRef {
	return apply.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "team-a", Name: "envoy-team-a-gw-12345678"}
}

func clusterIPService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "envoy-team-a-gw-12345678"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.7", ClusterIPs: []string{"10.0.0.7"}},
	}
}

func listenerOK() translate.ListenerStatus {
	return translate.ListenerStatus{Name: "http", AttachedRoutes: 1, SupportedKinds: []gwv1.RouteGroupKind{{Kind: "HTTPRoute"}},
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}, {Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}}}
}

// ready returns facts under which a Gateway is Programmed; cases change one thing.
func ready() gatewayFacts {
	return gatewayFacts{
		Generation:       3,
		Translation:      &translated{Generation: 3, Inputs: readiness.Inputs(nil).Digest(), XDSInputs: readiness.Inputs(nil).Digest(), Version: "v1", Listeners: []translate.ListenerStatus{listenerOK()}},
		PublishedVersion: "v1",
		Objects:          apply.AggregateStatus{Known: true, Status: apply.StatusCurrent, Objects: []apply.ObjectStatus{{Ref: deployRef(), Status: apply.StatusCurrent}}},
		Service:          clusterIPService(),
	}
}

func TestProgrammedCondition(t *testing.T) {
	lb := clusterIPService()
	lb.Spec.Type = corev1.ServiceTypeLoadBalancer
	for _, tc := range []struct {
		name            string
		change          func(*gatewayFacts)
		status          metav1.ConditionStatus
		reason, message string
	}{
		{"ready", func(*gatewayFacts) {}, metav1.ConditionTrue, "Programmed", "bundle ready and xDS configuration published"},
		{"invalid parameters", func(f *gatewayFacts) {
			f.RenderErr = &render.ParametersError{Referrer: "Gateway team-a/gw", Ref: "EnvoyProxy team-a/p", Reason: render.ParametersNotFound, Err: errors.New("not found")}
		}, metav1.ConditionFalse, "Invalid", "Gateway is not accepted"},
		{"apply error", func(f *gatewayFacts) { f.ApplyErr = errors.New("apply inventory team-a/x: boom") },
			metav1.ConditionFalse, "NoResources", "apply inventory team-a/x: boom"},
		{"foreign object", func(f *gatewayFacts) {
			f.Failed = []apply.ObjectResult{{Ref: apply.ObjectRef{Kind: "ServiceAccount", Namespace: "team-a", Name: "envoy-x"}, Action: apply.ActionSkipped, Reason: "belongs to no inventory"}}
		}, metav1.ConditionFalse, "NoResources", "ServiceAccount team-a/envoy-x: skipped: belongs to no inventory"},
		{"inventory unknown", func(f *gatewayFacts) { f.Objects = apply.AggregateStatus{} },
			metav1.ConditionFalse, "Pending", "waiting for the bundle's inventory"},
		{"deployment unavailable", func(f *gatewayFacts) {
			f.Objects.Status = apply.StatusInProgress
			f.Objects.Objects[0].Status, f.Objects.Objects[0].Message = apply.StatusInProgress, "Available: 0/1"
		}, metav1.ConditionFalse, "Pending", "Deployment team-a/envoy-team-a-gw-12345678: InProgress"},
		{"deployment past its progress deadline", func(f *gatewayFacts) {
			f.Objects.Status = apply.StatusFailed
			f.Objects.Objects[0].Status, f.Objects.Objects[0].Message = apply.StatusFailed, "Progress deadline exceeded"
		}, metav1.ConditionFalse, "Pending", "Deployment team-a/envoy-team-a-gw-12345678: Failed: Progress deadline exceeded"},
		{"no service yet", func(f *gatewayFacts) { f.Service = nil }, metav1.ConditionFalse, "Pending", "waiting for the bundle's Service"},
		{"load balancer without ingress", func(f *gatewayFacts) { f.Service = lb }, metav1.ConditionFalse, "AddressNotAssigned",
			"Service team-a/envoy-team-a-gw-12345678: waiting for a load-balancer address (status.loadBalancer.ingress is empty)"},
		{"not translated", func(f *gatewayFacts) { f.Translation = nil }, metav1.ConditionFalse, "Pending", "xDS configuration not translated yet"},
		{"routes changed since the translation", func(f *gatewayFacts) {
			f.XDS = readiness.Inputs{{Kind: "HTTPRoute", Namespace: "team-a", Name: "r", UID: "u1", Generation: 2}}
		}, metav1.ConditionFalse, "Pending", "xDS configuration not translated for the current inputs yet"},
		{"policy changed since the translation", func(f *gatewayFacts) {
			f.XDS = readiness.Inputs{{Kind: "ClientTrafficPolicy", Namespace: "team-a", Name: "p", UID: "u2", Generation: 3}}
		}, metav1.ConditionFalse, "Pending", "xDS configuration not translated for the current inputs yet"},
		{"EnvoyProxy changed since the translation (access logs)", func(f *gatewayFacts) {
			f.Inputs = readiness.Inputs{{Kind: "EnvoyProxy", Namespace: "team-a", Name: "p", UID: "u3", Generation: 2}}
		}, metav1.ConditionFalse, "Pending", "xDS configuration not translated for the current inputs yet"},
		{"publish failed", func(f *gatewayFacts) { f.Translation.Err = errors.New("publish: invalid") }, metav1.ConditionFalse, "Invalid", "xDS configuration: publish: invalid"},
		{"not published", func(f *gatewayFacts) { f.PublishedVersion = "v0" }, metav1.ConditionFalse, "Pending", "xDS configuration not published yet"},
		// spec.addresses (addresses.go)
		{"requested address assigned", func(f *gatewayFacts) { f.Requested = []string{"10.0.0.7"} }, metav1.ConditionTrue, "Programmed", "bundle ready and xDS configuration published"},
		{"requested address not the Service's", func(f *gatewayFacts) { f.Requested = []string{"10.0.0.9"} }, metav1.ConditionFalse, "AddressNotUsable",
			"Service team-a/envoy-team-a-gw-12345678 has 10.0.0.7, not the requested 10.0.0.9"},
		{"requested address refused by the API server", func(f *gatewayFacts) {
			f.Requested = []string{"192.0.2.1"}
			f.Failed = []apply.ObjectResult{{Ref: apply.ObjectRef{Kind: "Service", Namespace: "team-a", Name: "envoy-x"}, Action: apply.ActionFailed, Reason: "spec.clusterIPs: Invalid value: not in the valid range"}}
		}, metav1.ConditionFalse, "AddressNotUsable", "Service team-a/envoy-x requesting 192.0.2.1: spec.clusterIPs: Invalid value: not in the valid range"},
		{"requested address, load balancer pending", func(f *gatewayFacts) { f.Requested, f.Service = []string{"192.0.2.1"}, lb }, metav1.ConditionFalse, "AddressNotAssigned",
			"Service team-a/envoy-team-a-gw-12345678: the load balancer has not assigned the requested 192.0.2.1 (spec.addresses); it never will if the address is outside its pools or taken"},
		{"address the Service type cannot take", func(f *gatewayFacts) {
			f.RenderErr = &render.AddressError{Reason: gwv1.GatewayReasonAddressNotUsable, Message: "Gateway team-a/gw spec.addresses: a NodePort Service …"}
		}, metav1.ConditionFalse, "AddressNotUsable", "Gateway team-a/gw spec.addresses: a NodePort Service …"},
		{"unsupported address", func(f *gatewayFacts) {
			f.RenderErr = &render.AddressError{Reason: gwv1.GatewayReasonUnsupportedAddress, Message: "Gateway team-a/gw spec.addresses[0]: type \"Hostname\" is not supported"}
		}, metav1.ConditionFalse, "Invalid", "Gateway is not accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ready()
			tc.change(&f)
			st := gatewayStatus(gwv1.GatewayStatus{}, f, t0)
			var c *metav1.Condition
			for i := range st.Conditions {
				if st.Conditions[i].Type == "Programmed" {
					c = &st.Conditions[i]
				}
			}
			if c == nil {
				t.Fatal("no Programmed condition")
			}
			if c.Status != tc.status || c.Reason != tc.reason || c.Message != tc.message || c.ObservedGeneration != 3 {
				t.Errorf("got %s/%s %q gen %d, want %s/%s %q gen 3", c.Status, c.Reason, c.Message, c.ObservedGeneration, tc.status, tc.reason, tc.message)
			}
		})
	}
}

func TestAcceptedCondition(t *testing.T) {
	bad := listenerOK()
	bad.Name = "bad"
	bad.Conditions = []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "UnsupportedProtocol"}}
	for _, tc := range []struct {
		name            string
		change          func(*gatewayFacts)
		status          metav1.ConditionStatus
		reason, message string
	}{
		{"accepted", func(*gatewayFacts) {}, metav1.ConditionTrue, "Accepted", "Gateway accepted by berth"},
		{"parameters", func(f *gatewayFacts) {
			f.RenderErr = &render.ParametersError{Referrer: "Gateway team-a/gw", Ref: "EnvoyProxy team-a/p", Reason: render.ParametersInvalid, Err: errors.New("spec.x: bad")}
		}, metav1.ConditionFalse, "InvalidParameters", ""},
		{"gateway error", func(f *gatewayFacts) {
			f.RenderErr = &render.GatewayError{Gateway: "team-a/gw", Err: errors.New("no listeners")}
		},
			metav1.ConditionFalse, "Invalid", ""},
		{"no listener berth serves", func(f *gatewayFacts) {
			f.RenderErr = &render.GatewayError{Gateway: "team-a/gw", Err: errors.Join(render.ErrNoServedListeners)}
			f.Translation.Listeners = []translate.ListenerStatus{bad}
		}, metav1.ConditionFalse, "ListenersNotValid", ""},
		{"some listeners invalid", func(f *gatewayFacts) { f.Translation.Listeners = append(f.Translation.Listeners, bad) },
			metav1.ConditionTrue, "ListenersNotValid", "invalid listeners: bad"},
		{"all listeners invalid", func(f *gatewayFacts) { f.Translation.Listeners = []translate.ListenerStatus{bad} },
			metav1.ConditionFalse, "ListenersNotValid", "no listener is valid: bad"},
		{"unsupported fields", func(f *gatewayFacts) {
			f.Unsupported = []render.Unsupported{{EnvoyProxy: k8stypes.NamespacedName{Namespace: "team-a", Name: "p"}, Field: "spec.telemetry"}}
		}, metav1.ConditionTrue, "Accepted", ""},
		{"unsupported address", func(f *gatewayFacts) {
			f.RenderErr = &render.AddressError{Reason: gwv1.GatewayReasonUnsupportedAddress, Message: "Gateway team-a/gw spec.addresses[0]: bad"}
		}, metav1.ConditionFalse, "UnsupportedAddress", ""},
		{"address the Service type cannot take: accepted", func(f *gatewayFacts) {
			f.RenderErr = &render.AddressError{Reason: gwv1.GatewayReasonAddressNotUsable, Message: "Gateway team-a/gw spec.addresses: NodePort"}
		}, metav1.ConditionTrue, "Accepted", "Gateway accepted by berth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ready()
			tc.change(&f)
			c := acceptedCondition(f)
			want := tc.message
			if want == "" && f.RenderErr != nil {
				want = f.RenderErr.Error()
			}
			if want == "" && len(f.Unsupported) > 0 {
				want = "Gateway accepted by berth; " + unsupportedMessage(f.Unsupported)
			}
			if c.Status != tc.status || c.Reason != tc.reason || c.Message != want {
				t.Errorf("got %s/%s %q, want %s/%s %q", c.Status, c.Reason, c.Message, tc.status, tc.reason, want)
			}
		})
	}
}

func TestGatewayStatusKeepsTransitionTimesAndIsStable(t *testing.T) {
	first := gatewayStatus(gwv1.GatewayStatus{}, ready(), t0)
	second := gatewayStatus(first, ready(), t1)
	for _, c := range append(second.Conditions, second.Listeners[0].Conditions...) {
		if !c.LastTransitionTime.Equal(&t0) {
			t.Errorf("%s transition time moved on a no-op: %s", c.Type, c.LastTransitionTime)
		}
	}
	// No-op resyncs must produce an identical status (no write).
	if !equality.Semantic.DeepEqual(first, second) {
		t.Errorf("status changed on a no-op: %+v → %+v", first, second)
	}
	f := ready()
	f.PublishedVersion = "old"
	third := gatewayStatus(second, f, t1)
	for _, c := range third.Conditions {
		if c.Type == "Programmed" && !c.LastTransitionTime.Equal(&t1) {
			t.Errorf("Programmed flipped without a new transition time")
		}
		if c.Type == "Accepted" && !c.LastTransitionTime.Equal(&t0) {
			t.Errorf("Accepted kept its status but its transition time moved")
		}
	}
	// The CRD's default conditions (Unknown/Pending) are replaced, stale types dropped.
	withDefaults := gwv1.GatewayStatus{Conditions: []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionUnknown, Reason: "Pending"},
		{Type: "Scheduled", Status: metav1.ConditionTrue, Reason: "Scheduled"},
	}}
	st := gatewayStatus(withDefaults, ready(), t0)
	if len(st.Conditions) != 3 || st.Conditions[0].Type != "Accepted" || st.Conditions[1].Type != "Programmed" || st.Conditions[2].Type != readiness.InputsCondition {
		t.Errorf("conditions %+v, want Accepted, Programmed, then the inputs", st.Conditions)
	}
}

// When the inputs of a Programmed=True status change, the status written
// first says Pending and names what changed; the new inputs are recorded.
func TestInputsChangedStatus(t *testing.T) {
	class := readiness.Input{Kind: "GatewayClass", Name: "berth", UID: "c", Generation: 1}
	proxy := readiness.Input{Kind: "EnvoyProxy", Namespace: "team-a", Name: "p", UID: "p", Generation: 4}
	route := readiness.Input{Kind: "HTTPRoute", Namespace: "team-a", Name: "r", UID: "r", Generation: 2}
	policy := readiness.Input{Kind: "ClientTrafficPolicy", Namespace: "team-a", Name: "ctp", UID: "ctp", Generation: 1}
	before := recordedInputs{Gateway: readiness.Inputs{class, proxy}, XDS: readiness.Inputs{route, policy}}
	programmed := gatewayStatus(gwv1.GatewayStatus{}, func() gatewayFacts {
		f := ready()
		f.Inputs, f.XDS = before.Gateway, before.XDS
		f.Translation.Inputs, f.Translation.XDSInputs = before.Gateway.Digest(), before.XDS.Digest()
		return f
	}(), t0)
	if c := meta.FindStatusCondition(programmed.Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("setup: %+v", programmed.Conditions)
	}
	proxy5, route3, policy2 := proxy, route, policy
	proxy5.Generation, route3.Generation, policy2.Generation = 5, 3, 2
	for _, tc := range []struct {
		name         string
		gen          int64
		gateway, xds readiness.Inputs
		prev         *recordedInputs
		want         string // "" : nothing written
	}{
		{"unchanged", 3, before.Gateway, before.XDS, &before, ""},
		{"EnvoyProxy changed", 3, readiness.Inputs{class, proxy5}, before.XDS, &before, "inputs changed (EnvoyProxy team-a/p generation 4→5): applying"},
		{"route changed", 3, before.Gateway, readiness.Inputs{route3, policy}, &before, "inputs changed (HTTPRoute team-a/r generation 2→3): applying"},
		{"route removed", 3, before.Gateway, readiness.Inputs{policy}, &before, "inputs changed (HTTPRoute team-a/r removed): applying"},
		{"policy changed", 3, before.Gateway, readiness.Inputs{route, policy2}, &before, "inputs changed (ClientTrafficPolicy team-a/ctp generation 1→2): applying"},
		{"class parametersRef gone", 3, readiness.Inputs{class}, before.XDS, &before, "inputs changed (EnvoyProxy team-a/p removed): applying"},
		{"changed, nothing remembered", 3, readiness.Inputs{class, proxy5}, before.XDS, nil, "inputs changed (its class, EnvoyProxies, routes or policies): applying"},
		{"Gateway generation", 4, before.Gateway, before.XDS, &before, "inputs changed (Gateway generation 3→4): applying"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, changed := inputsChangedStatus(programmed, tc.gen, tc.gateway, tc.xds, tc.prev, t1)
			if changed != (tc.want != "") {
				t.Fatalf("changed = %t, want %t", changed, tc.want != "")
			}
			if !changed {
				return
			}
			c := meta.FindStatusCondition(st.Conditions, "Programmed")
			if c.Status != metav1.ConditionFalse || c.Reason != "Pending" || c.Message != tc.want || c.ObservedGeneration != tc.gen {
				t.Errorf("Programmed %s/%s %q gen %d, want False/Pending %q gen %d", c.Status, c.Reason, c.Message, c.ObservedGeneration, tc.want, tc.gen)
			}
			rec := readiness.Gateway{Generation: tc.gen, Conditions: st.Conditions}.Recorded()
			if !rec.Found || rec.Gateway != tc.gateway.Digest() || rec.XDS != tc.xds.Digest() {
				t.Errorf("recorded %+v, want the new inputs", rec)
			}
		})
	}
	// A status that is not Programmed=True is left to the reconcile.
	pending := *programmed.DeepCopy()
	meta.SetStatusCondition(&pending.Conditions, metav1.Condition{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Pending"})
	if _, changed := inputsChangedStatus(pending, 3, readiness.Inputs{class, proxy5}, before.XDS, &before, t1); changed {
		t.Error("a Pending status was rewritten")
	}
}

func TestServiceAddresses(t *testing.T) {
	ip, host := gwv1.IPAddressType, gwv1.HostnameAddressType
	lb := clusterIPService()
	lb.Spec.Type = corev1.ServiceTypeLoadBalancer
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}, {Hostname: "lb.example.com"}}
	np := clusterIPService()
	np.Spec.Type = corev1.ServiceTypeNodePort
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		want []gwv1.GatewayStatusAddress
	}{
		{"nil", nil, nil},
		{"ClusterIP", clusterIPService(), []gwv1.GatewayStatusAddress{{Type: &ip, Value: "10.0.0.7"}}},
		{"NodePort uses the clusterIP", np, []gwv1.GatewayStatusAddress{{Type: &ip, Value: "10.0.0.7"}}},
		{"LoadBalancer ingress, not the clusterIP", lb, []gwv1.GatewayStatusAddress{{Type: &ip, Value: "192.0.2.1"}, {Type: &host, Value: "lb.example.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := serviceAddresses(tc.svc)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if *got[i].Type != *tc.want[i].Type || got[i].Value != tc.want[i].Value {
					t.Errorf("[%d] got %s %s, want %s %s", i, *got[i].Type, got[i].Value, *tc.want[i].Type, tc.want[i].Value)
				}
			}
		})
	}
}

func TestRouteParents(t *testing.T) {
	const ours, theirs = gwv1.GatewayController("berth"), gwv1.GatewayController("other")
	refA, refB, refC := gwv1.ParentReference{Name: "a"}, gwv1.ParentReference{Name: "b"}, gwv1.ParentReference{Name: "c"}
	accepted := []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}}
	old := []gwv1.RouteParentStatus{
		{ParentRef: refC, ControllerName: theirs, Conditions: accepted},
		{ParentRef: refB, ControllerName: ours, Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: t0}}},
		{ParentRef: gwv1.ParentReference{Name: "gone"}, ControllerName: ours, Conditions: accepted},
	}
	got := routeParents(old, ours, []parentEntry{
		{Ref: refA, Fact: &routeFact{ParentRef: refA, RouteGeneration: 2, Conditions: accepted}},
		{Ref: refB}, // facts unknown: kept as is
		{Ref: refA}, // duplicate parentRef: written once
	}, t1)
	if len(got) != 3 {
		t.Fatalf("got %d parents, want 3 (theirs, a, b): %+v", len(got), got)
	}
	if got[0].ControllerName != theirs || got[0].ParentRef.Name != "c" {
		t.Errorf("other controller's entry not kept first: %+v", got[0])
	}
	if got[1].ParentRef.Name != "a" || got[1].Conditions[0].ObservedGeneration != 2 || !got[1].Conditions[0].LastTransitionTime.Equal(&t1) {
		t.Errorf("entry for a: %+v", got[1])
	}
	if got[2].ParentRef.Name != "b" || got[2].Conditions[0].ObservedGeneration != 1 || !got[2].Conditions[0].LastTransitionTime.Equal(&t0) {
		t.Errorf("entry for b should be kept unchanged: %+v", got[2])
	}
}

func TestClassStatus(t *testing.T) {
	st := classStatus(gwv1.GatewayClassStatus{}, classFacts{Generation: 2, Features: []gwv1.FeatureName{"Gateway", "HTTPRoute"}}, t0)
	if c := st.Conditions[0]; c.Status != metav1.ConditionTrue || c.Reason != "Accepted" || c.ObservedGeneration != 2 {
		t.Errorf("accepted class: %+v", c)
	}
	if len(st.SupportedFeatures) != 2 || st.SupportedFeatures[0].Name != "Gateway" {
		t.Errorf("features %+v", st.SupportedFeatures)
	}
	pe := &render.ParametersError{Referrer: "GatewayClass eg", Ref: "EnvoyProxy team-a/p", Reason: render.ParametersNotFound, Err: errors.New("not found")}
	st = classStatus(st, classFacts{Generation: 3, ParamsErr: pe}, t1)
	if c := st.Conditions[0]; c.Status != metav1.ConditionFalse || c.Reason != "InvalidParameters" || c.Message != pe.Error() || !c.LastTransitionTime.Equal(&t1) {
		t.Errorf("invalid parameters: %+v", c)
	}
}

func TestOwningGateway(t *testing.T) {
	inv := InventoryOf(k8stypes.NamespacedName{Namespace: "team-a", Name: "gateway-a"})
	if got, ok := owningGateway(inv); !ok || got.Name != "gateway-a" || got.Namespace != "team-a" {
		t.Errorf("owningGateway = %v %v", got, ok)
	}
	forged := inv
	forged.Labels = map[string]string{render.LabelOwningGatewayNamespace: "team-b", render.LabelOwningGatewayName: "gateway-a"}
	if _, ok := owningGateway(forged); ok {
		t.Error("an inventory in team-a claiming a Gateway of team-b must not be attributed")
	}
}

// TestAwaitFacts: a status is written without the translation of the
// Gateway's generation, or while apply's watch does not show an object the
// reconcile's run just applied, only when it reports a failure.
func TestAwaitFacts(t *testing.T) {
	notSeen := func(f *gatewayFacts) {
		f.Objects.Objects[0].Status = apply.StatusNotFound
		f.Objects.Status = apply.StatusNotFound
	}
	for _, tc := range []struct {
		name   string
		change func(*gatewayFacts)
		want   bool
	}{
		{"translated", func(*gatewayFacts) {}, false},
		{"not translated", func(f *gatewayFacts) { f.Translation = nil }, true},
		{"not translated, render failed", func(f *gatewayFacts) { f.Translation, f.RenderErr = nil, errors.New("bad") }, false},
		{"not translated, apply failed", func(f *gatewayFacts) { f.Translation, f.ApplyErr = nil, errors.New("bad") }, false},
		{"not translated, object refused", func(f *gatewayFacts) {
			f.Translation, f.Failed = nil, []apply.ObjectResult{{Ref: deployRef(), Action: apply.ActionSkipped}}
		}, false},
		{"just applied, not seen yet", func(f *gatewayFacts) { notSeen(f); f.Applied = []apply.ObjectRef{deployRef()} }, true},
		{"not found, not applied by this reconcile (deleted)", notSeen, false},
		{"just applied, not seen, the run failed", func(f *gatewayFacts) {
			notSeen(f)
			f.Applied, f.ApplyErr = []apply.ObjectRef{deployRef()}, errors.New("bad")
		}, false},
		{"just applied and seen", func(f *gatewayFacts) { f.Applied = []apply.ObjectRef{deployRef()} }, false},
	} {
		f := ready()
		tc.change(&f)
		if got := awaitFacts(f); got != tc.want {
			t.Errorf("%s: awaitFacts = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPendingMessageOnly: only a change of the message of a Programmed
// condition that stays False for the same reason and generation is one a
// status write may leave for later.
func TestPendingMessageOnly(t *testing.T) {
	now := metav1.Now()
	pending := func(change func(*gatewayFacts)) gwv1.GatewayStatus {
		f := ready()
		change(&f)
		return gatewayStatus(gwv1.GatewayStatus{}, f, now)
	}
	progress := func(msg string) func(*gatewayFacts) {
		return func(f *gatewayFacts) {
			f.Objects.Status = apply.StatusInProgress
			f.Objects.Objects[0].Status, f.Objects.Objects[0].Message = apply.StatusInProgress, msg
		}
	}
	old := pending(func(f *gatewayFacts) { f.Objects = apply.AggregateStatus{} }) // waiting for the inventory
	if c := meta.FindStatusCondition(old.Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "Pending" {
		t.Fatalf("setup: Programmed %+v", c)
	}
	if !pendingMessageOnly(old, pending(progress("Available: 0/1"))) {
		t.Error("another object waited for: want it left for later")
	}
	// A Deployment's progress is no change at all (blockingMessage): a new
	// Gateway's Pending status is written once however slowly its
	// Deployment becomes Available.
	if got, want := pending(progress("Replicas: 0/1")), pending(progress("Available: 0/1")); !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("a Deployment's progress changed the status:\n%+v\n%+v", got.Conditions, want.Conditions)
	}
	if pendingMessageOnly(old, old) {
		t.Error("no change at all is not a message change")
	}
	if pendingMessageOnly(old, gatewayStatus(old, ready(), now)) {
		t.Error("Programmed=True must be written at once")
	}
	other := pending(progress("Available: 0/1"))
	other.Listeners = nil
	if pendingMessageOnly(old, other) {
		t.Error("a change beside the message must be written at once")
	}
	gen := pending(progress("Available: 0/1"))
	meta.FindStatusCondition(gen.Conditions, "Programmed").ObservedGeneration++
	if pendingMessageOnly(old, gen) {
		t.Error("a new generation must be written at once")
	}
}

func TestInitialStatusHold(t *testing.T) {
	created := t0.Time
	const delay = 10 * time.Second
	crdDefault := gwv1.GatewayStatus{Conditions: []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionUnknown, Reason: "Pending", Message: "Waiting for controller"},
		{Type: "Programmed", Status: metav1.ConditionUnknown, Reason: "Pending", Message: "Waiting for controller"},
	}}
	onItsWay := func(change func(*gatewayFacts)) gwv1.GatewayStatus {
		f := ready()
		f.Objects.Status = apply.StatusInProgress
		f.Objects.Objects[0].Status = apply.StatusInProgress
		if change != nil {
			change(&f)
		}
		return gatewayStatus(crdDefault, f, t1)
	}
	listener := func(c metav1.Condition) func(*gatewayFacts) {
		return func(f *gatewayFacts) {
			l := listenerOK()
			l.Conditions = append(l.Conditions, c)
			f.Translation.Listeners = []translate.ListenerStatus{l}
		}
	}
	written := gatewayStatus(crdDefault, ready(), t1)
	for _, tc := range []struct {
		name  string
		old   gwv1.GatewayStatus
		next  gwv1.GatewayStatus
		worst apply.Status
		age   time.Duration
		delay time.Duration
		want  time.Duration
		facts func(*gatewayFacts) // beside worst, what else the reconcile found
	}{
		{"new and on its way: held for the rest of the delay", crdDefault, onItsWay(nil), apply.StatusInProgress, 3 * time.Second, delay, 7 * time.Second, nil},
		{"no status at all (created without the CRD's defaults)", gwv1.GatewayStatus{}, onItsWay(nil), apply.StatusInProgress, 0, delay, delay, nil},
		{"objects just created", crdDefault, onItsWay(nil), apply.StatusNotFound, 0, delay, delay, nil},
		{"a listener Programmed=False/Pending with it", crdDefault, onItsWay(listener(metav1.Condition{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Pending"})), apply.StatusInProgress, time.Second, delay, 9 * time.Second, nil},
		{"listener not conflicted", crdDefault, onItsWay(listener(metav1.Condition{Type: "Conflicted", Status: metav1.ConditionFalse, Reason: "NoConflicts"})), apply.StatusInProgress, 0, delay, delay, nil},
		{"the delay is over", crdDefault, onItsWay(nil), apply.StatusInProgress, delay, delay, 0, nil},
		{"delay 0: at once", crdDefault, onItsWay(nil), apply.StatusInProgress, 0, 0, 0, nil},
		{"Programmed: written at once", crdDefault, written, apply.StatusCurrent, 0, delay, 0, nil},
		{"berth wrote a status before", onItsWay(nil), onItsWay(func(f *gatewayFacts) { f.Objects.Objects[0].Message = "x" }), apply.StatusInProgress, 0, delay, 0, nil},
		{"a listener conflicted", crdDefault, onItsWay(listener(metav1.Condition{Type: "Conflicted", Status: metav1.ConditionTrue, Reason: "HostnameConflict"})), apply.StatusInProgress, 0, delay, 0, nil},
		{"a listener's refs unresolved", crdDefault, onItsWay(listener(metav1.Condition{Type: "ResolvedRefs", Status: metav1.ConditionFalse, Reason: "InvalidCertificateRef"})), apply.StatusInProgress, 0, delay, 0, nil},
		{"an object failed", crdDefault, onItsWay(func(f *gatewayFacts) {
			f.Objects.Status, f.Objects.Objects[0].Status = apply.StatusFailed, apply.StatusFailed
		}), apply.StatusFailed, 0, delay, 0, nil},
		{"an object going away", crdDefault, onItsWay(func(f *gatewayFacts) {
			f.Objects.Status, f.Objects.Objects[0].Status = apply.StatusTerminating, apply.StatusTerminating
		}), apply.StatusTerminating, 0, delay, 0, nil},
		{"not accepted", crdDefault, onItsWay(func(f *gatewayFacts) { f.RenderErr = &render.ParametersError{Err: errors.New("bad")} }), apply.StatusInProgress, 0, delay, 0, nil},
		{"no address assigned", crdDefault, onItsWay(func(f *gatewayFacts) {
			f.Objects.Status, f.Objects.Objects[0].Status = apply.StatusCurrent, apply.StatusCurrent
			f.Service = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "s"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
		}), apply.StatusCurrent, 0, delay, 0, nil},
		{"created in this process's future (clock skew): at most the delay", crdDefault, onItsWay(nil), apply.StatusInProgress, -time.Hour, delay, delay, nil},
		{"an unsupported EnvoyProxy field to report", crdDefault, onItsWay(nil), apply.StatusInProgress, 0, delay, 0, func(f *gatewayFacts) {
			f.Unsupported = []render.Unsupported{{Field: "spec.telemetry"}}
		}},
		{"a kept object to report", crdDefault, onItsWay(nil), apply.StatusInProgress, 0, delay, 0, func(f *gatewayFacts) { f.Kept = []render.Collision{{}} }},
		{"a roll to report", crdDefault, onItsWay(nil), apply.StatusInProgress, 0, delay, 0, func(f *gatewayFacts) { f.Roll = "roll queued" }},
		{"another Gateway condition (insecure frontend validation)", crdDefault, func() gwv1.GatewayStatus {
			st := onItsWay(nil)
			st.Conditions = append(st.Conditions, metav1.Condition{Type: "InsecureFrontendValidationMode", Status: metav1.ConditionTrue, Reason: "ConfigurationChanged"})
			return st
		}(), apply.StatusInProgress, 0, delay, 0, nil},
		{"an unknown listener condition", crdDefault, onItsWay(listener(metav1.Condition{Type: "OverlappingTLSConfig", Status: metav1.ConditionTrue, Reason: "OverlappingHostnames"})), apply.StatusInProgress, 0, delay, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := gatewayFacts{Objects: apply.AggregateStatus{Status: tc.worst}}
			if tc.facts != nil {
				tc.facts(&f)
			}
			if got := initialStatusHold(tc.old, tc.next, f, created, created.Add(tc.age), tc.delay); got != tc.want {
				t.Errorf("hold %s, want %s", got, tc.want)
			}
		})
	}
}
