package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/xds/translate"
)

// This file wires BackendTLSPolicy, the CA ConfigMaps it and Gateways'
// spec.tls.frontend reference, and the policy's status: the xDS reconciler
// reads them, and a leader-only reconciler writes each policy's
// status.ancestors from the facts every Gateway's translation produced.

// backendTLSPolicyKind is the BackendTLSPolicy kind berth reads.
var backendTLSPolicyKind = schema.GroupKind{Group: gwv1.GroupName, Kind: "BackendTLSPolicy"}

// maxPolicyAncestors is the API's limit on status.ancestors.
const maxPolicyAncestors = 16

// policyFact is one Gateway's verdict on a policy (BackendTLSPolicy or
// ClientTrafficPolicy), for the policy generation it translated: one
// ancestor per target (the Gateway, or one of its listeners).
type policyFact struct {
	PolicyGeneration int64
	Ancestors        []ancestorFact
}

// ancestorFact is a policy's conditions towards the Gateway (Section "")
// or one of its listeners.
type ancestorFact struct {
	Section    string
	Conditions []metav1.Condition
}

// installBackendTLS starts watching BackendTLSPolicies (kinds.go): a
// policy change re-translates the Gateways using the Services it targets,
// its status reconciler starts (leader), and translations list it.
func (c *Controller) installBackendTLS() error {
	if err := c.mgr.GetFieldIndexer().IndexField(context.Background(), &gwv1.BackendTLSPolicy{}, backendTLSTargetIndex, backendTLSTargets); err != nil {
		return fmt.Errorf("index BackendTLSPolicies by target: %w", err)
	}
	if err := c.watchKind(c.xdsCtrl, &gwv1.BackendTLSPolicy{}, c.gatewaysOfPolicy); err != nil {
		return err
	}
	if err := c.statusController("backendtlspolicy", &gwv1.BackendTLSPolicy{}, &c.policyQueue, c.reconcileBackendTLSPolicy); err != nil {
		return err
	}
	c.kinds.backendTLS.Store(true)
	return nil
}

// statusController adds a leader-only reconciler named name that writes
// the status of obj's kind, woken by its own watch and by q (the xDS
// reconciler's decisions) and by the sources more (the ListenerSets' watch
// of their parent Gateways): the one shape of every route, policy and
// ListenerSet status writer.
func (c *Controller) statusController(name string, obj client.Object, q *queueRef, fn reconcile.Func, more ...source.Source) error {
	b := builder.ControllerManagedBy(c.mgr).Named(name).
		For(obj).
		WatchesRawSource(q.source())
	for _, src := range more {
		b = b.WatchesRawSource(src)
	}
	if err := b.WithOptions(controller.Options{MaxConcurrentReconciles: 2}).Complete(fn); err != nil {
		return fmt.Errorf("%s controller: %w", name, err)
	}
	return nil
}

// gatewaysOfPolicy: the Gateways that use a Service the policy targets now,
// plus those whose last translation decided its status (it may have left
// them).
func (c *Controller) gatewaysOfPolicy(_ context.Context, o client.Object) []reconcile.Request {
	p, ok := o.(*gwv1.BackendTLSPolicy)
	if !ok {
		return nil
	}
	seen := map[k8stypes.NamespacedName]bool{}
	for _, k := range c.store.dependents(depKey{depBackendTLSPolicy, client.ObjectKeyFromObject(p)}) {
		seen[k] = true
	}
	for _, ref := range p.Spec.TargetRefs {
		if ref.Group == "" && ref.Kind == "Service" {
			for _, k := range c.store.dependents(depKey{depService, k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}}) {
				seen[k] = true
			}
		}
	}
	keys := make([]k8stypes.NamespacedName, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	return requests(keys)
}

// backendTLSInput adds the BackendTLSPolicies and the ConfigMaps that
// policies, Gateways and the input's ClientTrafficPolicies reference to a
// translation input, and returns each BackendTLSPolicy's generation.
func (c *Controller) backendTLSInput(ctx context.Context, in *translate.Input) (map[k8stypes.NamespacedName]int64, error) {
	gens := map[k8stypes.NamespacedName]int64{}
	wanted := map[k8stypes.NamespacedName]bool{}
	if c.kinds.backendTLS.Load() {
		// Only the policies of the Services the routes use can apply
		// (translation looks them up by backend Service): read by target,
		// not the whole cluster's per translation.
		for _, gw := range in.Gateways {
			policies, err := c.policiesOf(ctx, readiness.RouteServices(client.ObjectKeyFromObject(gw), c.routeObjects(in)))
			if err != nil {
				return nil, fmt.Errorf("list for translation: %w", err)
			}
			in.BackendTLSPolicies = append(in.BackendTLSPolicies, policies...)
		}
		for _, p := range in.BackendTLSPolicies {
			gens[client.ObjectKeyFromObject(p)] = p.Generation
			for _, ref := range p.Spec.Validation.CACertificateRefs {
				wanted[k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}] = true
			}
		}
	}
	for _, k := range clientTrafficConfigMaps(in.ClientTrafficPolicies) {
		wanted[k] = true
	}
	for _, gw := range in.Gateways {
		if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
			continue
		}
		configs := []gwv1.TLSConfig{gw.Spec.TLS.Frontend.Default}
		for _, pp := range gw.Spec.TLS.Frontend.PerPort {
			configs = append(configs, pp.TLS)
		}
		for _, cfg := range configs {
			if cfg.Validation == nil {
				continue
			}
			for _, ref := range cfg.Validation.CACertificateRefs {
				ns := gw.Namespace
				if ref.Namespace != nil {
					ns = string(*ref.Namespace)
				}
				wanted[k8stypes.NamespacedName{Namespace: ns, Name: string(ref.Name)}] = true
			}
		}
	}
	if len(wanted) == 0 {
		return gens, nil
	}
	// Each wanted ConfigMap read by key, in a stable order: listing every
	// ConfigMap in the cache (two per Gateway's bundle alone) would make
	// a translation's cost grow with the fleet.
	keys := slices.SortedFunc(maps.Keys(wanted), func(a, b k8stypes.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
	for _, key := range keys {
		if !c.cachedNamespace(key.Namespace) {
			continue
		}
		cm := &corev1.ConfigMap{}
		switch err := c.client.Get(ctx, key, cm); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("read for translation: %w", err)
		default:
			in.ConfigMaps = append(in.ConfigMaps, cm)
		}
	}
	return gens, nil
}

// backendTLSTargetIndex indexes BackendTLSPolicies by the Services they
// target ("namespace/name", backendTLSTargets).
const backendTLSTargetIndex = "berth.backendTLSTarget"

// backendTLSTargets are the keys of the Services policy o targets, each
// once (a policy targets Services of its own namespace).
func backendTLSTargets(o client.Object) []string {
	p, ok := o.(*gwv1.BackendTLSPolicy)
	if !ok {
		return nil
	}
	var out []string
	for _, ref := range p.Spec.TargetRefs {
		if ref.Group != "" || ref.Kind != "Service" {
			continue
		}
		if k := (k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}).String(); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// policiesOf lists the cached BackendTLSPolicies targeting any of services
// (through backendTLSTargetIndex), each once, by namespace/name.
func (c *Controller) policiesOf(ctx context.Context, services []k8stypes.NamespacedName) ([]*gwv1.BackendTLSPolicy, error) {
	keys := make([]string, len(services))
	for i, svc := range services {
		keys[i] = svc.String()
	}
	return listByIndex(ctx, c.client, backendTLSTargetIndex, keys,
		func() *gwv1.BackendTLSPolicyList { return &gwv1.BackendTLSPolicyList{} },
		func(l *gwv1.BackendTLSPolicyList) []gwv1.BackendTLSPolicy { return l.Items })
}

// stripConfigMap keeps only what translation reads of a ConfigMap (its
// ca.crt) in the cache: the informer sees every ConfigMap in scope, most of
// them large and of no interest.
func stripConfigMap(o any) (any, error) {
	cm, ok := o.(*corev1.ConfigMap)
	if !ok {
		return o, nil
	}
	out := &corev1.ConfigMap{TypeMeta: cm.TypeMeta, ObjectMeta: strippedMeta(&cm.ObjectMeta)}
	out.Labels = nil
	if v, ok := cm.Data[translate.CACertificateKey]; ok {
		out.Data = map[string]string{translate.CACertificateKey: v}
	}
	if v, ok := cm.BinaryData[translate.CACertificateKey]; ok {
		out.BinaryData = map[string][]byte{translate.CACertificateKey: v}
	}
	return out, nil
}

// policyFacts turns a translation's policy statuses into facts stamped
// with the generation of the policy translated.
func policyFacts(ps []translate.PolicyAncestorStatus, gens map[k8stypes.NamespacedName]int64) map[k8stypes.NamespacedName]policyFact {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[k8stypes.NamespacedName]policyFact, len(ps))
	for _, p := range ps {
		out[p.Policy] = policyFact{PolicyGeneration: gens[p.Policy], Ancestors: []ancestorFact{{Conditions: p.Conditions}}}
	}
	return out
}

// changedPolicies lists the policies whose facts differ between two
// translations of one Gateway (of one policy kind; either may be nil).
func changedPolicies(o, n map[k8stypes.NamespacedName]policyFact) []k8stypes.NamespacedName {
	var out []k8stypes.NamespacedName
	for k, f := range o {
		if nf, ok := n[k]; !ok || !equality.Semantic.DeepEqual(f, nf) {
			out = append(out, k)
		}
	}
	for k := range n {
		if _, ok := o[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// reconcileBackendTLSPolicy writes berth's entries of a BackendTLSPolicy's
// status.ancestors: one per berth Gateway whose routes use a Service port
// the policy targets (leader).
func (c *Controller) reconcileBackendTLSPolicy(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("backendtlspolicy")
	defer func() { done(err) }()
	var p gwv1.BackendTLSPolicy
	if err := c.client.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return c.writePolicyStatus(ctx, &p, &p.Status, depBackendTLSPolicy, func(t *gatewayTranslation) map[k8stypes.NamespacedName]policyFact { return t.Policies })
}

// writePolicyStatus writes berth's entries of policy p's status.ancestors
// (status is p's): the facts of every berth Gateway whose last translation
// decided p's status (dependents of dk), read by facts from a Gateway's
// translation. Nothing is written while a Gateway's facts are of an older
// generation of p: the xDS side enqueues p again once it has translated
// the new one.
func (c *Controller) writePolicyStatus(ctx context.Context, p client.Object, status *gwv1.PolicyStatus, dk depKind, facts func(*gatewayTranslation) map[k8stypes.NamespacedName]policyFact) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(p)
	var entries []policyEntry
	for _, gwKey := range c.store.dependents(depKey{dk, key}) {
		var gw gwv1.Gateway
		if err := c.client.Get(ctx, gwKey, &gw); err != nil || gw.DeletionTimestamp != nil || c.classOf(ctx, &gw) == nil {
			continue
		}
		t := c.store.get(gwKey)
		if t == nil {
			continue
		}
		f, ok := facts(t)[key]
		if !ok {
			continue
		}
		if f.PolicyGeneration != p.GetGeneration() {
			return ctrl.Result{}, nil
		}
		for _, a := range f.Ancestors {
			entries = append(entries, policyEntry{Gateway: gwKey, Section: a.Section, Conditions: a.Conditions})
		}
	}
	ancestors := policyAncestors(status.Ancestors, gwController(c.opts.ControllerName), entries, p.GetGeneration(), metav1.Now())
	if equality.Semantic.DeepEqual(ancestors, status.Ancestors) || (len(ancestors) == 0 && len(status.Ancestors) == 0) {
		return ctrl.Result{}, nil
	}
	status.Ancestors = ancestors
	return statusWritten(c.client.Status().Update(ctx, p))
}

// policyEntry is one berth Gateway's current verdict on a policy, towards
// the Gateway (Section "") or one of its listeners.
type policyEntry struct {
	Gateway    k8stypes.NamespacedName
	Section    string
	Conditions []metav1.Condition
}

// policyAncestors computes a policy's status.ancestors: the entries of
// other controllers unchanged, then berth's, one per Gateway (or listener)
// sorted (at
// most the API's 16 in all), keeping the lastTransitionTime of conditions
// whose status did not change. Pure.
func policyAncestors(old []gwv1.PolicyAncestorStatus, ctrlName gwv1.GatewayController, entries []policyEntry, gen int64, now metav1.Time) []gwv1.PolicyAncestorStatus {
	var out []gwv1.PolicyAncestorStatus
	for _, a := range old {
		if a.ControllerName != ctrlName {
			out = append(out, *a.DeepCopy())
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Gateway != entries[j].Gateway {
			return lessNN(entries[i].Gateway, entries[j].Gateway)
		}
		return entries[i].Section < entries[j].Section
	})
	group, kind := gwv1.Group(gwv1.GroupName), gwv1.Kind("Gateway")
	for _, e := range entries {
		if len(out) >= maxPolicyAncestors {
			break
		}
		ns := gwv1.Namespace(e.Gateway.Namespace)
		ref := gwv1.ParentReference{Group: &group, Kind: &kind, Namespace: &ns, Name: gwv1.ObjectName(e.Gateway.Name)}
		if e.Section != "" {
			section := gwv1.SectionName(e.Section)
			ref.SectionName = &section
		}
		var conds []metav1.Condition
		for _, a := range old {
			if a.ControllerName == ctrlName && equality.Semantic.DeepEqual(a.AncestorRef, ref) {
				conds = append(conds, a.Conditions...)
			}
		}
		for _, c := range e.Conditions {
			c.ObservedGeneration = gen
			setCondition(&conds, c, now)
		}
		types := make([]string, 0, len(e.Conditions))
		for _, c := range e.Conditions {
			types = append(types, c.Type)
		}
		out = append(out, gwv1.PolicyAncestorStatus{AncestorRef: ref, ControllerName: ctrlName, Conditions: keepConditions(conds, types...)})
	}
	return out
}

func lessNN(a, b k8stypes.NamespacedName) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// translationConditions sets the Gateway-level conditions of the current
// translation (ResolvedRefs, InsecureFrontendValidationMode) on conds and
// returns the condition types to keep: those it set, or, before the
// current generation is translated, the ones already there.
func translationConditions(conds *[]metav1.Condition, f gatewayFacts, now metav1.Time) []string {
	if f.Translation == nil {
		var keep []string
		for _, t := range []gwv1.GatewayConditionType{gwv1.GatewayConditionResolvedRefs, gwv1.GatewayConditionInsecureFrontendValidationMode} {
			if meta.FindStatusCondition(*conds, string(t)) != nil {
				keep = append(keep, string(t))
			}
		}
		return keep
	}
	keep := make([]string, 0, len(f.Translation.Conditions))
	for _, c := range f.Translation.Conditions {
		c.ObservedGeneration = f.Generation
		setCondition(conds, c, now)
		keep = append(keep, c.Type)
	}
	return keep
}
