package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/internal/manifest"
)

func testClass(ref *gwv1.ParametersReference) *gwv1.GatewayClass {
	return &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth"},
		Spec: gwv1.GatewayClassSpec{ControllerName: testControllerName, ParametersRef: ref}}
}

func testGateway(ref *gwv1.LocalParametersReference) *gwv1.Gateway {
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "gateway-a"},
		Spec: gwv1.GatewaySpec{GatewayClassName: "berth", Listeners: []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}}}}
	if ref != nil {
		gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: ref}
	}
	return gw
}

func proxyRef(ns string) *gwv1.ParametersReference {
	r := &gwv1.ParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "proxy"}
	if ns != "" {
		r.Namespace = ptr.To(gwv1.Namespace(ns))
	}
	return r
}

func proxy(ns, name string, k *v1alpha1.EnvoyProxyKubernetesProvider) *v1alpha1.EnvoyProxy {
	return &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.EnvoyProxySpec{Provider: &v1alpha1.EnvoyProxyProvider{Type: v1alpha1.ProviderTypeKubernetes, Kubernetes: k}}}
}

func TestResolveParametersRefs(t *testing.T) {
	gwRef := &gwv1.LocalParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "mine"}
	refs, err := ResolveParametersRefs(testClass(proxyRef("infra")), testGateway(gwRef))
	if err != nil {
		t.Fatal(err)
	}
	want := ParametersRefs{Class: &types.NamespacedName{Namespace: "infra", Name: "proxy"}, Gateway: &types.NamespacedName{Namespace: "team-a", Name: "mine"}}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("refs = %+v, want %+v", refs, want)
	}
	if refs, err := ResolveParametersRefs(testClass(nil), testGateway(nil)); err != nil || refs.Class != nil || refs.Gateway != nil {
		t.Fatalf("no refs: %+v, %v", refs, err)
	}

	for _, tc := range []struct {
		name   string
		class  *gwv1.GatewayClass
		gw     *gwv1.Gateway
		reason ParametersReason
		msg    string
	}{
		{"class without namespace", testClass(proxyRef("")), testGateway(nil), ParametersMissingNamespace, "GatewayClass berth parametersRef EnvoyProxy.gateway.envoyproxy.io proxy: namespace missing"},
		{"class to a ConfigMap", testClass(&gwv1.ParametersReference{Kind: "ConfigMap", Name: "cm", Namespace: ptr.To(gwv1.Namespace("x"))}), testGateway(nil), ParametersUnsupportedKind, "GatewayClass berth parametersRef ConfigMap x/cm: unsupported kind"},
		{"gateway to another group", testClass(nil), testGateway(&gwv1.LocalParametersReference{Group: "example.com", Kind: v1alpha1.KindEnvoyProxy, Name: "p"}), ParametersUnsupportedKind, "Gateway team-a/gateway-a parametersRef EnvoyProxy.example.com team-a/p: unsupported kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResolveParametersRefs(tc.class, tc.gw)
			var pe *ParametersError
			if !errors.As(err, &pe) || pe.Reason != tc.reason {
				t.Fatalf("err = %v, want a ParametersError %s", err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), tc.msg) {
				t.Fatalf("err = %q, want prefix %q", err, tc.msg)
			}
		})
	}
}

func TestRenderParametersErrors(t *testing.T) {
	gwRef := &gwv1.LocalParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "mine"}
	invalid := proxy("infra", "proxy", &v1alpha1.EnvoyProxyKubernetesProvider{EnvoyHpa: &v1alpha1.KubernetesHorizontalPodAutoscalerSpec{}})
	for _, tc := range []struct {
		name   string
		in     Input
		reason ParametersReason // empty: not a ParametersError
		msg    string
	}{
		{"class EnvoyProxy missing", Input{GatewayClass: testClass(proxyRef("infra")), Gateway: testGateway(nil)}, ParametersNotFound, "EnvoyProxy infra/proxy does not exist"},
		{"gateway EnvoyProxy missing", Input{GatewayClass: testClass(nil), Gateway: testGateway(gwRef)}, ParametersNotFound, "EnvoyProxy team-a/mine does not exist"},
		{"invalid EnvoyProxy", Input{GatewayClass: testClass(proxyRef("infra")), Gateway: testGateway(nil), ClassParameters: invalid}, ParametersInvalid, "envoyHpa.maxReplicas: is required"},
		{"wrong EnvoyProxy given", Input{GatewayClass: testClass(proxyRef("infra")), Gateway: testGateway(nil), ClassParameters: proxy("infra", "other", nil)}, "", "references EnvoyProxy infra/proxy but EnvoyProxy infra/other was given"},
		{"unreferenced EnvoyProxy given", Input{GatewayClass: testClass(nil), Gateway: testGateway(nil), GatewayParameters: proxy("team-a", "x", nil)}, "", "references no EnvoyProxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.in, testOptions())
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParametersError
			if got := errors.As(err, &pe); got != (tc.reason != "") || (got && pe.Reason != tc.reason) {
				t.Fatalf("err = %v (%T), want reason %q", err, err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %q does not contain %q", err, tc.msg)
			}
		})
	}
	var fe *v1alpha1.FieldError
	_, err := Render(Input{GatewayClass: testClass(proxyRef("infra")), Gateway: testGateway(nil), ClassParameters: invalid}, testOptions())
	if !errors.As(err, &fe) || fe.Field != "spec.provider.kubernetes.envoyHpa.maxReplicas" {
		t.Fatalf("field error not reachable through errors.As: %v", err)
	}
}

func TestRenderGatewayErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*gwv1.Gateway)
		msg    string
	}{
		{"no listeners", func(g *gwv1.Gateway) { g.Spec.Listeners = nil }, "no listeners"},
		{"no listener berth serves", func(g *gwv1.Gateway) {
			for i := range g.Spec.Listeners {
				g.Spec.Listeners[i].Protocol = "example.com/custom"
			}
		}, "no listener of a protocol berth serves"},
		{"admin port", func(g *gwv1.Gateway) { g.Spec.Listeners[0].Port = dataplane.AdminPort }, "port 19000 is reserved"},
		{"port mapped onto nothing reserved", func(g *gwv1.Gateway) { g.Spec.Listeners[0].Port = 0 }, "port 0 is out of range"},
		{"invalid infrastructure label", func(g *gwv1.Gateway) {
			g.Spec.Infrastructure = &gwv1.GatewayInfrastructure{Labels: map[gwv1.LabelKey]gwv1.LabelValue{"ok": "not a valid value"}}
		}, `spec.infrastructure.labels: value of "ok"`},
		{"invalid namespace", func(g *gwv1.Gateway) { g.Namespace = "Team_A" }, `namespace "Team_A"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := testGateway(nil)
			tc.mutate(gw)
			_, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw}, testOptions())
			var ge *GatewayError
			if !errors.As(err, &ge) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a GatewayError containing %q", err, tc.msg)
			}
		})
	}
	// The controller reports this one as ListenersNotValid: it must stay
	// inspectable through the GatewayError.
	gw := testGateway(nil)
	for i := range gw.Spec.Listeners {
		gw.Spec.Listeners[i].Protocol = "SCTP"
	}
	if _, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw}, testOptions()); !errors.Is(err, ErrNoServedListeners) {
		t.Fatalf("err = %v, want one that is ErrNoServedListeners", err)
	}
	// A class other than the Gateway's is refused.
	gw = testGateway(nil)
	gw.Spec.GatewayClassName = "other"
	if _, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw}, testOptions()); err == nil {
		t.Fatal("rendered a Gateway against the wrong class")
	}
}

// The privileged port offset is an option like any other, 0 included: it
// moves the container port and the Service's target port, and the ports
// berth reserves are checked after the shift.
func TestPrivilegedPortOffset(t *testing.T) {
	for _, tc := range []struct {
		offset, listener, want int32
	}{
		{dataplane.DefaultPrivilegedPortOffset, 80, 10080},
		{0, 80, 80},
		{5000, 443, 5443},
		{5000, 8080, 8080},
	} {
		o := testOptions()
		o.PrivilegedPortOffset = tc.offset
		gw := testGateway(nil)
		gw.Spec.Listeners[0].Port = gwv1.PortNumber(tc.listener)
		b, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw}, o)
		if err != nil {
			t.Fatalf("offset %d: %v", tc.offset, err)
		}
		var container, target int32
		for _, obj := range b.Objects {
			switch v := obj.(type) {
			case *appsv1.Deployment:
				container = v.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort
			case *corev1.Service:
				target = v.Spec.Ports[0].TargetPort.IntVal
			}
		}
		if container != tc.want || target != tc.want {
			t.Errorf("offset %d, listener %d: container port %d, target port %d, want %d", tc.offset, tc.listener, container, target, tc.want)
		}
	}
	// Port 1000 shifted by 18000 is the admin port.
	o := testOptions()
	o.PrivilegedPortOffset = dataplane.AdminPort - 1000
	gw := testGateway(nil)
	gw.Spec.Listeners[0].Port = 1000
	var ge *GatewayError
	if _, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw}, o); !errors.As(err, &ge) || !strings.Contains(err.Error(), "port 1000 is reserved") {
		t.Fatalf("listener shifted onto the admin port: err = %v", err)
	}
}

func TestRenderDoesNotMutateInput(t *testing.T) {
	gwRef := &gwv1.LocalParametersReference{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy, Name: "mine"}
	in := Input{
		GatewayClass: testClass(proxyRef("infra")),
		Gateway:      testGateway(gwRef),
		ClassParameters: proxy("infra", "proxy", &v1alpha1.EnvoyProxyKubernetesProvider{
			EnvoyService: &v1alpha1.KubernetesServiceSpec{Annotations: map[string]string{"a": "class"}},
		}),
		GatewayParameters: proxy("team-a", "mine", &v1alpha1.EnvoyProxyKubernetesProvider{
			EnvoyService:    &v1alpha1.KubernetesServiceSpec{Annotations: map[string]string{"b": "gateway"}},
			EnvoyDeployment: &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{Labels: map[string]string{"tier": "edge"}}},
		}),
	}
	in.Gateway.Spec.Infrastructure.Labels = map[gwv1.LabelKey]gwv1.LabelValue{"infra": "x"}
	before := Input{GatewayClass: in.GatewayClass.DeepCopy(), Gateway: in.Gateway.DeepCopy(),
		ClassParameters: in.ClassParameters.DeepCopy(), GatewayParameters: in.GatewayParameters.DeepCopy()}
	b, err := Render(in, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, before) {
		t.Fatal("Render mutated its input")
	}
	svc := b.Objects[2].(*corev1.Service)
	if svc.Annotations["a"] != "class" || svc.Annotations["b"] != "gateway" || svc.Labels["infra"] != "x" {
		t.Fatalf("merged Service metadata = %v / %v", svc.Annotations, svc.Labels)
	}
	// Mutating the output must not reach the input either.
	dep := b.Objects[3].(*appsv1.Deployment)
	dep.Spec.Template.Labels["tier"] = "changed"
	if in.GatewayParameters.Spec.Provider.Kubernetes.EnvoyDeployment.Pod.Labels["tier"] != "edge" {
		t.Fatal("output shares a map with the input")
	}
}

func TestMergeReplacesListsAndMergesObjects(t *testing.T) {
	base := proxy("infra", "proxy", &v1alpha1.EnvoyProxyKubernetesProvider{
		EnvoyService: &v1alpha1.KubernetesServiceSpec{
			LoadBalancerSourceRanges: []string{"10.0.0.0/8", "192.168.0.0/16"},
			Annotations:              map[string]string{"keep": "1", "override": "base"},
		},
		EnvoyDeployment: &v1alpha1.KubernetesDeploymentSpec{Replicas: ptr.To[int32](2)},
	}).Spec
	over := proxy("team-a", "mine", &v1alpha1.EnvoyProxyKubernetesProvider{
		EnvoyService: &v1alpha1.KubernetesServiceSpec{
			LoadBalancerSourceRanges: []string{"172.16.0.0/12"},
			Annotations:              map[string]string{"override": "gateway"},
		},
	}).Spec
	got := mergeSpecs(&base, &over)
	svc := got.Provider.Kubernetes.EnvoyService
	if !reflect.DeepEqual(svc.LoadBalancerSourceRanges, []string{"172.16.0.0/12"}) {
		t.Errorf("lists are replaced, got %v", svc.LoadBalancerSourceRanges)
	}
	if !reflect.DeepEqual(svc.Annotations, map[string]string{"keep": "1", "override": "gateway"}) {
		t.Errorf("objects merge, got %v", svc.Annotations)
	}
	if r := got.Provider.Kubernetes.EnvoyDeployment.Replicas; r == nil || *r != 2 {
		t.Errorf("fields only the base sets stay, got replicas %v", r)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	o := DefaultOptions()
	o.XDSHost = ""
	o.ControllerNamespace = "ns"
	if err := o.Validate(); err != nil {
		t.Fatalf("derived host: %v", err)
	}
	if got := o.withDefaults(); got.XDSHost != "berth-xds.ns.svc" || got.XDSServerName != "berth-xds.ns.svc" {
		t.Fatalf("derived host %q, server name %q", got.XDSHost, got.XDSServerName)
	}
	bad := Options{XDSHost: "Not A Host", XDSPort: 70000, TokenExpirationSeconds: 60, EnvoyLogLevel: "loud", PrivilegedPortOffset: -1}
	err := bad.Validate()
	for _, want := range []string{"xDS host", "xDS port 70000", "privileged port offset -1", "token audience is empty", "below the Kubernetes minimum", "envoy image is empty", `log level "loud"`, "shutdown-manager image is empty", "shutdown-manager command is empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := Render(Input{GatewayClass: testClass(nil), Gateway: testGateway(nil)}, bad); err == nil {
		t.Error("Render accepted invalid options")
	}
	long := DefaultOptions()
	long.TokenExpirationSeconds = MaxTokenExpirationSeconds + 1
	if err := long.Validate(); err == nil || !strings.Contains(err.Error(), "above berth's maximum") {
		t.Errorf("a token lifetime over the cap: %v", err)
	}
}

func TestEnvoyImage(t *testing.T) {
	for _, tc := range []struct {
		def  string
		c    *v1alpha1.KubernetesContainerSpec
		want string
	}{
		{"envoy:v1", nil, "envoy:v1"},
		{"docker.io/envoyproxy/envoy:v1", &v1alpha1.KubernetesContainerSpec{Image: ptr.To("mine:v2")}, "mine:v2"},
		{"docker.io/envoyproxy/envoy:v1", &v1alpha1.KubernetesContainerSpec{ImageRepository: ptr.To("reg:5000/envoy")}, "reg:5000/envoy:v1"},
		{"localhost:5000/envoy", &v1alpha1.KubernetesContainerSpec{ImageRepository: ptr.To("mirror/envoy")}, "mirror/envoy"},
		{"envoy@sha256:abc", &v1alpha1.KubernetesContainerSpec{ImageRepository: ptr.To("mirror/envoy")}, "mirror/envoy@sha256:abc"},
	} {
		if got := envoyImage(tc.def, tc.c); got != tc.want {
			t.Errorf("envoyImage(%q) = %q, want %q", tc.def, got, tc.want)
		}
	}
}

func TestBundleShape(t *testing.T) {
	b, err := Render(Input{GatewayClass: testClass(nil), Gateway: testGateway(nil)}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range b.Objects {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	if want := []string{"ServiceAccount", "ConfigMap", "Service", "Deployment"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	if b.Inventory != (Inventory{Namespace: "team-a", Name: "envoy-team-a-gateway-a-b65c6264-inventory", ID: "envoy-team-a-gateway-a-b65c6264"}) {
		t.Fatalf("inventory = %+v", b.Inventory)
	}
	pod := b.Objects[3].(*appsv1.Deployment).Spec.Template.Spec
	if len(pod.Containers) != 2 || pod.Containers[0].Name != ContainerEnvoy || pod.Containers[1].Name != ContainerShutdownManager {
		t.Fatalf("containers = %+v", pod.Containers)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Fatal("the pod automounts a ServiceAccount token")
	}
	tok := pod.Volumes[1].Projected.Sources[0].ServiceAccountToken
	if tok.Audience != "berth.dev/xds" || *tok.ExpirationSeconds != 3600 {
		t.Fatalf("token projection = %+v", tok)
	}
	// With a Gateway UID the objects are owned by the Gateway (garbage
	// collection backstop); without one (offline) they are not.
	if len(b.Objects[0].GetOwnerReferences()) != 0 {
		t.Fatal("owner reference without a Gateway UID")
	}
	gw := testGateway(nil)
	gw.UID = "1234"
	b, err = Render(Input{GatewayClass: testClass(nil), Gateway: gw}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range b.Objects {
		if refs := o.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != "1234" || refs[0].Kind != "Gateway" {
			t.Fatalf("%s owner references = %+v", o.GetName(), refs)
		}
	}
}

// mergeSpecsJSON is the reference semantics of mergeSpecs: a JSON merge
// patch (RFC 7386) of over's JSON onto base's.
func mergeSpecsJSON(t *testing.T, base, over *v1alpha1.EnvoyProxySpec) *v1alpha1.EnvoyProxySpec {
	t.Helper()
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	o, err := json.Marshal(over)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := jsonpatch.MergePatch(b, o)
	if err != nil {
		t.Fatal(err)
	}
	out := &v1alpha1.EnvoyProxySpec{}
	if err := json.Unmarshal(merged, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMergeMatchesJSONMergePatch merges every pair of EnvoyProxy specs of
// the golden inputs both ways and compares with a JSON merge patch.
func TestMergeMatchesJSONMergePatch(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var specs []*v1alpha1.EnvoyProxySpec
	for _, in := range inputs {
		set, err := manifest.DecodeAll(manifest.Input{Source: in, Reader: openFile(t, in)})
		if err != nil {
			t.Fatal(err)
		}
		for _, ep := range set.EnvoyProxies {
			specs = append(specs, &ep.Spec)
		}
	}
	if len(specs) < 5 {
		t.Fatalf("only %d specs", len(specs))
	}
	for i, base := range specs {
		for j, over := range specs {
			got := mergeSpecs(base, over)
			want := mergeSpecsJSON(t, base, over)
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("merge %d over %d:\n got %s\nwant %s", j, i, gj, wj)
			}
		}
	}
}

// The Service and container ports include the attached ListenerSets'
// listeners: a new port, a UDP port (protocol UDP), and a port the Gateway
// already serves counted once.
func TestListenerSetPorts(t *testing.T) {
	gw := testGateway(nil)
	gw.Spec.Listeners[0].Port = 8080
	gw.Spec.Listeners[0].Protocol = gwv1.HTTPProtocolType
	set := &gwv1.ListenerSet{Spec: gwv1.ListenerSetSpec{Listeners: []gwv1.ListenerEntry{
		{Name: "same", Port: 8080, Protocol: gwv1.HTTPProtocolType},
		{Name: "dns", Port: 53, Protocol: gwv1.UDPProtocolType},
		{Name: "db", Port: 5432, Protocol: gwv1.TCPProtocolType},
	}}}
	b, err := Render(Input{GatewayClass: testClass(nil), Gateway: gw, ListenerSets: []*gwv1.ListenerSet{set}}, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var svcPorts, containerPorts []string
	for _, obj := range b.Objects {
		switch v := obj.(type) {
		case *corev1.Service:
			for _, p := range v.Spec.Ports {
				svcPorts = append(svcPorts, fmt.Sprintf("%s %d/%s→%d", p.Name, p.Port, p.Protocol, p.TargetPort.IntVal))
			}
		case *appsv1.Deployment:
			for _, p := range v.Spec.Template.Spec.Containers[0].Ports {
				containerPorts = append(containerPorts, fmt.Sprintf("%s %d/%s", p.Name, p.ContainerPort, p.Protocol))
			}
		}
	}
	want := "udp-53 53/UDP→10053, tcp-5432 5432/TCP→5432, http-8080 8080/TCP→8080" // by port
	if got := strings.Join(svcPorts, ", "); got != want {
		t.Errorf("Service ports %q, want %q", got, want)
	}
	for _, want := range []string{"udp-53 10053/UDP", "tcp-5432 5432/TCP", "http-8080 8080/TCP"} {
		if !strings.Contains(strings.Join(containerPorts, ","), want) {
			t.Errorf("container ports %v lack %q", containerPorts, want)
		}
	}
}
