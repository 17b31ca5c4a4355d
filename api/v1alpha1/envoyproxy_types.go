package v1alpha1

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// EnvoyProxy configures the Envoy data plane of the Gateways that reference
// it, from a GatewayClass parametersRef (any namespace) or a Gateway's
// spec.infrastructure.parametersRef (the Gateway's namespace).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=envoy-gateway,shortName=eproxy
// +kubebuilder:subresource:status
type EnvoyProxy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired data-plane configuration.
	Spec EnvoyProxySpec `json:"spec,omitempty"`
	// Status is owned by the controller. berth does not write it; it is kept
	// opaque so objects written by other implementations still decode.
	//
	// +optional
	Status *apiextensionsv1.JSON `json:"status,omitempty"`
}

// EnvoyProxyList is a list of EnvoyProxy.
//
// +kubebuilder:object:root=true
type EnvoyProxyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EnvoyProxy `json:"items"`
}

// EnvoyProxySpec is the desired data-plane configuration. Provider and
// Telemetry are implemented; every other field is accepted, preserved and
// reported as unsupported.
type EnvoyProxySpec struct {
	// Provider says where and how Envoy runs.
	//
	// +optional
	Provider *EnvoyProxyProvider `json:"provider,omitempty"`
	// Telemetry configures access logs and metrics.
	//
	// +optional
	Telemetry *ProxyTelemetry `json:"telemetry,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Logging *apiextensionsv1.JSON `json:"logging,omitempty"`
	// +optional
	Bootstrap *apiextensionsv1.JSON `json:"bootstrap,omitempty"`
	// +optional
	Concurrency *apiextensionsv1.JSON `json:"concurrency,omitempty"`
	// +optional
	RoutingType *apiextensionsv1.JSON `json:"routingType,omitempty"`
	// +optional
	ExtraArgs *apiextensionsv1.JSON `json:"extraArgs,omitempty"`
	// +optional
	MergeGateways *apiextensionsv1.JSON `json:"mergeGateways,omitempty"`
	// +optional
	Shutdown *apiextensionsv1.JSON `json:"shutdown,omitempty"`
	// +optional
	FilterOrder *apiextensionsv1.JSON `json:"filterOrder,omitempty"`
	// +optional
	BackendTLS *apiextensionsv1.JSON `json:"backendTLS,omitempty"`
	// +optional
	IPFamily *apiextensionsv1.JSON `json:"ipFamily,omitempty"`
	// +optional
	PreserveRouteOrder *apiextensionsv1.JSON `json:"preserveRouteOrder,omitempty"`
	// +optional
	LuaValidation *apiextensionsv1.JSON `json:"luaValidation,omitempty"`
}

// ProviderType names the infrastructure provider of the data plane.
//
// +kubebuilder:validation:Enum=Kubernetes
type ProviderType string

// ProviderTypeKubernetes runs Envoy as Kubernetes workloads; the only
// provider berth implements.
const ProviderTypeKubernetes ProviderType = "Kubernetes"

// EnvoyProxyProvider says where and how Envoy runs.
type EnvoyProxyProvider struct {
	// Type is the provider; only Kubernetes.
	Type ProviderType `json:"type"`
	// Kubernetes configures the Kubernetes objects of the data plane.
	//
	// +optional
	Kubernetes *EnvoyProxyKubernetesProvider `json:"kubernetes,omitempty"`
}

// EnvoyProxyKubernetesProvider configures the Kubernetes objects of one
// Gateway's data plane.
type EnvoyProxyKubernetesProvider struct {
	// EnvoyDeployment configures the Envoy Deployment.
	//
	// +optional
	EnvoyDeployment *KubernetesDeploymentSpec `json:"envoyDeployment,omitempty"`
	// EnvoyService configures the Service in front of Envoy.
	//
	// +optional
	EnvoyService *KubernetesServiceSpec `json:"envoyService,omitempty"`
	// EnvoyHpa, when set, adds a HorizontalPodAutoscaler for the Deployment
	// and leaves spec.replicas out of the Deployment.
	//
	// +optional
	EnvoyHpa *KubernetesHorizontalPodAutoscalerSpec `json:"envoyHpa,omitempty"`
	// EnvoyPDB, when set, adds a PodDisruptionBudget for the Envoy pods.
	//
	// +optional
	EnvoyPDB *KubernetesPodDisruptionBudgetSpec `json:"envoyPDB,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	EnvoyDaemonSet *apiextensionsv1.JSON `json:"envoyDaemonSet,omitempty"`
	// +optional
	UseListenerPortAsContainerPort *apiextensionsv1.JSON `json:"useListenerPortAsContainerPort,omitempty"`
}

// KubernetesDeploymentSpec configures the Envoy Deployment.
type KubernetesDeploymentSpec struct {
	// Replicas is the number of Envoy pods (default 1). Ignored when an HPA
	// is configured.
	//
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Strategy is the Deployment's update strategy.
	//
	// +optional
	Strategy *appsv1.DeploymentStrategy `json:"strategy,omitempty"`
	// Pod configures the Envoy pods.
	//
	// +optional
	Pod *KubernetesPodSpec `json:"pod,omitempty"`
	// Container configures the envoy container.
	//
	// +optional
	Container *KubernetesContainerSpec `json:"container,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Patch *apiextensionsv1.JSON `json:"patch,omitempty"`
	// +optional
	InitContainers *apiextensionsv1.JSON `json:"initContainers,omitempty"`
	// +optional
	Name *apiextensionsv1.JSON `json:"name,omitempty"`
}

// KubernetesPodSpec configures the Envoy pods.
type KubernetesPodSpec struct {
	// Annotations are added to the pod template.
	//
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels are added to the pod template (never to the selector).
	//
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// SecurityContext replaces berth's pod security context.
	//
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`
	// Affinity of the Envoy pods.
	//
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// Tolerations of the Envoy pods.
	//
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// ImagePullSecrets of the Envoy pods.
	//
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	// NodeSelector of the Envoy pods.
	//
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// TopologySpreadConstraints of the Envoy pods.
	//
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// PriorityClassName of the Envoy pods.
	//
	// +optional
	PriorityClassName *string `json:"priorityClassName,omitempty"`

	// Not implemented by berth: extra volumes would let tenant pods mount
	// more than the token and the CA (reported as unsupported when set).

	// +optional
	Volumes *apiextensionsv1.JSON `json:"volumes,omitempty"`
}

// KubernetesContainerSpec configures the envoy container.
type KubernetesContainerSpec struct {
	// Env adds environment variables to the envoy container.
	//
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// Resources replaces berth's default resources of the envoy container.
	//
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// SecurityContext replaces berth's container security context.
	//
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`
	// Image replaces the Envoy image. Mutually exclusive with ImageRepository.
	//
	// +kubebuilder:validation:MinLength=1
	// +optional
	Image *string `json:"image,omitempty"`
	// ImageRepository replaces the repository of the Envoy image and keeps
	// the default tag. Mutually exclusive with Image.
	//
	// +kubebuilder:validation:MinLength=1
	// +optional
	ImageRepository *string `json:"imageRepository,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	VolumeMounts *apiextensionsv1.JSON `json:"volumeMounts,omitempty"`
}

// ServiceType is the type of the Service in front of Envoy.
//
// +kubebuilder:validation:Enum=ClusterIP;LoadBalancer;NodePort
type ServiceType string

const (
	// ServiceTypeClusterIP makes the Gateway reachable inside the cluster only.
	ServiceTypeClusterIP ServiceType = "ClusterIP"
	// ServiceTypeLoadBalancer asks for an external address (the default).
	ServiceTypeLoadBalancer ServiceType = "LoadBalancer"
	// ServiceTypeNodePort exposes the Gateway on every node's port.
	ServiceTypeNodePort ServiceType = "NodePort"
)

// ServiceExternalTrafficPolicy is the Service's externalTrafficPolicy.
//
// +kubebuilder:validation:Enum=Local;Cluster
type ServiceExternalTrafficPolicy string

const (
	// ServiceExternalTrafficPolicyCluster routes to pods on any node.
	ServiceExternalTrafficPolicyCluster ServiceExternalTrafficPolicy = "Cluster"
	// ServiceExternalTrafficPolicyLocal keeps the client address, routing to
	// pods on the receiving node only.
	ServiceExternalTrafficPolicyLocal ServiceExternalTrafficPolicy = "Local"
)

// KubernetesServiceSpec configures the Service in front of Envoy.
type KubernetesServiceSpec struct {
	// Name replaces the Service's name (only the Service's).
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Name *string `json:"name,omitempty"`
	// Type of the Service (default LoadBalancer).
	//
	// +optional
	Type *ServiceType `json:"type,omitempty"`
	// Annotations are added to the Service.
	//
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels are added to the Service.
	//
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// ExternalTrafficPolicy of a LoadBalancer or NodePort Service.
	//
	// +optional
	ExternalTrafficPolicy *ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
	// LoadBalancerClass of a LoadBalancer Service.
	//
	// +optional
	LoadBalancerClass *string `json:"loadBalancerClass,omitempty"`
	// LoadBalancerIP of a LoadBalancer Service (deprecated in Kubernetes,
	// kept for compatibility).
	//
	// +optional
	LoadBalancerIP *string `json:"loadBalancerIP,omitempty"`
	// AllocateLoadBalancerNodePorts of a LoadBalancer Service.
	//
	// +optional
	AllocateLoadBalancerNodePorts *bool `json:"allocateLoadBalancerNodePorts,omitempty"`
	// LoadBalancerSourceRanges of a LoadBalancer Service.
	//
	// +optional
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Patch *apiextensionsv1.JSON `json:"patch,omitempty"`
}

// KubernetesHorizontalPodAutoscalerSpec configures the HPA of the Envoy
// Deployment.
type KubernetesHorizontalPodAutoscalerSpec struct {
	// MinReplicas is the lower bound (default 1).
	//
	// +kubebuilder:validation:Minimum=1
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// MaxReplicas is the upper bound; at least MinReplicas.
	//
	// +kubebuilder:validation:Minimum=1
	MaxReplicas *int32 `json:"maxReplicas"`
	// Metrics the HPA scales on (default: 80% CPU utilisation).
	//
	// +optional
	Metrics []autoscalingv2.MetricSpec `json:"metrics,omitempty"`
	// Behavior of scaling up and down.
	//
	// +optional
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Patch *apiextensionsv1.JSON `json:"patch,omitempty"`
}

// KubernetesPodDisruptionBudgetSpec configures the PDB of the Envoy pods.
// Exactly one of MinAvailable and MaxUnavailable.
type KubernetesPodDisruptionBudgetSpec struct {
	// MinAvailable pods during a voluntary disruption.
	//
	// +optional
	MinAvailable *intstr.IntOrString `json:"minAvailable,omitempty"`
	// MaxUnavailable pods during a voluntary disruption.
	//
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Patch *apiextensionsv1.JSON `json:"patch,omitempty"`
}
