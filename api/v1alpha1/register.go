package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	// GroupName is the API group of EnvoyProxy.
	GroupName = "gateway.envoyproxy.io"
	// KindEnvoyProxy is the kind GatewayClass and Gateway parametersRef name.
	KindEnvoyProxy = "EnvoyProxy"
)

var (
	// GroupVersion is gateway.envoyproxy.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}
	// SchemeBuilder registers the types of this package.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds EnvoyProxy, ClientTrafficPolicy and their lists to a
	// scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &EnvoyProxy{}, &EnvoyProxyList{}, &ClientTrafficPolicy{}, &ClientTrafficPolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
