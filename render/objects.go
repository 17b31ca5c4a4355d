package render

import (
	"fmt"

	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/dataplane"
)

// builder builds the objects of one Gateway's bundle.
type builder struct {
	gw       *gwv1.Gateway
	sets     []*gwv1.ListenerSet // Input.ListenerSets
	spec     *v1alpha1.EnvoyProxySpec
	opts     Options
	warnings []string

	bootstrap string // set by configMap, used by deployment
}

func (b *builder) kube() *v1alpha1.EnvoyProxyKubernetesProvider {
	if b.spec.Provider == nil || b.spec.Provider.Kubernetes == nil {
		return &v1alpha1.EnvoyProxyKubernetesProvider{}
	}
	return b.spec.Provider.Kubernetes
}

// meta is the metadata of a bundle object: infrastructure labels and
// annotations, then the object's own extras, then berth's labels (which
// always win so that selectors and ownership stay intact).
func (b *builder) meta(name string, extraLabels, extraAnnotations map[string]string) metav1.ObjectMeta {
	labels := map[string]string{}
	var annotations map[string]string
	if infra := b.gw.Spec.Infrastructure; infra != nil {
		for k, v := range infra.Labels {
			labels[string(k)] = string(v)
		}
		if len(infra.Annotations) > 0 {
			annotations = make(map[string]string, len(infra.Annotations))
			for k, v := range infra.Annotations {
				annotations[string(k)] = string(v)
			}
		}
	}
	for k, v := range extraLabels {
		labels[k] = v
	}
	for k, v := range extraAnnotations {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[k] = v
	}
	for k, v := range Labels(b.gw.Namespace, b.gw.Name) {
		labels[k] = v
	}
	m := metav1.ObjectMeta{Name: name, Namespace: b.gw.Namespace, Labels: labels, Annotations: annotations}
	if b.gw.UID != "" {
		// Kubernetes garbage collection as a backstop: should the finalizer
		// be forced off, the bundle still goes with its Gateway.
		m.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: gwv1.GroupVersion.String(), Kind: "Gateway", Name: b.gw.Name, UID: b.gw.UID,
		}}
	}
	return m
}

func (b *builder) name() string { return ProxyName(b.gw.Namespace, b.gw.Name) }

func (b *builder) serviceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: b.meta(ServiceAccountName(b.gw.Namespace, b.gw.Name), nil, nil),
		// The proxy authenticates with the projected xDS token only; it
		// never talks to the Kubernetes API.
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// configMap holds the files Envoy reads: its bootstrap, the two SDS files
// and the CA bundle. Each Envoy file is built typed and refused unless it
// validates as Envoy would validate it.
func (b *builder) configMap() (*corev1.ConfigMap, error) {
	var err error
	var memoryLimit int64
	if m, ok := b.envoyResources().Limits[corev1.ResourceMemory]; ok {
		memoryLimit = m.Value()
	}
	if b.bootstrap, err = encodedBootstrap(bootstrapParamsOf(b.gw.Namespace, b.gw.Name, memoryLimit, b.prometheus(), b.opts)); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	sds, err := encodedSDSFiles()
	if err != nil {
		return nil, err
	}
	if len(b.opts.CABundle) == 0 {
		b.warnings = append(b.warnings, "no CA bundle given: "+ConfigKeyCA+" is empty and Envoy cannot verify the xDS server")
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: b.meta(b.name(), nil, nil),
		Data: map[string]string{
			ConfigKeyBootstrap: b.bootstrap,
			ConfigKeySDSToken:  sds[0],
			ConfigKeySDSCA:     sds[1],
			ConfigKeyCA:        string(b.opts.CABundle),
		},
	}, nil
}

// servicePort is one port of the Service, shared by every listener on the
// same port and transport protocol.
type servicePort struct {
	port     int32
	protocol corev1.Protocol
	name     string
}

// ports derives the Service ports from the listeners berth serves
// (dataplane.Serves), the Gateway's and its attached ListenerSets': one per (port, transport), named after the first
// listener protocol in name order, sorted by port then transport. A
// listener of another protocol gets no port: nothing in Envoy would answer
// it.
func (b *builder) ports() []servicePort {
	type key struct {
		port     int32
		protocol corev1.Protocol
	}
	names := map[key]string{}
	add := func(port gwv1.PortNumber, protocol gwv1.ProtocolType) {
		if !dataplane.Serves(string(protocol)) {
			return
		}
		k := key{int32(port), corev1.Protocol(dataplane.Transport(string(protocol)))}
		n := portName(protocol, k.port)
		if cur, ok := names[k]; !ok || n < cur {
			names[k] = n
		}
	}
	for _, l := range b.gw.Spec.Listeners {
		add(l.Port, l.Protocol)
	}
	for _, s := range b.sets {
		for _, l := range s.Spec.Listeners {
			add(l.Port, l.Protocol)
		}
	}
	out := make([]servicePort, 0, len(names))
	for k, n := range names {
		out = append(out, servicePort{port: k.port, protocol: k.protocol, name: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].port != out[j].port {
			return out[i].port < out[j].port
		}
		return out[i].protocol < out[j].protocol
	})
	return out
}

// portName is a valid port name (DNS label of at most 15 characters) from
// a listener protocol: http-8080, https-443, tls-…, tcp-…, udp-…; other
// (implementation-specific) protocols become tcp-<port>.
func portName(p gwv1.ProtocolType, port int32) string {
	prefix := "tcp"
	switch p {
	case gwv1.HTTPProtocolType, gwv1.HTTPSProtocolType, gwv1.TLSProtocolType, gwv1.UDPProtocolType:
		prefix = strings.ToLower(string(p))
	}
	return prefix + "-" + strconv.Itoa(int(port))
}

func (b *builder) service() *corev1.Service {
	svc := b.kube().EnvoyService
	if svc == nil {
		svc = &v1alpha1.KubernetesServiceSpec{}
	}
	name := b.serviceName()
	typ := corev1.ServiceTypeLoadBalancer
	if svc.Type != nil {
		typ = corev1.ServiceType(*svc.Type)
	}
	s := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: b.meta(name, svc.Labels, svc.Annotations),
		Spec: corev1.ServiceSpec{
			Type:                          typ,
			Selector:                      SelectorLabels(b.gw.Namespace, b.gw.Name),
			LoadBalancerClass:             svc.LoadBalancerClass,
			AllocateLoadBalancerNodePorts: svc.AllocateLoadBalancerNodePorts,
			LoadBalancerSourceRanges:      svc.LoadBalancerSourceRanges,
		},
	}
	if svc.LoadBalancerIP != nil {
		s.Spec.LoadBalancerIP = *svc.LoadBalancerIP
	}
	if svc.ExternalTrafficPolicy != nil {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(*svc.ExternalTrafficPolicy)
	}
	for _, p := range b.ports() {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{
			Name:       p.name,
			Protocol:   p.protocol,
			Port:       p.port,
			TargetPort: intstr.FromInt32(b.containerPort(p.port)),
		})
	}
	return s
}

func (b *builder) deployment() *appsv1.Deployment {
	k := b.kube()
	d := k.EnvoyDeployment
	if d == nil {
		d = &v1alpha1.KubernetesDeploymentSpec{}
	}
	pod := d.Pod
	if pod == nil {
		pod = &v1alpha1.KubernetesPodSpec{}
	}
	var replicas *int32
	if k.EnvoyHpa == nil {
		replicas = ptr.To[int32](1)
		if d.Replicas != nil {
			replicas = ptr.To(*d.Replicas)
		}
	} else if d.Replicas != nil {
		b.warnings = append(b.warnings, "envoyDeployment.replicas is ignored: envoyHpa manages the replica count")
	}
	podMeta := b.meta("", pod.Labels, pod.Annotations)
	podMeta.Name, podMeta.Namespace, podMeta.OwnerReferences = "", "", nil
	if podMeta.Annotations == nil {
		podMeta.Annotations = map[string]string{}
	}
	podMeta.Annotations[AnnotationBootstrapHash] = digest(b.bootstrap)
	b.statsPodAnnotations(podMeta.Annotations)

	podSecurity := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		RunAsGroup:     ptr.To[int64](65532),
		FSGroup:        ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if pod.SecurityContext != nil {
		podSecurity = pod.SecurityContext.DeepCopy()
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: b.meta(b.name(), nil, nil),
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(b.gw.Namespace, b.gw.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: podMeta,
				Spec: corev1.PodSpec{
					ServiceAccountName:            ServiceAccountName(b.gw.Namespace, b.gw.Name),
					AutomountServiceAccountToken:  ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To(b.opts.TerminationGracePeriodSeconds),
					SecurityContext:               podSecurity,
					Containers:                    []corev1.Container{b.envoyContainer(d.Container), b.shutdownManagerContainer()},
					Volumes:                       b.volumes(),
					NodeSelector:                  copyMap(pod.NodeSelector),
					Affinity:                      pod.Affinity.DeepCopy(),
					Tolerations:                   pod.Tolerations,
					TopologySpreadConstraints:     pod.TopologySpreadConstraints,
					ImagePullSecrets:              pod.ImagePullSecrets,
				},
			},
		},
	}
	if pod.PriorityClassName != nil {
		dep.Spec.Template.Spec.PriorityClassName = *pod.PriorityClassName
	}
	if d.Strategy != nil {
		dep.Spec.Strategy = *d.Strategy.DeepCopy()
	}
	return dep
}

func (b *builder) volumes() []corev1.Volume {
	return []corev1.Volume{
		{
			Name: volumeConfig,
			VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: b.name()},
				DefaultMode:          ptr.To[int32](0o444),
			}},
		},
		{
			Name: volumeToken,
			VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr.To[int32](0o440),
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience:          b.opts.TokenAudience,
					ExpirationSeconds: ptr.To(b.opts.TokenExpirationSeconds),
					Path:              TokenFile,
				}}},
			}},
		},
	}
}

// restrictedSecurityContext is the default container security context:
// non-root, read-only root filesystem, no privilege escalation, no
// capabilities.
func restrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Privileged:               ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// envoyResources are the envoy container's resources: the EnvoyProxy's, or
// the defaults (requests only). The bootstrap derives Envoy's heap limit
// from their memory limit.
func (b *builder) envoyResources() corev1.ResourceRequirements {
	if d := b.kube().EnvoyDeployment; d != nil && d.Container != nil && d.Container.Resources != nil {
		return *d.Container.Resources.DeepCopy()
	}
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("256Mi"),
	}}
}

func (b *builder) envoyContainer(c *v1alpha1.KubernetesContainerSpec) corev1.Container {
	env := []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
	}
	resources := b.envoyResources()
	security := restrictedSecurityContext()
	if c != nil {
		env = append(env, c.Env...)
		if c.SecurityContext != nil {
			security = c.SecurityContext.DeepCopy()
		}
	}
	var ports []corev1.ContainerPort
	for _, p := range b.ports() {
		ports = append(ports, corev1.ContainerPort{Name: p.name, ContainerPort: b.containerPort(p.port), Protocol: p.protocol})
	}
	ports = append(ports, b.statsContainerPorts()...)
	return corev1.Container{
		Name:    ContainerEnvoy,
		Image:   envoyImage(b.opts.EnvoyImage, c),
		Command: []string{"envoy"},
		Args: []string{
			"--config-path", ConfigDir + "/" + ConfigKeyBootstrap,
			// Kubernetes expands $(POD_NAME): the node id is the pod name.
			"--service-node", "$(POD_NAME)",
			"--service-cluster", dataplane.NodeCluster(b.gw.Namespace, b.gw.Name),
			"--log-level", b.opts.EnvoyLogLevel,
			"--disable-hot-restart",
		},
		Env:       env,
		Ports:     ports,
		Resources: resources,
		VolumeMounts: []corev1.VolumeMount{
			{Name: volumeConfig, MountPath: ConfigDir, ReadOnly: true},
			{Name: volumeToken, MountPath: TokenDir, ReadOnly: true},
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: dataplane.ReadyPath, Port: intstr.FromInt32(dataplane.ReadyPort), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds:    5,
			TimeoutSeconds:   1,
			SuccessThreshold: 1,
			FailureThreshold: 1,
		},
		StartupProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: dataplane.ReadyPath, Port: intstr.FromInt32(dataplane.ReadyPort), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds:    10,
			TimeoutSeconds:   1,
			SuccessThreshold: 1,
			FailureThreshold: 30,
		},
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: dataplane.ShutdownReadyPath, Port: intstr.FromInt32(dataplane.ShutdownManagerPort), Scheme: corev1.URISchemeHTTP,
		}}},
		SecurityContext:          security,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

func (b *builder) shutdownManagerContainer() corev1.Container {
	return corev1.Container{
		Name:  ContainerShutdownManager,
		Image: b.opts.ShutdownManagerImage,
		// Its defaults are the contract: Envoy admin at
		// 127.0.0.1:dataplane.AdminPort, listening on
		// dataplane.ShutdownManagerPort.
		Command: append([]string(nil), b.opts.ShutdownManagerCommand...),
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		}},
		SecurityContext:          restrictedSecurityContext(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

func (b *builder) hpa() *autoscalingv2.HorizontalPodAutoscaler {
	h := b.kube().EnvoyHpa
	if h == nil {
		return nil
	}
	metrics := h.Metrics
	if len(metrics) == 0 {
		metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
			},
		}}
	}
	minReplicas := ptr.To[int32](1)
	if h.MinReplicas != nil {
		minReplicas = ptr.To(*h.MinReplicas)
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: b.meta(b.name(), nil, nil),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: b.name()},
			MinReplicas:    minReplicas,
			MaxReplicas:    *h.MaxReplicas,
			Metrics:        metrics,
			Behavior:       h.Behavior,
		},
	}
}

func (b *builder) pdb() *policyv1.PodDisruptionBudget {
	p := b.kube().EnvoyPDB
	if p == nil {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: b.meta(b.name(), nil, nil),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(b.gw.Namespace, b.gw.Name)},
			MinAvailable:   p.MinAvailable,
			MaxUnavailable: p.MaxUnavailable,
		},
	}
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
