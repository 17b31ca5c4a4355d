package controller

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

// This file is pure: status is computed from facts the reconcilers gather,
// so every rule below is table-tested without a cluster.

// gatewayFacts is everything a Gateway's status depends on.
type gatewayFacts struct {
	// Generation of the Gateway the status describes.
	Generation int64
	// RenderErr is why no bundle could be rendered (*render.ParametersError,
	// *render.GatewayError or another error); nil when rendered.
	RenderErr error
	// Unsupported EnvoyProxy fields of the rendered bundle (reported, not fatal).
	Unsupported []render.Unsupported
	// Kept are the bundle's objects that Gateways created later name too
	// (they are refused; render.Bundle.Kept), noted in Accepted's message.
	Kept []render.Collision
	// Translation holds the listener facts and the version the proxy must
	// receive; nil until the Gateway's current generation was translated.
	Translation *translated
	// PublishedVersion is the snapshot version the xDS server serves ("" none).
	PublishedVersion string
	// ApplyErr is a run-level apply error (inventory, namespace terminating).
	ApplyErr error
	// Failed are the objects the last run failed or refused (ownership).
	Failed []apply.ObjectResult
	// Objects is the watched status of the bundle's inventory.
	Objects apply.AggregateStatus
	// Applied are the objects this reconcile's apply run created or
	// applied (none when it ran no apply).
	Applied []apply.ObjectRef
	// Service is the bundle's Service as watched (nil when not seen yet).
	Service *corev1.Service
	// Requested are the static addresses of spec.addresses
	// (render.RequestedAddresses).
	Requested []string
	// Roll is the roll budget's note on a queued, rolling or stuck pod
	// template change ("" when none), appended to Programmed's message.
	Roll string
	// Inputs are the class and EnvoyProxies the bundle was rendered from;
	// XDS are the routes and policies of the Gateway (readiness.InputKinds),
	// as cached now. Both are recorded in the InputsCondition beside
	// Programmed.
	Inputs, XDS readiness.Inputs
}

// translated is what the xDS side learned about one Gateway generation.
type translated struct {
	Generation int64
	// Inputs and XDSInputs are the digests of the inputs this translation
	// read: the class and EnvoyProxies (readiness.GatewayInputs; access
	// logs come from the EnvoyProxies) and the routes and policies
	// (readiness.SelectInputs). Programmed waits until they are the
	// status's.
	Inputs, XDSInputs string
	Version           string
	Listeners         []translate.ListenerStatus
	// Conditions are the Gateway-level conditions translation decided
	// (translate.Result.Conditions).
	Conditions []metav1.Condition
	// ListenerSets are the statuses of the ListenerSets naming the
	// Gateway, AttachedListenerSets how many of them are Accepted
	// (translate.Result).
	ListenerSets         []translate.ListenerSetStatus
	AttachedListenerSets int32
	// Err is a translation or publish failure.
	Err error
}

// gatewayStatus computes a Gateway's status from facts, keeping the
// lastTransitionTime of conditions whose status did not change.
func gatewayStatus(old gwv1.GatewayStatus, f gatewayFacts, now metav1.Time) gwv1.GatewayStatus {
	st := *old.DeepCopy()
	accepted := acceptedCondition(f)
	setCondition(&st.Conditions, accepted, now)
	programmed := programmedCondition(f, accepted.Status == metav1.ConditionTrue)
	setCondition(&st.Conditions, programmed, now)
	setCondition(&st.Conditions, inputsCondition(f.Generation, f.Inputs, f.XDS), now)
	keep := []string{string(gwv1.GatewayConditionAccepted), string(gwv1.GatewayConditionProgrammed), readiness.InputsCondition}
	st.Conditions = keepConditions(st.Conditions, append(keep, translationConditions(&st.Conditions, f, now)...)...)
	st.Addresses = serviceAddresses(f.Service)
	if f.Translation != nil {
		st.Listeners = listenerStatuses(old.Listeners, f.Translation.Listeners, f.Generation, now)
		attached := f.Translation.AttachedListenerSets
		if accepted.Status != metav1.ConditionTrue {
			attached = 0 // its ListenerSets are ParentNotAccepted (translate.ListenerSetStatusOf)
		}
		st.AttachedListenerSets = &attached
	}
	return st
}

// awaitFacts reports whether a status write should wait for facts on their
// way: the translation of the Gateway's generation (without it the status
// would miss the listeners and their verdict), or apply's watch showing an
// object this reconcile's run just created or applied (it would say
// NotFound). Either way a second write would follow as soon as the fact
// arrives, and its arrival wakes the Gateway. Failures (render, apply,
// refused objects) are written at once.
func awaitFacts(f gatewayFacts) bool {
	if f.RenderErr != nil || f.ApplyErr != nil || len(f.Failed) > 0 {
		return false
	}
	if f.Translation == nil {
		return true
	}
	for _, o := range f.Objects.Objects {
		if o.Status == apply.StatusNotFound && slices.Contains(f.Applied, o.Ref) {
			return true
		}
	}
	return false
}

// pendingMessageOnly reports whether next differs from old only in the
// message of a Programmed condition that stays False for the same reason
// and generation (a Deployment making progress).
func pendingMessageOnly(old, next gwv1.GatewayStatus) bool {
	typ := string(gwv1.GatewayConditionProgrammed)
	o, n := meta.FindStatusCondition(old.Conditions, typ), meta.FindStatusCondition(next.Conditions, typ)
	if o == nil || n == nil || o.Status != metav1.ConditionFalse || n.Status != metav1.ConditionFalse ||
		o.Reason != n.Reason || o.ObservedGeneration != n.ObservedGeneration || o.Message == n.Message {
		return false
	}
	same := *next.DeepCopy()
	meta.FindStatusCondition(same.Conditions, typ).Message = o.Message
	return equality.Semantic.DeepEqual(same, old)
}

// initialStatusHold returns how much longer a new Gateway's first status
// may wait (Options.InitialStatusDelay): while the Gateway, created at
// created, is younger than delay, its status old is still the CRD's default
// (nothing berth wrote: every condition Unknown, no listeners or addresses)
// and next, computed from f, would only say it is accepted and on its way
// (onlyOnItsWay): no unsupported field, kept object or roll to report, its
// bundle's objects being created or becoming ready, none failed or going
// away. Zero means write now. The wait never exceeds delay, whatever the
// skew between the apiserver's clock (created) and this process's (now).
func initialStatusHold(old, next gwv1.GatewayStatus, f gatewayFacts, created, now time.Time, delay time.Duration) time.Duration {
	left := min(created.Add(delay).Sub(now), delay)
	if delay <= 0 || left <= 0 || !defaultStatus(old) || !onlyOnItsWay(next) ||
		len(f.Unsupported) > 0 || len(f.Kept) > 0 || f.Roll != "" {
		return 0
	}
	switch f.Objects.Status {
	case "", apply.StatusCurrent, apply.StatusInProgress, apply.StatusNotFound:
		return left
	}
	return 0
}

// defaultStatus reports whether st is the status a Gateway is created with
// (the CRD's defaults, or none): no controller has written it.
func defaultStatus(st gwv1.GatewayStatus) bool {
	if len(st.Listeners) > 0 || len(st.Addresses) > 0 {
		return false
	}
	for _, c := range st.Conditions {
		if c.Status != metav1.ConditionUnknown {
			return false
		}
	}
	return true
}

// onlyOnItsWay reports whether st says nothing but "accepted, the data
// plane is on its way": Accepted=True (reason Accepted: every listener
// valid), Programmed=False for reason Pending, ResolvedRefs (when present)
// True, and every listener Accepted, ResolvedRefs and (when present)
// Programmed True — Programmed may be Pending too — and not Conflicted. Any
// other condition, or any other state of these, is news to write at once.
func onlyOnItsWay(st gwv1.GatewayStatus) bool {
	is := func(c metav1.Condition, status metav1.ConditionStatus, reason string) bool {
		return c.Status == status && (reason == "" || c.Reason == reason)
	}
	var accepted, pending bool
	for _, c := range st.Conditions {
		switch c.Type {
		case string(gwv1.GatewayConditionAccepted):
			accepted = is(c, metav1.ConditionTrue, string(gwv1.GatewayReasonAccepted))
		case string(gwv1.GatewayConditionProgrammed):
			pending = is(c, metav1.ConditionFalse, string(gwv1.GatewayReasonPending))
		case string(gwv1.GatewayConditionResolvedRefs):
			if !is(c, metav1.ConditionTrue, "") {
				return false
			}
		case readiness.InputsCondition:
		default:
			return false
		}
	}
	if !accepted || !pending {
		return false
	}
	for _, l := range st.Listeners {
		for _, c := range l.Conditions {
			var ok bool
			switch c.Type {
			case string(gwv1.ListenerConditionAccepted), string(gwv1.ListenerConditionResolvedRefs):
				ok = is(c, metav1.ConditionTrue, "")
			case string(gwv1.ListenerConditionConflicted):
				ok = is(c, metav1.ConditionFalse, "")
			case string(gwv1.ListenerConditionProgrammed):
				ok = is(c, metav1.ConditionTrue, "") || is(c, metav1.ConditionFalse, string(gwv1.ListenerReasonPending))
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

func acceptedCondition(f gatewayFacts) metav1.Condition {
	c := metav1.Condition{Type: string(gwv1.GatewayConditionAccepted), ObservedGeneration: f.Generation}
	var pe *render.ParametersError
	switch {
	case errors.As(f.RenderErr, &pe):
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonInvalidParameters), pe.Error()
		return c
	case addressError(f.RenderErr, gwv1.GatewayReasonUnsupportedAddress) != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonUnsupportedAddress), f.RenderErr.Error()
		return c
	case addressError(f.RenderErr, gwv1.GatewayReasonAddressNotUsable) != nil:
		// Accepted; not Programmed (programmedCondition).
	case errors.Is(f.RenderErr, render.ErrNoServedListeners):
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonListenersNotValid), f.RenderErr.Error()
		return c
	case f.RenderErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), f.RenderErr.Error()
		return c
	}
	c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gwv1.GatewayReasonAccepted), "Gateway accepted by berth"
	if f.Translation != nil && len(f.Translation.Listeners) > 0 {
		var invalid []string
		for _, l := range f.Translation.Listeners {
			if a := l.Condition(gwv1.ListenerConditionAccepted); a != nil && a.Status != metav1.ConditionTrue {
				invalid = append(invalid, string(l.Name))
			}
		}
		if len(invalid) == len(f.Translation.Listeners) {
			c.Status, c.Reason = metav1.ConditionFalse, string(gwv1.GatewayReasonListenersNotValid)
			c.Message = "no listener is valid: " + strings.Join(invalid, ", ")
		} else if len(invalid) > 0 {
			c.Reason = string(gwv1.GatewayReasonListenersNotValid)
			c.Message = "invalid listeners: " + strings.Join(invalid, ", ")
		}
	}
	if c.Status == metav1.ConditionTrue && len(f.Unsupported) > 0 {
		c.Message += "; " + unsupportedMessage(f.Unsupported)
	}
	if c.Status == metav1.ConditionTrue {
		for _, k := range f.Kept {
			c.Message += "; " + k.String()
		}
	}
	return c
}

// unsupportedMessage lists EnvoyProxy fields berth does not implement.
func unsupportedMessage(u []render.Unsupported) string {
	s := make([]string, 0, len(u))
	for _, x := range u {
		s = append(s, x.String())
	}
	sort.Strings(s)
	return "fields berth does not implement are ignored: " + strings.Join(s, ", ")
}

// programmedCondition implements DESIGN §6: True only when accepted, applied
// cleanly, every inventory object Current, the Service has an address and the
// current xDS snapshot is published. Otherwise the message names what holds
// the Gateway back.
func programmedCondition(f gatewayFacts, accepted bool) metav1.Condition {
	c := metav1.Condition{Type: string(gwv1.GatewayConditionProgrammed), ObservedGeneration: f.Generation, Status: metav1.ConditionFalse}
	switch {
	case !accepted:
		c.Reason, c.Message = string(gwv1.GatewayReasonInvalid), "Gateway is not accepted"
	case addressError(f.RenderErr, gwv1.GatewayReasonAddressNotUsable) != nil:
		c.Reason, c.Message = string(gwv1.GatewayReasonAddressNotUsable), f.RenderErr.Error()
	case addressesUnusable(f) != "":
		c.Reason, c.Message = string(gwv1.GatewayReasonAddressNotUsable), addressesUnusable(f)
	case f.ApplyErr != nil:
		c.Reason, c.Message = string(gwv1.GatewayReasonNoResources), f.ApplyErr.Error()
	case len(f.Failed) > 0:
		o := f.Failed[0]
		c.Reason, c.Message = string(gwv1.GatewayReasonNoResources), fmt.Sprintf("%s: %s: %s", objectName(o.Ref), o.Action, o.Reason)
	case !f.Objects.Known:
		c.Reason, c.Message = string(gwv1.GatewayReasonPending), "waiting for the bundle's inventory"
	case !f.Objects.AllCurrent():
		c.Reason, c.Message = string(gwv1.GatewayReasonPending), blockingMessage(f.Objects.Blocking())
	case f.Service == nil:
		c.Reason, c.Message = string(gwv1.GatewayReasonPending), "waiting for the bundle's Service"
	case len(serviceAddresses(f.Service)) == 0:
		c.Reason = string(gwv1.GatewayReasonAddressNotAssigned)
		c.Message = fmt.Sprintf("Service %s/%s: no address assigned", f.Service.Namespace, f.Service.Name)
		switch {
		case f.Service.Spec.Type == corev1.ServiceTypeLoadBalancer && len(f.Requested) > 0:
			// A load balancer leaves a Service pending when it cannot own
			// the requested address (outside its pools, or taken): berth
			// cannot tell that from slowness, so it says both.
			c.Message = fmt.Sprintf("Service %s/%s: the load balancer has not assigned the requested %s (spec.addresses); it never will if the address is outside its pools or taken", f.Service.Namespace, f.Service.Name, strings.Join(f.Requested, ", "))
		case f.Service.Spec.Type == corev1.ServiceTypeLoadBalancer:
			c.Message = fmt.Sprintf("Service %s/%s: waiting for a load-balancer address (status.loadBalancer.ingress is empty)", f.Service.Namespace, f.Service.Name)
		}
	case f.Translation == nil:
		c.Reason, c.Message = string(gwv1.GatewayReasonPending), "xDS configuration not translated yet"
	case f.Translation.Inputs != f.Inputs.Digest() || f.Translation.XDSInputs != f.XDS.Digest():
		c.Reason, c.Message = string(gwv1.GatewayReasonPending), "xDS configuration not translated for the current inputs yet"
	case f.Translation.Err != nil:
		c.Reason, c.Message = string(gwv1.GatewayReasonInvalid), "xDS configuration: "+f.Translation.Err.Error()
	case f.PublishedVersion != f.Translation.Version:
		c.Reason, c.Message = string(gwv1.GatewayReasonPending), "xDS configuration not published yet"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed), "bundle ready and xDS configuration published"
	}
	if f.Roll != "" && accepted {
		c.Message += "; " + f.Roll
	}
	return c
}

// blockingMessage names the bundle object a Gateway waits for and its
// kstatus ("Deployment team-a/envoy-…: InProgress"). The progress detail of
// an object in progress (kstatus's "Replicas: 0/1", "Updated: 0/1",
// "Available: 0/1") is left out: it changes several times while a new
// Deployment becomes Available, each change would be a status write, and
// how many depends on how fast the cluster is (issue 17: a new Gateway
// costs at most 2). berth wait prints that progress reading the objects
// itself. The message of any other status (Failed: "Progress deadline
// exceeded"; Terminating; NotFound) says why the object is stuck and stays.
func blockingMessage(b *apply.ObjectStatus) string {
	if b.Status == apply.StatusInProgress || b.Message == "" {
		return objectName(b.Ref) + ": " + string(b.Status)
	}
	return objectName(b.Ref) + ": " + string(b.Status) + ": " + b.Message
}

// inputsCondition records the inputs a status was computed from
// (readiness.InputsCondition).
func inputsCondition(gen int64, gateway, xds readiness.Inputs) metav1.Condition {
	return metav1.Condition{Type: readiness.InputsCondition, Status: metav1.ConditionTrue, Reason: readiness.ReasonInputsObserved,
		ObservedGeneration: gen, Message: readiness.InputsMessage(gateway, xds)}
}

// recordedInputs are the inputs of a Gateway's last status, in memory.
type recordedInputs struct{ Gateway, XDS readiness.Inputs }

// maxChangesNamed bounds the changes a Pending message lists.
const maxChangesNamed = 5

// inputsChangedStatus is the status written before anything else when a
// Gateway is Programmed=True but its inputs changed since that verdict (its
// generation, its class, either EnvoyProxy, a route or a policy): Programmed=False,
// reason Pending, naming what changed (from prev, the inputs this process
// last recorded, when it has them), and the new inputs recorded. It reports
// false when nothing is to be written. A status that records no inputs
// (written by an older berth) is left alone unless the generation changed.
func inputsChangedStatus(old gwv1.GatewayStatus, gen int64, gateway, xds readiness.Inputs, prev *recordedInputs, now metav1.Time) (gwv1.GatewayStatus, bool) {
	prog := meta.FindStatusCondition(old.Conditions, string(gwv1.GatewayConditionProgrammed))
	if prog == nil || prog.Status != metav1.ConditionTrue {
		return old, false
	}
	var changes []string
	if prog.ObservedGeneration != gen {
		changes = append(changes, fmt.Sprintf("Gateway generation %d→%d", prog.ObservedGeneration, gen))
	}
	rec := readiness.Gateway{Conditions: old.Conditions}.Recorded()
	if rec.Found && (rec.Gateway != gateway.Digest() || rec.XDS != xds.Digest()) {
		if prev != nil {
			changes = append(changes, gateway.Changes(prev.Gateway)...)
			changes = append(changes, xds.Changes(prev.XDS)...)
		}
		if len(changes) == 0 {
			changes = append(changes, "its class, EnvoyProxies, routes or policies")
		}
	}
	if len(changes) == 0 {
		return old, false
	}
	if len(changes) > maxChangesNamed {
		changes = append(changes[:maxChangesNamed], fmt.Sprintf("%d more", len(changes)-maxChangesNamed))
	}
	st := *old.DeepCopy()
	setCondition(&st.Conditions, metav1.Condition{Type: string(gwv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
		Reason: string(gwv1.GatewayReasonPending), ObservedGeneration: gen,
		Message: "inputs changed (" + strings.Join(changes, ", ") + "): applying"}, now)
	setCondition(&st.Conditions, inputsCondition(gen, gateway, xds), now)
	return st, true
}

// objectName renders "Deployment team-a/envoy-…" (the group left out).
func objectName(r apply.ObjectRef) string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// serviceAddresses are the Gateway addresses a Service provides: its
// load-balancer ingress for type LoadBalancer, its cluster IPs otherwise.
func serviceAddresses(svc *corev1.Service) []gwv1.GatewayStatusAddress {
	if svc == nil {
		return nil
	}
	var out []gwv1.GatewayStatusAddress
	ipType, hostType := gwv1.IPAddressType, gwv1.HostnameAddressType
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				out = append(out, gwv1.GatewayStatusAddress{Type: &ipType, Value: in.IP})
			}
			if in.Hostname != "" {
				out = append(out, gwv1.GatewayStatusAddress{Type: &hostType, Value: in.Hostname})
			}
		}
		return out
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if ip != "" && ip != corev1.ClusterIPNone {
			out = append(out, gwv1.GatewayStatusAddress{Type: &ipType, Value: ip})
		}
	}
	return out
}

// listenerStatuses stamps the translation's listener facts with generation and
// transition times (kept from old where the status did not change).
func listenerStatuses(old []gwv1.ListenerStatus, facts []translate.ListenerStatus, gen int64, now metav1.Time) []gwv1.ListenerStatus {
	out := make([]gwv1.ListenerStatus, 0, len(facts))
	for _, l := range facts {
		var conds []metav1.Condition
		for _, o := range old {
			if o.Name == l.Name {
				conds = slices.Clone(o.Conditions)
			}
		}
		types := make([]string, 0, len(l.Conditions))
		for _, c := range l.Conditions {
			c.ObservedGeneration = gen
			setCondition(&conds, c, now)
			types = append(types, c.Type)
		}
		kinds := l.SupportedKinds
		if kinds == nil {
			kinds = []gwv1.RouteGroupKind{}
		}
		out = append(out, gwv1.ListenerStatus{
			Name:           l.Name,
			SupportedKinds: kinds,
			AttachedRoutes: l.AttachedRoutes,
			Conditions:     keepConditions(conds, types...),
		})
	}
	return out
}

// listenerSetStatus computes a ListenerSet's status from its translation
// fact f (of ListenerSet generation gen), keeping the lastTransitionTime of
// conditions whose status did not change.
func listenerSetStatus(old gwv1.ListenerSetStatus, f translate.ListenerSetStatus, gen int64, now metav1.Time) gwv1.ListenerSetStatus {
	st := *old.DeepCopy()
	types := make([]string, 0, len(f.Conditions))
	for _, c := range f.Conditions {
		c.ObservedGeneration = gen
		setCondition(&st.Conditions, c, now)
		types = append(types, c.Type)
	}
	st.Conditions = keepConditions(st.Conditions, types...)
	oldListeners := make([]gwv1.ListenerStatus, 0, len(old.Listeners))
	for _, l := range old.Listeners {
		oldListeners = append(oldListeners, gwv1.ListenerStatus(l))
	}
	st.Listeners = nil
	for _, l := range listenerStatuses(oldListeners, f.Listeners, gen, now) {
		st.Listeners = append(st.Listeners, gwv1.ListenerEntryStatus(l))
	}
	return st
}

// setCondition sets c in conds, keeping LastTransitionTime when the status is
// unchanged (meta.SetStatusCondition's rule).
func setCondition(conds *[]metav1.Condition, c metav1.Condition, now metav1.Time) {
	c.LastTransitionTime = now
	meta.SetStatusCondition(conds, c)
}

// keepConditions drops conditions of other types (stale ones berth once
// wrote, or the CRD's defaults it replaced), keeping order.
func keepConditions(conds []metav1.Condition, types ...string) []metav1.Condition {
	out := conds[:0:0]
	for _, c := range conds {
		if slices.Contains(types, c.Type) {
			out = append(out, c)
		}
	}
	return out
}

// classFacts is everything a GatewayClass's status depends on.
type classFacts struct {
	Generation int64
	// ParamsErr is why the class's parametersRef is unusable.
	ParamsErr error
	// Unsupported EnvoyProxy fields (reported in the Accepted message).
	Unsupported []render.Unsupported
	// Features berth supports, sorted.
	Features []gwv1.FeatureName
}

// classStatus computes a GatewayClass's status.
func classStatus(old gwv1.GatewayClassStatus, f classFacts, now metav1.Time) gwv1.GatewayClassStatus {
	st := *old.DeepCopy()
	c := metav1.Condition{Type: string(gwv1.GatewayClassConditionStatusAccepted), ObservedGeneration: f.Generation}
	if f.ParamsErr != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, string(gwv1.GatewayClassReasonInvalidParameters), f.ParamsErr.Error()
	} else {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, string(gwv1.GatewayClassReasonAccepted), "GatewayClass accepted by berth"
		if len(f.Unsupported) > 0 {
			c.Message += "; " + unsupportedMessage(f.Unsupported)
		}
	}
	setCondition(&st.Conditions, c, now)
	st.Conditions = keepConditions(st.Conditions, c.Type, string(gwv1.GatewayClassConditionStatusSupportedVersion))
	st.SupportedFeatures = nil
	for _, n := range f.Features {
		st.SupportedFeatures = append(st.SupportedFeatures, gwv1.SupportedFeature{Name: n})
	}
	return st
}

// routeFact is berth's status of one route towards one parentRef, computed
// from the route generation RouteGeneration.
type routeFact struct {
	ParentRef       gwv1.ParentReference
	RouteGeneration int64
	Conditions      []metav1.Condition
}

// parentEntry is one parentRef of a route that names a berth Gateway, in
// spec order, with berth's facts for it; Fact nil means the Gateway's facts
// are not known yet, and the entry stays as it is.
type parentEntry struct {
	Ref  gwv1.ParentReference
	Fact *routeFact
}

// routeParents merges berth's entries into a route's status.parents: entries
// of other controllers stay as they are, in front; then berth's, in the order
// of entries; berth's entries for parentRefs not in entries (the parentRef went
// away or no longer names a berth Gateway) are dropped.
func routeParents(old []gwv1.RouteParentStatus, controller gwv1.GatewayController, entries []parentEntry, now metav1.Time) []gwv1.RouteParentStatus {
	var out []gwv1.RouteParentStatus
	for _, p := range old {
		if p.ControllerName != controller {
			out = append(out, *p.DeepCopy())
		}
	}
	var written []gwv1.ParentReference
	for _, e := range entries {
		if slices.ContainsFunc(written, func(r gwv1.ParentReference) bool { return sameParent(r, e.Ref) }) {
			continue
		}
		var prev *gwv1.RouteParentStatus
		for i := range old {
			if old[i].ControllerName == controller && sameParent(old[i].ParentRef, e.Ref) {
				prev = &old[i]
			}
		}
		if e.Fact == nil {
			if prev != nil {
				out = append(out, *prev.DeepCopy())
				written = append(written, e.Ref)
			}
			continue
		}
		var conds []metav1.Condition
		if prev != nil {
			conds = slices.Clone(prev.Conditions)
		}
		types := make([]string, 0, len(e.Fact.Conditions))
		for _, c := range e.Fact.Conditions {
			c.ObservedGeneration = e.Fact.RouteGeneration
			setCondition(&conds, c, now)
			types = append(types, c.Type)
		}
		out = append(out, gwv1.RouteParentStatus{ParentRef: *e.Ref.DeepCopy(), ControllerName: controller, Conditions: keepConditions(conds, types...)})
		written = append(written, e.Ref)
	}
	return out
}

// sameParent compares parentRefs as the spec does (defaults filled in is the
// writer's job; berth writes them exactly as the route's spec has them).
func sameParent(a, b gwv1.ParentReference) bool { return equality.Semantic.DeepEqual(a, b) }
