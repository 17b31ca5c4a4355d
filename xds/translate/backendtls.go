package translate

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// This file decides TLS beyond the listeners' own certificates:
// BackendTLSPolicy (TLS from the proxy to a backend Service port), the
// client certificate a Gateway presents to such backends
// (spec.tls.backend.clientCertificateRef) and the validation of client
// certificates on HTTPS listeners (spec.tls.frontend).

// SystemCAFile is the file of well-known CA certificates a BackendTLSPolicy
// with wellKnownCACertificates: System trusts. It is where the Envoy
// images (Debian and Ubuntu based, ca-certificates installed) keep the
// system bundle, and what Envoy Gateway uses too.
const SystemCAFile = "/etc/ssl/certs/ca-certificates.crt"

// CACertificateKey is the key of a ConfigMap (or Secret) holding a PEM CA
// bundle, as the Gateway API specifies.
const CACertificateKey = "ca.crt"

// PolicyAncestorStatus is the status of one BackendTLSPolicy towards one
// Gateway whose routes use a Service port the policy targets.
type PolicyAncestorStatus struct {
	// Policy is the BackendTLSPolicy.
	Policy k8stypes.NamespacedName
	// Conditions: Accepted and ResolvedRefs; no timestamps or
	// observedGeneration.
	Conditions []metav1.Condition
}

// Condition returns the condition of the given type, or nil.
func (s PolicyAncestorStatus) Condition(t gwv1.PolicyConditionType) *metav1.Condition {
	return findCondition(s.Conditions, string(t))
}

// indexBackendTLS indexes BackendTLSPolicies by the Services they target,
// in the spec's precedence order (oldest first, then namespace/name), and
// the ConfigMaps.
func (ix *Index) indexBackendTLS(in Input) {
	ix.tlsPolicies = map[k8stypes.NamespacedName][]*gwv1.BackendTLSPolicy{}
	ix.configMaps = map[k8stypes.NamespacedName]*corev1.ConfigMap{}
	for _, c := range in.ConfigMaps {
		if c != nil {
			ix.configMaps[k8stypes.NamespacedName{Namespace: c.Namespace, Name: c.Name}] = c
		}
	}
	byKey := map[k8stypes.NamespacedName]*gwv1.BackendTLSPolicy{}
	for _, p := range in.BackendTLSPolicies {
		if p != nil {
			byKey[k8stypes.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
		}
	}
	policies := make([]*gwv1.BackendTLSPolicy, 0, len(byKey))
	for _, p := range byKey {
		policies = append(policies, p)
	}
	sort.Slice(policies, func(i, j int) bool { return olderPolicy(policies[i], policies[j]) })
	for _, p := range policies {
		seen := map[k8stypes.NamespacedName]bool{}
		for _, ref := range p.Spec.TargetRefs {
			if !isServiceTarget(ref) {
				continue
			}
			key := k8stypes.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}
			if !seen[key] {
				seen[key] = true
				ix.tlsPolicies[key] = append(ix.tlsPolicies[key], p)
			}
		}
	}
}

// olderPolicy is the spec's precedence among policies: the oldest wins,
// then the first by namespace/name.
func olderPolicy(a, b *gwv1.BackendTLSPolicy) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

func isServiceTarget(ref gwv1.LocalPolicyTargetReferenceWithSectionName) bool {
	return ref.Group == "" && ref.Kind == "Service"
}

// targetsPort reports whether p targets Service svc: the port named section
// (section != "") or the whole Service (section == "").
func targetsPort(p *gwv1.BackendTLSPolicy, svc, section string) bool {
	for _, ref := range p.Spec.TargetRefs {
		if isServiceTarget(ref) && string(ref.Name) == svc && sectionOf(ref) == section {
			return true
		}
	}
	return false
}

func sectionOf(ref gwv1.LocalPolicyTargetReferenceWithSectionName) string {
	if ref.SectionName == nil {
		return ""
	}
	return string(*ref.SectionName)
}

// backendTLSState is one Gateway translation's BackendTLSPolicy and client
// certificate state.
type backendTLSState struct {
	// verdicts of the policies looked at, by policy.
	verdicts map[*gwv1.BackendTLSPolicy]*policyVerdict
	// conflicted holds the policies that lost a target this Gateway uses to
	// an older policy, with the winner.
	conflicted map[*gwv1.BackendTLSPolicy]*gwv1.BackendTLSPolicy
	// clientCert is the SDS secret of spec.tls.backend.clientCertificateRef
	// ("" none or unusable); clientCertCond is the Gateway's ResolvedRefs.
	clientCert     string
	clientCertCond cond
}

// policyVerdict is what a policy means on its own (it does not depend on
// the Gateway).
type policyVerdict struct {
	accepted, resolvedRefs cond
	// tls is the upstream TLS the policy configures (nil when not
	// accepted).
	tls *model.UpstreamTLS
}

// upstreamTLS decides the upstream TLS of a backend Service port: the
// policy of the port (a policy naming the port by sectionName wins over one
// targeting the whole Service; among equals the oldest). ok is false when
// that policy is not usable: the backend must then get no traffic.
func (t *gatewayTranslator) upstreamTLS(svc *corev1.Service, port *corev1.ServicePort) (tls *model.UpstreamTLS, ok bool) {
	st := &t.backendTLS
	key := k8stypes.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	policies := t.ix.tlsPolicies[key]
	if len(policies) == 0 {
		return nil, true
	}
	sections := []string{""}
	if port.Name != "" {
		sections = []string{port.Name, ""}
	}
	var winner *gwv1.BackendTLSPolicy
	for _, section := range sections {
		var first *gwv1.BackendTLSPolicy
		for _, p := range policies { // in precedence order
			if !targetsPort(p, svc.Name, section) {
				continue
			}
			t.deps.add(&t.deps.policies, k8stypes.NamespacedName{Namespace: p.Namespace, Name: p.Name})
			t.verdict(p)
			if first == nil {
				first = p
				continue
			}
			if st.conflicted == nil {
				st.conflicted = map[*gwv1.BackendTLSPolicy]*gwv1.BackendTLSPolicy{}
			}
			st.conflicted[p] = first
		}
		if winner == nil {
			winner = first
		}
	}
	if winner == nil {
		return nil, true
	}
	v := t.verdict(winner)
	if v.tls == nil {
		return nil, false
	}
	out := *v.tls
	out.ClientCertificate = st.clientCert
	return &out, true
}

// verdict validates a policy once per translation.
func (t *gatewayTranslator) verdict(p *gwv1.BackendTLSPolicy) *policyVerdict {
	st := &t.backendTLS
	if v, ok := st.verdicts[p]; ok {
		return v
	}
	if st.verdicts == nil {
		st.verdicts = map[*gwv1.BackendTLSPolicy]*policyVerdict{}
	}
	v := &policyVerdict{accepted: cond{ok: true}, resolvedRefs: cond{ok: true}}
	st.verdicts[p] = v
	val := p.Spec.Validation
	out := &model.UpstreamTLS{SNI: strings.ToLower(string(val.Hostname))}
	if out.SNI == "" || strings.HasPrefix(out.SNI, "*") || !validHostname(out.SNI) {
		v.accepted.fail(string(gwv1.PolicyReasonInvalid), "validation.hostname %q is not a valid DNS name", val.Hostname)
	}
	if len(p.Spec.Options) > 0 {
		keys := make([]string, 0, len(p.Spec.Options))
		for k := range p.Spec.Options {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		v.accepted.fail(string(gwv1.PolicyReasonInvalid), "options %s are not supported", strings.Join(keys, ", "))
	}
	for i, san := range val.SubjectAltNames {
		switch {
		case san.Type == gwv1.HostnameSubjectAltNameType && san.Hostname != "" && validHostname(strings.ToLower(string(san.Hostname))):
			out.SubjectAltNames = append(out.SubjectAltNames, model.SubjectAltName{Type: model.SANDNS, Value: strings.ToLower(string(san.Hostname))})
		case san.Type == gwv1.URISubjectAltNameType && san.URI != "":
			out.SubjectAltNames = append(out.SubjectAltNames, model.SubjectAltName{Type: model.SANURI, Value: string(san.URI)})
		default:
			v.accepted.fail(string(gwv1.PolicyReasonInvalid), "validation.subjectAltNames[%d] is not a valid %s", i, san.Type)
		}
	}
	if len(out.SubjectAltNames) == 0 {
		// Without subjectAltNames the certificate must be for the hostname.
		out.SubjectAltNames = []model.SubjectAltName{{Type: model.SANDNS, Value: out.SNI}}
	}
	switch {
	case val.WellKnownCACertificates != nil && len(val.CACertificateRefs) > 0:
		v.accepted.fail(string(gwv1.PolicyReasonInvalid), "validation: caCertificateRefs and wellKnownCACertificates are mutually exclusive")
	case val.WellKnownCACertificates != nil:
		if *val.WellKnownCACertificates != gwv1.WellKnownCACertificatesSystem {
			v.accepted.fail(string(gwv1.PolicyReasonInvalid), "validation.wellKnownCACertificates %q is not supported (System is)", *val.WellKnownCACertificates)
		}
		out.SystemCAFile = SystemCAFile
	case len(val.CACertificateRefs) == 0:
		v.accepted.fail(string(gwv1.PolicyReasonInvalid), "validation: one of caCertificateRefs and wellKnownCACertificates is required")
	default:
		var bundle []byte
		for i, ref := range val.CACertificateRefs {
			ca, reason, msg := t.caCertificate(gwv1.GroupName, "BackendTLSPolicy", p.Namespace, string(ref.Group), string(ref.Kind), p.Namespace, string(ref.Name))
			switch reason {
			case caRefOK:
				bundle = append(bundle, ca...)
			case caRefKind:
				v.resolvedRefs.fail(string(gwv1.BackendTLSPolicyReasonInvalidKind), "validation.caCertificateRefs[%d]: %s", i, msg)
			default:
				v.resolvedRefs.fail(string(gwv1.BackendTLSPolicyReasonInvalidCACertificateRef), "validation.caCertificateRefs[%d]: %s", i, msg)
			}
		}
		if len(bundle) == 0 {
			v.accepted.fail(string(gwv1.BackendTLSPolicyReasonNoValidCACertificate), "no valid CA certificate: %s", v.resolvedRefs.message)
		}
		out.TrustedCA = bundle
	}
	if v.accepted.ok {
		v.tls = out
	}
	return v
}

// caRefReason classifies an unusable CA certificate reference.
type caRefReason uint8

const (
	caRefOK        caRefReason = iota
	caRefKind                  // neither a core ConfigMap nor a Secret
	caRefInvalid               // missing, or no PEM certificate under ca.crt
	caRefForbidden             // another namespace, no ReferenceGrant
)

// caCertificate reads the PEM CA bundle a reference names: key ca.crt of a
// core ConfigMap or Secret in ns; from is the referrer's namespace (a
// Gateway: cross-namespace references need a ReferenceGrant). It returns
// the certificates found (re-encoded, so nothing but certificates reaches
// Envoy) or why there are none.
func (t *gatewayTranslator) caCertificate(fromGroup, fromKind, from, group, kind, ns, name string) ([]byte, caRefReason, string) {
	key := k8stypes.NamespacedName{Namespace: ns, Name: name}
	if group != "" || (kind != "ConfigMap" && kind != "Secret") {
		return nil, caRefKind, fmt.Sprintf("%s %s: only core ConfigMaps and Secrets are supported", kindOf(group, kind), key)
	}
	if ns != from {
		t.deps.addNS(&t.deps.grantNamespaces, ns)
		if !t.ix.referenceAllowed(gwv1.Group(fromGroup), gwv1.Kind(fromKind), from, "", gwv1.Kind(kind), ns, name) {
			return nil, caRefForbidden, fmt.Sprintf("%s %s is in another namespace and no ReferenceGrant allows it", kind, key)
		}
	}
	var data []byte
	var found bool
	if kind == "ConfigMap" {
		t.deps.add(&t.deps.configMaps, key)
		if cm, ok := t.ix.configMaps[key]; ok {
			found = true
			data = []byte(cm.Data[CACertificateKey])
			if len(data) == 0 {
				data = cm.BinaryData[CACertificateKey]
			}
		}
	} else {
		t.deps.add(&t.deps.secrets, key)
		if s := t.ix.lookup.Secret(key); s != nil {
			found = true
			data = s.Data[CACertificateKey]
		}
	}
	if !found {
		return nil, caRefInvalid, fmt.Sprintf("%s %s not found", kind, key)
	}
	bundle, err := pemCertificates(data)
	if err != nil {
		return nil, caRefInvalid, fmt.Sprintf("%s %s: %s: %v", kind, key, CACertificateKey, err)
	}
	return bundle, caRefOK, ""
}

func kindOf(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

// pemCertificates returns the X.509 certificates of a PEM bundle,
// re-encoded; an error when there is none or one does not parse.
func pemCertificates(data []byte) ([]byte, error) {
	var out bytes.Buffer
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("invalid certificate: %w", err)
		}
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out.Bytes(), nil
}

// processBackendClientCertificate resolves spec.tls.backend.
// clientCertificateRef into the Gateway's ResolvedRefs condition and the
// SDS secret presented to backends with a BackendTLSPolicy.
func (t *gatewayTranslator) processBackendClientCertificate() {
	st := &t.backendTLS
	st.clientCertCond = cond{ok: true}
	tls := t.gw.Spec.TLS
	if tls == nil || tls.Backend == nil || tls.Backend.ClientCertificateRef == nil {
		return
	}
	name, reason, msg := t.resolveCertificate("Gateway", t.gw.Namespace, *tls.Backend.ClientCertificateRef)
	if reason != "" {
		if reason != string(gwv1.GatewayReasonRefNotPermitted) {
			reason = string(gwv1.GatewayReasonInvalidClientCertificateRef)
		}
		st.clientCertCond.fail(reason, "tls.backend.clientCertificateRef: %s", msg)
		return
	}
	st.clientCert = name
}

// backendClientSecret is the client certificate's secret when a cluster
// presents it (nil otherwise).
func (t *gatewayTranslator) backendClientSecret(clusters []*model.Cluster) *model.Secret {
	name := t.backendTLS.clientCert
	if name == "" {
		return nil
	}
	for _, c := range clusters {
		if c.TLS != nil && c.TLS.ClientCertificate == name {
			return t.secrets[name]
		}
	}
	return nil
}

// processFrontendValidation decides client-certificate validation of an
// HTTPS listener from spec.tls.frontend: the perPort entry of its port, or
// the default. Invalid CA references make the listener's ResolvedRefs
// False; when none is usable the listener is not Accepted
// (NoValidCACertificate), so it serves nobody rather than everybody.
func (t *gatewayTranslator) processFrontendValidation(ls *listenerState) {
	tls := t.gw.Spec.TLS
	if tls == nil || tls.Frontend == nil {
		return
	}
	cfg := tls.Frontend.Default
	for _, pp := range tls.Frontend.PerPort {
		if pp.Port == ls.spec.Port {
			cfg = pp.TLS
			break
		}
	}
	val := cfg.Validation
	if val == nil {
		return
	}
	var bundle []byte
	for i, ref := range val.CACertificateRefs {
		ca, reason, msg := t.caCertificate(gwv1.GroupName, "Gateway", t.gw.Namespace, string(ref.Group), string(ref.Kind), nsOr(ref.Namespace, t.gw.Namespace), string(ref.Name))
		switch reason {
		case caRefOK:
			bundle = append(bundle, ca...)
		case caRefKind:
			ls.resolvedRefs.fail(string(gwv1.ListenerReasonInvalidCACertificateKind), "client validation caCertificateRefs[%d]: %s", i, msg)
		case caRefForbidden:
			ls.resolvedRefs.fail(string(gwv1.ListenerReasonRefNotPermitted), "client validation caCertificateRefs[%d]: %s", i, msg)
		default:
			ls.resolvedRefs.fail(string(gwv1.ListenerReasonInvalidCACertificateRef), "client validation caCertificateRefs[%d]: %s", i, msg)
		}
	}
	if len(bundle) == 0 {
		ls.accepted.fail(string(gwv1.ListenerReasonNoValidCACertificate), "no valid CA certificate for client validation: %s", ls.resolvedRefs.message)
		return
	}
	insecure := val.Mode == gwv1.AllowInsecureFallback
	ls.clientValidation = &model.ClientValidation{TrustedCA: bundle, Optional: insecure, AcceptUntrusted: insecure}
}

// gatewayConditions are the Gateway-level conditions of the translation.
func (t *gatewayTranslator) gatewayConditions() []metav1.Condition {
	out := []metav1.Condition{t.backendTLS.clientCertCond.condition(string(gwv1.GatewayConditionResolvedRefs),
		string(gwv1.GatewayReasonResolvedRefs), "all references are resolved")}
	var insecure []string
	for _, ls := range t.listeners {
		if ls.clientValidation != nil && ls.clientValidation.AcceptUntrusted {
			insecure = append(insecure, string(ls.spec.Name))
		}
	}
	if len(insecure) > 0 {
		out = append(out, metav1.Condition{Type: string(gwv1.GatewayConditionInsecureFrontendValidationMode), Status: metav1.ConditionTrue,
			Reason:  string(gwv1.GatewayReasonConfigurationChanged),
			Message: "listeners accept clients without a verified certificate (AllowInsecureFallback): " + strings.Join(insecure, ", ")})
	}
	return out
}

// policyStatuses are the statuses of the policies this translation looked
// at, sorted by policy.
func (t *gatewayTranslator) policyStatuses() []PolicyAncestorStatus {
	st := &t.backendTLS
	out := make([]PolicyAncestorStatus, 0, len(st.verdicts))
	for p, v := range st.verdicts {
		accepted := v.accepted.condition(string(gwv1.PolicyConditionAccepted), string(gwv1.PolicyReasonAccepted), "policy accepted")
		if w, lost := st.conflicted[p]; lost {
			accepted = metav1.Condition{Type: string(gwv1.PolicyConditionAccepted), Status: metav1.ConditionFalse,
				Reason:  string(gwv1.PolicyReasonConflicted),
				Message: fmt.Sprintf("BackendTLSPolicy %s/%s targets the same Service port and takes precedence (older)", w.Namespace, w.Name)}
		}
		out = append(out, PolicyAncestorStatus{
			Policy: k8stypes.NamespacedName{Namespace: p.Namespace, Name: p.Name},
			Conditions: []metav1.Condition{
				accepted,
				v.resolvedRefs.condition(string(gwv1.BackendTLSPolicyConditionResolvedRefs), string(gwv1.BackendTLSPolicyReasonResolvedRefs), "all references are resolved"),
			},
		})
	}
	sort.Slice(out, func(i, j int) bool { return lessKey(out[i].Policy, out[j].Policy) })
	return out
}
