package corevalidation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func meta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "ns"} }

// Each row's errors, joined, as the apiserver words them (the cluster test
// internal/crdschema/clustertest compares them with a real apiserver).
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  any
		want string // "" = valid
	}{
		{"valid service", &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, ""},
		{"service name not a DNS label", &corev1.Service{ObjectMeta: meta("a.b"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, `metadata.name: Invalid value: "a.b": must not contain dots`},
		{"target port defaults to the port", &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 70000}}}},
			`spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive; spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive`},
		{"duplicate port", &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
			`spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}`},
		{"ExternalName without name", &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}, `spec.externalName: Required value`},
		{"headless LoadBalancer", &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}},
			`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services`},
		{"IPv4 family, IPv6 address", &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{ClusterIP: "fd00::1", IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, Ports: []corev1.ServicePort{{Port: 80}}}},
			"spec.clusterIPs[0]: Invalid value: \"fd00::1\": expected an IPv4 value as indicated by `ipFamilies[0]`"},
		{"valid secret from stringData", &corev1.Secret{ObjectMeta: meta("s"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}, StringData: map[string]string{"tls.key": "k"}}, ""},
		{"tls secret without keys", &corev1.Secret{ObjectMeta: meta("s"), Type: corev1.SecretTypeTLS}, `data[tls.crt]: Required value; data[tls.key]: Required value`},
		{"service account token without its annotation", &corev1.Secret{ObjectMeta: meta("s"), Type: corev1.SecretTypeServiceAccountToken},
			`metadata.annotations[kubernetes.io/service-account.name]: Required value`},
		{"secret keys sorted", &corev1.Secret{ObjectMeta: meta("s"), Data: map[string][]byte{"b/": nil, "a/": nil}}, `data[a/]: Invalid value: "a/"`},
		{"configmap over 1 MiB", &corev1.ConfigMap{ObjectMeta: meta("c"), Data: map[string]string{"a": strings.Repeat("x", 1<<20+1)}}, `[]: Too long: may not be more than 1048576 bytes`},
		{"namespace finalizer", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"custom"}}},
			`spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified`},
		{"namespace needs no namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, ""},
		{"missing namespace is berth's to report", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, ""},
		{"endpointslice FQDN", &discoveryv1.EndpointSlice{ObjectMeta: meta("e"), AddressType: discoveryv1.AddressTypeFQDN, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"Not_A.Name"}}}},
			`endpoints[0].addresses[0]: Invalid value: "Not_A.Name"`},
		{"endpointslice hints", &discoveryv1.EndpointSlice{ObjectMeta: meta("e"), AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.2.3"},
			Hints: &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "a"}, {Name: "a"}}, ForNodes: []discoveryv1.ForNode{{Name: "Bad_Node"}}}}}},
			`endpoints[0].hints.forZones[1].name: Duplicate value: "a"; endpoints[0].hints.forNodes[0].name: Invalid value: "Bad_Node"`},
		{"endpointslice port protocol defaults", &discoveryv1.EndpointSlice{ObjectMeta: meta("e"), AddressType: discoveryv1.AddressTypeIPv6, Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, known := Validate(tc.obj)
			if !known {
				t.Fatal("not known")
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			joined := strings.Join(got, "; ")
			if (tc.want == "") != (joined == "") || !strings.HasPrefix(joined, tc.want) {
				t.Errorf("got  %s\nwant %s", joined, tc.want)
			}
		})
	}
}

func TestValidateLeavesObjectAndOtherKinds(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: meta("s"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	before := svc.DeepCopy()
	Validate(svc)
	if svc.Spec.Type != before.Spec.Type || svc.Spec.Ports[0].Protocol != "" || svc.Spec.SessionAffinity != "" {
		t.Errorf("Validate changed the Service: %+v", svc.Spec)
	}
	if _, known := Validate(&corev1.Pod{}); known {
		t.Error("a Pod is not a kind this package validates")
	}
}
