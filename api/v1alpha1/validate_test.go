package v1alpha1

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func kube(k *EnvoyProxyKubernetesProvider) *EnvoyProxySpec {
	return &EnvoyProxySpec{Provider: &EnvoyProxyProvider{Type: ProviderTypeKubernetes, Kubernetes: k}}
}

func TestValidate(t *testing.T) {
	typ := func(s ServiceType) *ServiceType { return &s }
	pct := intstr.FromString("50%")
	one := intstr.FromInt32(1)
	for _, tc := range []struct {
		name string
		spec *EnvoyProxySpec
		want []string // fields in error, in order; empty: valid
	}{
		{"empty", &EnvoyProxySpec{}, nil},
		{"seed ClusterIP", kube(&EnvoyProxyKubernetesProvider{EnvoyService: &KubernetesServiceSpec{Name: ptr.To("my-gateway"), Type: typ(ServiceTypeClusterIP)}}), nil},
		{"other provider", &EnvoyProxySpec{Provider: &EnvoyProxyProvider{Type: "Custom"}}, []string{"spec.provider.type"}},
		{"service", kube(&EnvoyProxyKubernetesProvider{EnvoyService: &KubernetesServiceSpec{
			Name: ptr.To("Bad_Name"), Type: typ("Headless"), Labels: map[string]string{"k": "bad value"},
		}}), []string{"spec.provider.kubernetes.envoyService.name", "spec.provider.kubernetes.envoyService.type", "spec.provider.kubernetes.envoyService.labels"}},
		{"LoadBalancer fields on NodePort", kube(&EnvoyProxyKubernetesProvider{EnvoyService: &KubernetesServiceSpec{
			Type: typ(ServiceTypeNodePort), LoadBalancerClass: ptr.To("x/y"), LoadBalancerIP: ptr.To("1.2.3.4"),
			AllocateLoadBalancerNodePorts: ptr.To(false), LoadBalancerSourceRanges: []string{"10.0.0.0/8"},
		}}), []string{
			"spec.provider.kubernetes.envoyService.allocateLoadBalancerNodePorts", "spec.provider.kubernetes.envoyService.loadBalancerClass",
			"spec.provider.kubernetes.envoyService.loadBalancerIP", "spec.provider.kubernetes.envoyService.loadBalancerSourceRanges",
		}},
		{"LoadBalancer values", kube(&EnvoyProxyKubernetesProvider{EnvoyService: &KubernetesServiceSpec{
			LoadBalancerIP: ptr.To("not-an-ip"), LoadBalancerSourceRanges: []string{"10.0.0.0/8", "nope"},
			ExternalTrafficPolicy: ptr.To(ServiceExternalTrafficPolicy("Sometimes")),
		}}), []string{"spec.provider.kubernetes.envoyService.externalTrafficPolicy", "spec.provider.kubernetes.envoyService.loadBalancerIP",
			"spec.provider.kubernetes.envoyService.loadBalancerSourceRanges[1]"}},
		{"externalTrafficPolicy on ClusterIP", kube(&EnvoyProxyKubernetesProvider{EnvoyService: &KubernetesServiceSpec{
			Type: typ(ServiceTypeClusterIP), ExternalTrafficPolicy: ptr.To(ServiceExternalTrafficPolicyLocal),
		}}), []string{"spec.provider.kubernetes.envoyService.externalTrafficPolicy"}},
		{"hpa", kube(&EnvoyProxyKubernetesProvider{EnvoyHpa: &KubernetesHorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](4), MaxReplicas: ptr.To[int32](3)}}),
			[]string{"spec.provider.kubernetes.envoyHpa.minReplicas"}},
		{"hpa without max", kube(&EnvoyProxyKubernetesProvider{EnvoyHpa: &KubernetesHorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](0)}}),
			[]string{"spec.provider.kubernetes.envoyHpa.maxReplicas", "spec.provider.kubernetes.envoyHpa.minReplicas"}},
		{"pdb both", kube(&EnvoyProxyKubernetesProvider{EnvoyPDB: &KubernetesPodDisruptionBudgetSpec{MinAvailable: &one, MaxUnavailable: &pct}}),
			[]string{"spec.provider.kubernetes.envoyPDB"}},
		{"pdb neither", kube(&EnvoyProxyKubernetesProvider{EnvoyPDB: &KubernetesPodDisruptionBudgetSpec{}}), []string{"spec.provider.kubernetes.envoyPDB"}},
		{"pdb bad percent", kube(&EnvoyProxyKubernetesProvider{EnvoyPDB: &KubernetesPodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("150%"))}}),
			[]string{"spec.provider.kubernetes.envoyPDB.maxUnavailable"}},
		{"pdb not a percent", kube(&EnvoyProxyKubernetesProvider{EnvoyPDB: &KubernetesPodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("half"))}}),
			[]string{"spec.provider.kubernetes.envoyPDB.minAvailable"}},
		{"deployment", kube(&EnvoyProxyKubernetesProvider{EnvoyDeployment: &KubernetesDeploymentSpec{
			Replicas: ptr.To[int32](-1),
			Pod:      &KubernetesPodSpec{Annotations: map[string]string{"bad key!": "x"}, PriorityClassName: ptr.To("UPPER")},
			Container: &KubernetesContainerSpec{
				Image: ptr.To("a"), ImageRepository: ptr.To("b"),
				Env: []corev1.EnvVar{{Name: "1BAD=NAME"}},
				Resources: &corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
				},
			},
		}}), []string{
			"spec.provider.kubernetes.envoyDeployment.replicas", "spec.provider.kubernetes.envoyDeployment.pod.annotations",
			"spec.provider.kubernetes.envoyDeployment.pod.priorityClassName", "spec.provider.kubernetes.envoyDeployment.container",
			"spec.provider.kubernetes.envoyDeployment.container.env[0].name", "spec.provider.kubernetes.envoyDeployment.container.resources.requests.memory",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			var got []string
			var fes FieldErrors
			if err != nil {
				if !errors.As(err, &fes) {
					t.Fatalf("error %T is not FieldErrors: %v", err, err)
				}
				for _, fe := range fes {
					got = append(got, fe.Field)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("message spans lines: %q", err)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields in error = %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	raw := &apiextensionsv1.JSON{Raw: []byte("{}")}
	s := kube(&EnvoyProxyKubernetesProvider{
		EnvoyDaemonSet:  raw,
		EnvoyDeployment: &KubernetesDeploymentSpec{Patch: raw, Pod: &KubernetesPodSpec{Volumes: raw}},
		EnvoyService:    &KubernetesServiceSpec{Patch: raw},
	})
	s.MergeGateways = raw
	s.Telemetry = &ProxyTelemetry{
		Tracing: raw,
		AccessLog: &ProxyAccessLog{Settings: []ProxyAccessLogSetting{{
			Matches: raw,
			Sinks: []ProxyAccessLogSink{
				{Type: ProxyAccessLogSinkTypeFile, File: &FileEnvoyProxyAccessLog{Path: "/dev/stdout"}},
				{Type: ProxyAccessLogSinkTypeOpenTelemetry, OpenTelemetry: raw},
				{Type: ProxyAccessLogSinkTypeALS},
			},
		}}},
		Metrics: &ProxyMetrics{Sinks: raw, ClusterStatName: raw, Prometheus: &ProxyPrometheusProvider{Compression: raw}},
	}
	want := []string{
		"spec.mergeGateways",
		"spec.provider.kubernetes.envoyDaemonSet",
		"spec.provider.kubernetes.envoyDeployment.patch",
		"spec.provider.kubernetes.envoyDeployment.pod.volumes",
		"spec.provider.kubernetes.envoyService.patch",
		"spec.telemetry.accessLog.settings[0].matches",
		"spec.telemetry.accessLog.settings[0].sinks[1] (type OpenTelemetry)",
		"spec.telemetry.accessLog.settings[0].sinks[2] (type ALS)",
		"spec.telemetry.metrics.clusterStatName",
		"spec.telemetry.metrics.prometheus.compression",
		"spec.telemetry.metrics.sinks",
		"spec.telemetry.tracing",
	}
	if got := s.Unsupported(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Unsupported() = %v, want %v", got, want)
	}
	if got := (&EnvoyProxySpec{}).Unsupported(); got != nil {
		t.Fatalf("empty spec: %v", got)
	}
}

func TestValidateImages(t *testing.T) {
	for _, tc := range []struct {
		image, repo *string
		ok          bool
	}{
		{ptr.To("docker.io/envoyproxy/envoy:distroless-v1.40.0"), nil, true},
		{ptr.To("reg:5000/envoy@sha256:0123abcd"), nil, true},
		{nil, ptr.To("registry.example.com:5000/mirror/envoy"), true},
		{nil, ptr.To("mirror/envoy@sha256:00"), false},
		{ptr.To("envoy latest"), nil, false},
		{ptr.To("envoy\x7f"), nil, false},
		{ptr.To(""), nil, false},
		{nil, ptr.To("\xff"), false},
	} {
		s := kube(&EnvoyProxyKubernetesProvider{EnvoyDeployment: &KubernetesDeploymentSpec{Container: &KubernetesContainerSpec{Image: tc.image, ImageRepository: tc.repo}}})
		if err := s.Validate(); (err == nil) != tc.ok {
			t.Errorf("image %v, repository %v: err = %v, want ok=%v", ptrString(tc.image), ptrString(tc.repo), err, tc.ok)
		}
	}
}

func ptrString(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
