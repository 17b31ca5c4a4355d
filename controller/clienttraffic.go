package controller

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/xds/translate"
)

// This file wires ClientTrafficPolicy (gateway.envoyproxy.io/v1alpha1):
// the xDS reconciler lists the policies of the Gateway's namespace into
// its translation (targetRefs are local), a policy change re-translates
// the Gateways it targets (and those whose status it had), and a
// leader-only reconciler writes each policy's status.ancestors (the
// Gateway, or a listener by sectionName) with the code BackendTLSPolicy
// uses (writePolicyStatus).

// clientTrafficPolicyKind is the ClientTrafficPolicy kind berth reads.
var clientTrafficPolicyKind = v1alpha1.GroupVersion.WithKind(v1alpha1.KindClientTrafficPolicy).GroupKind()

// installClientTraffic starts watching ClientTrafficPolicies (kinds.go):
// a spec change re-translates the Gateways it targets (status writes
// change no generation and translate nothing), its status reconciler
// starts (leader), and translations list it.
func (c *Controller) installClientTraffic() error {
	if err := c.watchKind(c.xdsCtrl, &v1alpha1.ClientTrafficPolicy{}, c.gatewaysOfClientTraffic, predicate.GenerationChangedPredicate{}); err != nil {
		return err
	}
	if err := c.statusController("clienttrafficpolicy", &v1alpha1.ClientTrafficPolicy{}, &c.ctpQueue, c.reconcileClientTrafficPolicy); err != nil {
		return err
	}
	c.kinds.clientTraffic.Store(true)
	return nil
}

// gatewaysOfClientTraffic: the Gateways of the policy's namespace its
// targetRefs name now, plus those whose last translation decided its
// status (it may have left them).
func (c *Controller) gatewaysOfClientTraffic(_ context.Context, o client.Object) []reconcile.Request {
	p, ok := o.(*v1alpha1.ClientTrafficPolicy)
	if !ok {
		return nil
	}
	return requests(clientTrafficTargets(p, c.store.dependents(depKey{depClientTrafficPolicy, client.ObjectKeyFromObject(p)})))
}

// clientTrafficTargets adds the Gateways p's targetRefs name (in p's
// namespace) to known, without duplicates. Pure.
func clientTrafficTargets(p *v1alpha1.ClientTrafficPolicy, known []k8stypes.NamespacedName) []k8stypes.NamespacedName {
	out := append([]k8stypes.NamespacedName(nil), known...)
	seen := map[k8stypes.NamespacedName]bool{}
	for _, k := range out {
		seen[k] = true
	}
	for _, ref := range p.Spec.TargetRefs {
		k := k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}
		if ref.Group == gwv1.GroupName && ref.Kind == "Gateway" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// clientTrafficInput adds the ClientTrafficPolicies of gw's namespace to a
// translation input and returns each policy's generation.
func (c *Controller) clientTrafficInput(ctx context.Context, gw *gwv1.Gateway, in *translate.Input) (map[k8stypes.NamespacedName]int64, error) {
	if !c.kinds.clientTraffic.Load() {
		return nil, nil
	}
	var policies v1alpha1.ClientTrafficPolicyList
	if err := c.client.List(ctx, &policies, client.InNamespace(gw.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list for translation: %w", err)
	}
	in.ClientTrafficPolicies = ptrs(policies.Items)
	gens := make(map[k8stypes.NamespacedName]int64, len(policies.Items))
	for _, p := range in.ClientTrafficPolicies {
		gens[client.ObjectKeyFromObject(p)] = p.Generation
	}
	return gens, nil
}

// clientTrafficConfigMaps are the ConfigMaps the policies' client
// validation names as CA certificates (spec.tls.clientValidation; a
// Secret is read through the translation's lookup instead). A change of
// one re-translates the Gateways whose translation read it (depConfigMap),
// as for BackendTLSPolicy. Pure.
func clientTrafficConfigMaps(ps []*v1alpha1.ClientTrafficPolicy) []k8stypes.NamespacedName {
	var out []k8stypes.NamespacedName
	for _, p := range ps {
		if p.Spec.TLS == nil || p.Spec.TLS.ClientValidation == nil {
			continue
		}
		for _, ref := range p.Spec.TLS.ClientValidation.CACertificateRefs {
			if ref.Kind == nil || *ref.Kind != "ConfigMap" || (ref.Group != nil && *ref.Group != "") {
				continue
			}
			ns := p.Namespace
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			out = append(out, k8stypes.NamespacedName{Namespace: ns, Name: string(ref.Name)})
		}
	}
	return out
}

// clientTrafficFacts turns a translation's ClientTrafficPolicy statuses
// (one per policy and target) into facts per policy, stamped with the
// generation of the policy translated.
func clientTrafficFacts(ps []translate.PolicyStatus, gens map[k8stypes.NamespacedName]int64) map[k8stypes.NamespacedName]policyFact {
	if len(ps) == 0 {
		return nil
	}
	out := make(map[k8stypes.NamespacedName]policyFact, len(ps))
	for _, p := range ps {
		f := out[p.Policy]
		f.PolicyGeneration = gens[p.Policy]
		section := ""
		if p.Ancestor.SectionName != nil {
			section = string(*p.Ancestor.SectionName)
		}
		f.Ancestors = append(f.Ancestors, ancestorFact{Section: section, Conditions: append([]metav1.Condition(nil), p.Conditions...)})
		out[p.Policy] = f
	}
	return out
}

// reconcileClientTrafficPolicy writes berth's entries of a
// ClientTrafficPolicy's status.ancestors: one per Gateway (or listener) it
// targets that berth translated (leader).
func (c *Controller) reconcileClientTrafficPolicy(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("clienttrafficpolicy")
	defer func() { done(err) }()
	var p v1alpha1.ClientTrafficPolicy
	if err := c.client.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return c.writePolicyStatus(ctx, &p, &p.Status, depClientTrafficPolicy, func(t *gatewayTranslation) map[k8stypes.NamespacedName]policyFact { return t.ClientTraffic })
}
