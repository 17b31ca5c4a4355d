package clustertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/translate"
)

// ClientTrafficPolicies on a cluster: the controller reads them, the
// listeners it publishes change, and each policy's status says what
// translation decided, with the reference's precedence: a second
// Gateway-level policy is Conflicted, a listener-level one beats the
// Gateway-level one (which says Overridden), a policy in another namespace
// never attaches, and deleting the listener-level policy gives the
// listener back to the Gateway-level one.
func TestClientTrafficPolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c, err := controller.New(h.env.Config, h.options())
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.Background(t, c.Run)
	t.Cleanup(func() {
		if err := run.Stop(); err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	h.create(clusterIPProxy(h.ns, "proxy"))
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gw"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners: []gwv1.Listener{
				{Name: "web", Port: 8080, Protocol: gwv1.HTTPProtocolType},
				{Name: "api", Port: 8081, Protocol: gwv1.HTTPProtocolType},
			},
			Infrastructure: &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy"}},
		},
	}
	h.create(gw)
	key := client.ObjectKeyFromObject(gw)
	srv := c.XDS()
	// Before any policy: both listeners published, neither with a request
	// timeout (berth's default is none).
	waitFor(t, 30*time.Second, "listeners published without a request timeout", func() error {
		return wantRequestTimeouts(srv, key, map[string]time.Duration{"web": 0, "api": 0})
	})

	policy := func(ns, name, section, timeout string) *v1alpha1.ClientTrafficPolicy {
		ref := gwv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: "gw"}}
		if section != "" {
			ref.SectionName = ptr.To(gwv1.SectionName(section))
		}
		d := gwv1.Duration(timeout)
		return &v1alpha1.ClientTrafficPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.ClientTrafficPolicySpec{
				TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{ref},
				Timeout:    &v1alpha1.ClientTimeout{HTTP: &v1alpha1.HTTPClientTimeout{RequestReceivedTimeout: &d}},
			},
		}
	}

	// (a), (b): a Gateway-level policy is Accepted with the Gateway as
	// ancestor, and both listeners get its timeout.
	whole := policy(h.ns, "a-gateway", "", "17s")
	h.create(whole)
	waitFor(t, 30*time.Second, "Gateway-level policy Accepted", func() error {
		return h.policyAncestor(whole, "", string(gwv1.PolicyConditionAccepted), metav1.ConditionTrue, string(gwv1.PolicyReasonAccepted))
	})
	waitFor(t, 30*time.Second, "both listeners take the Gateway-level timeout", func() error {
		return wantRequestTimeouts(srv, key, map[string]time.Duration{"web": 17 * time.Second, "api": 17 * time.Second})
	})

	// (c) A second Gateway-level policy is Conflicted (its name sorts last,
	// so it loses even when created within the same second) and changes
	// nothing; a listener-level one applies to its listener and the
	// Gateway-level one says Overridden; one in another namespace naming
	// a Gateway "gw" of its own namespace never attaches here.
	late := policy(h.ns, "z-late", "", "19s")
	section := policy(h.ns, "b-api", "api", "23s")
	elsewhere := policy(h.ctrlNS, "elsewhere", "", "29s")
	h.create(late)
	h.create(section)
	h.create(elsewhere)
	waitFor(t, 30*time.Second, "second Gateway-level policy Conflicted", func() error {
		return h.policyAncestor(late, "", string(gwv1.PolicyConditionAccepted), metav1.ConditionFalse, string(gwv1.PolicyReasonConflicted))
	})
	waitFor(t, 30*time.Second, "listener-level policy Accepted on listener api", func() error {
		return h.policyAncestor(section, "api", string(gwv1.PolicyConditionAccepted), metav1.ConditionTrue, string(gwv1.PolicyReasonAccepted))
	})
	waitFor(t, 30*time.Second, "Gateway-level policy Overridden", func() error {
		return h.policyAncestor(whole, "", "Overridden", metav1.ConditionTrue, "Overridden")
	})
	waitFor(t, 30*time.Second, "listener api takes the listener-level timeout", func() error {
		return wantRequestTimeouts(srv, key, map[string]time.Duration{"web": 17 * time.Second, "api": 23 * time.Second})
	})
	var got v1alpha1.ClientTrafficPolicy
	if err := h.cl.Get(h.ctx(), client.ObjectKeyFromObject(elsewhere), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Ancestors) != 0 {
		t.Fatalf("policy in namespace %s has ancestors %+v: it must not attach to Gateway %s", h.ctrlNS, got.Status.Ancestors, key)
	}

	// Deleting the listener-level policy re-translates its Gateway: the
	// listener takes the Gateway-level timeout again, and the Gateway-level
	// policy is no longer Overridden.
	if err := h.cl.Delete(h.ctx(), section); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "listener api back to the Gateway-level timeout", func() error {
		return wantRequestTimeouts(srv, key, map[string]time.Duration{"web": 17 * time.Second, "api": 17 * time.Second})
	})
	waitFor(t, 30*time.Second, "Gateway-level policy no longer Overridden", func() error {
		var p v1alpha1.ClientTrafficPolicy
		if err := h.cl.Get(h.ctx(), client.ObjectKeyFromObject(whole), &p); err != nil {
			return err
		}
		for _, a := range p.Status.Ancestors {
			if c := meta.FindStatusCondition(a.Conditions, "Overridden"); c != nil {
				return fmt.Errorf("still %s", c.Message)
			}
		}
		return nil
	})
	// The policy in another namespace never attached.
	if err := h.cl.Get(h.ctx(), client.ObjectKeyFromObject(elsewhere), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Ancestors) != 0 {
		t.Fatalf("policy in namespace %s has ancestors %+v", h.ctrlNS, got.Status.Ancestors)
	}
}

// policyAncestor checks that p's status has one berth ancestor, Gateway gw
// of the harness's namespace (with sectionName section, "" for none),
// whose condition typ has status and reason for p's current generation.
func (h *harness) policyAncestor(p *v1alpha1.ClientTrafficPolicy, section, typ string, status metav1.ConditionStatus, reason string) error {
	var cur v1alpha1.ClientTrafficPolicy
	if err := h.cl.Get(h.ctx(), client.ObjectKeyFromObject(p), &cur); err != nil {
		return err
	}
	var ours []gwv1.PolicyAncestorStatus
	for _, a := range cur.Status.Ancestors {
		if string(a.ControllerName) == h.name {
			ours = append(ours, a)
		}
	}
	if len(ours) != 1 {
		return fmt.Errorf("%d ancestors of controller %s: %+v", len(ours), h.name, cur.Status.Ancestors)
	}
	ref := ours[0].AncestorRef
	gotSection := ""
	if ref.SectionName != nil {
		gotSection = string(*ref.SectionName)
	}
	if ref.Kind == nil || *ref.Kind != "Gateway" || ref.Namespace == nil || string(*ref.Namespace) != h.ns || ref.Name != "gw" || gotSection != section {
		return fmt.Errorf("ancestorRef %+v, want Gateway %s/gw section %q", ref, h.ns, section)
	}
	c := meta.FindStatusCondition(ours[0].Conditions, typ)
	if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != cur.Generation {
		return fmt.Errorf("condition %s = %+v, want %s/%s at generation %d", typ, c, status, reason, cur.Generation)
	}
	return nil
}

// wantRequestTimeouts checks the request_timeout of the connection manager
// of each Gateway listener (by name, through its port) in the listeners
// published for gw: 0 for none.
func wantRequestTimeouts(srv *xds.Server, gw k8stypes.NamespacedName, want map[string]time.Duration) error {
	ports := map[string]uint32{"web": 8080, "api": 8081}
	published := srv.PublishedResources(gw, resourcev3.ListenerType)
	if len(published) == 0 {
		return fmt.Errorf("no listeners published for %s", gw)
	}
	for name, d := range want {
		var got []time.Duration
		for _, r := range published {
			l, ok := r.(*listenerv3.Listener)
			if !ok || l.GetAddress().GetSocketAddress().GetPortValue() != ports[name] {
				continue
			}
			chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
			for _, fc := range chains {
				for _, f := range fc.GetFilters() {
					var hcm hcmv3.HttpConnectionManager
					if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(&hcm) != nil {
						continue
					}
					got = append(got, hcm.GetRequestTimeout().AsDuration())
				}
			}
		}
		if len(got) == 0 {
			return fmt.Errorf("listener %s (port %d): no HTTP connection manager published", name, ports[name])
		}
		for _, g := range got {
			if g != d {
				return fmt.Errorf("listener %s: request_timeout %v, want %v", name, g, d)
			}
		}
	}
	return nil
}

// A policy's client validation CA ConfigMap is watched: a policy naming a
// ConfigMap that does not exist is refused (Invalid), and creating the
// ConfigMap re-translates the Gateway, which accepts the policy; the CTP
// needs no RBAC beyond the ConfigMaps berth reads already.
func TestClientTrafficPolicyCAConfigMap(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c, err := controller.New(h.env.Config, h.options())
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.Background(t, c.Run)
	t.Cleanup(func() {
		if err := run.Stop(); err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	h.create(clusterIPProxy(h.ns, "proxy"))
	h.create(&gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gw"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners:        []gwv1.Listener{{Name: "web", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
			Infrastructure:   &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy"}},
		},
	})
	p := &v1alpha1.ClientTrafficPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "mtls"},
		Spec: v1alpha1.ClientTrafficPolicySpec{
			TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: "gw"}}},
			TLS: &v1alpha1.ClientTLSSettings{ClientValidation: &v1alpha1.ClientValidationContext{
				CACertificateRefs: []gwv1.SecretObjectReference{{Kind: ptr.To(gwv1.Kind("ConfigMap")), Name: "client-ca"}},
			}},
		},
	}
	h.create(p)
	waitFor(t, 30*time.Second, "policy refused: CA ConfigMap missing", func() error {
		return h.policyAncestor(p, "", string(gwv1.PolicyConditionAccepted), metav1.ConditionFalse, string(gwv1.PolicyReasonInvalid))
	})
	h.create(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "client-ca"},
		Data:       map[string]string{translate.CACertificateKey: string(selfSignedCA(t))},
	})
	waitFor(t, 30*time.Second, "policy accepted once the CA ConfigMap exists", func() error {
		return h.policyAncestor(p, "", string(gwv1.PolicyConditionAccepted), metav1.ConditionTrue, string(gwv1.PolicyReasonAccepted))
	})
}

// selfSignedCA is a fresh CA certificate (PEM).
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
