// Package corevalidation refuses, offline, the core objects berth's offline
// commands read (Service, EndpointSlice, Secret, ConfigMap, Namespace) as
// the kube-apiserver refuses them on create: its validation functions
// (k8s.io/kubernetes pkg/apis/core/validation and
// pkg/apis/discovery/validation, v1.37) mirrored rule for rule with the same
// field paths, types and messages, after the v1 defaults the apiserver
// applies before validating.
//
// k8s.io/kubernetes is not a dependency of the product (its replace lines
// would leak into berth's go.mod), so the rules are restated here over the
// v1 types, built from the apimachinery helpers the apiserver itself calls
// (ObjectMeta, DNS names, labels, ports, IPs). Mirrored fully: Secret,
// ConfigMap, Namespace, EndpointSlice (addressType, ports, endpoints'
// addresses, hostname, nodeName, topology, zone hints). Service: metadata
// and name, ports (names, numbers, protocols, target ports, app protocols,
// duplicates), type, ExternalName, selector, session affinity, clusterIP and
// clusterIPs, IP families and policy, externalIPs, loadBalancerSourceRanges
// and the fields only a LoadBalancer or an externally reachable Service may
// set. Not mirrored (they depend on the cluster, not the object): the
// Service IP and node-port allocators (a clusterIP outside the service
// CIDR, a taken node port), healthCheckNodePort (allocated), trafficDistribution
// and the topology annotations. internal/crdschema/clustertest checks every
// row of its table against a real kube-apiserver.
package corevalidation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Validate returns what the apiserver refuses obj for on create (nil when
// it accepts it); known is false when obj is not of a kind this package
// validates. A missing namespace is not an error here (the apiserver takes
// it from the request; berth's own checks report it). obj is not changed.
func Validate(obj any) (errs field.ErrorList, known bool) {
	switch o := obj.(type) {
	case *corev1.Secret:
		return validateSecret(o), true
	case *corev1.ConfigMap:
		return validateConfigMap(o), true
	case *corev1.Namespace:
		return validateNamespace(o), true
	case *corev1.Service:
		return validateService(o), true
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o), true
	}
	return nil, false
}

// standardFinalizers are the finalizer names without a "/" the apiserver
// accepts (core helper.IsStandardFinalizerName).
var standardFinalizers = sets.New(string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents)

// objectMeta is core validation's ValidateObjectMeta: apimachinery's, the
// legacy finalizer names, and no "Required value" for a missing namespace.
func objectMeta(m *metav1.ObjectMeta, namespaced bool, name apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	var out field.ErrorList
	path := field.NewPath("metadata")
	for _, e := range apimachineryvalidation.ValidateObjectMeta(m, namespaced, name, path) {
		if e.Type == field.ErrorTypeRequired && e.Field == "metadata.namespace" {
			continue
		}
		out = append(out, e)
	}
	for i, f := range m.Finalizers {
		out = append(out, kubeFinalizerName(f, path.Child("finalizers").Index(i))...)
	}
	return out
}

func kubeFinalizerName(name string, path *field.Path) field.ErrorList {
	if !strings.Contains(name, "/") && !standardFinalizers.Has(name) {
		return field.ErrorList{field.Invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")}
	}
	return nil
}

// maxSecretSize is core.MaxSecretSize, the limit of a Secret's and a
// ConfigMap's data.
const maxSecretSize = 1 * 1024 * 1024

func validateSecret(s *corev1.Secret) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain)
	dataPath := field.NewPath("data")
	// stringData is merged into data before validation (the v1
	// conversion), as berth's input reader does.
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	total := 0
	for _, key := range sortedKeys(data) {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(dataPath.Key(key), key, msg))
		}
		total += len(data[key])
	}
	if total > maxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", maxSecretSize))
	}
	has := func(key string) bool { _, ok := data[key]; return ok }
	required := func(key string) { errs = append(errs, field.Required(dataPath.Key(key), "")) }
	wellFormedJSON := func(key string) {
		if !has(key) {
			required(key)
			return
		}
		if err := json.Unmarshal(data[key], &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(key), "<secret contents redacted>", err.Error()))
		}
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		wellFormedJSON(corev1.DockerConfigKey)
	case corev1.SecretTypeDockerConfigJson:
		wellFormedJSON(corev1.DockerConfigJsonKey)
	case corev1.SecretTypeBasicAuth:
		if !has(corev1.BasicAuthUsernameKey) && !has(corev1.BasicAuthPasswordKey) {
			required(corev1.BasicAuthUsernameKey)
			required(corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		if len(data[corev1.SSHAuthPrivateKey]) == 0 {
			required(corev1.SSHAuthPrivateKey)
		}
	case corev1.SecretTypeTLS:
		if !has(corev1.TLSCertKey) {
			required(corev1.TLSCertKey)
		}
		if !has(corev1.TLSPrivateKeyKey) {
			required(corev1.TLSPrivateKeyKey)
		}
	}
	return errs
}

func validateConfigMap(c *corev1.ConfigMap) field.ErrorList {
	errs := objectMeta(&c.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain)
	total := 0
	for _, key := range sortedKeys(c.Data) {
		path := field.NewPath("data").Key(key)
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(path, key, msg))
		}
		if _, dup := c.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(path, key, "duplicate of key present in binaryData"))
		}
		total += len(c.Data[key])
	}
	for _, key := range sortedKeys(c.BinaryData) {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(key), key, msg))
		}
		total += len(c.BinaryData[key])
	}
	if total > maxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxSecretSize))
	}
	return errs
}

func validateNamespace(n *corev1.Namespace) field.ErrorList {
	errs := objectMeta(&n.ObjectMeta, false, apimachineryvalidation.ValidateNamespaceName)
	path := field.NewPath("spec", "finalizers")
	for _, f := range n.Spec.Finalizers {
		errs = append(errs, apimachineryvalidation.ValidateFinalizerName(string(f), path)...)
		errs = append(errs, kubeFinalizerName(string(f), path)...)
	}
	return errs
}

var (
	portProtocols       = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
	serviceTypes        = sets.New(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
	sessionAffinities   = sets.New(corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)
	ipFamilies          = sets.New(corev1.IPv4Protocol, corev1.IPv6Protocol)
	ipFamilyPolicies    = sets.New(corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)
	externalPolicies    = sets.New(corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)
	internalPolicies    = sets.New(corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)
	endpointAddressType = sets.New(discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)
)

// serviceDefaults is s with the v1 defaults (SetDefaults_Service) and the
// create strategy's clusterIPs normalisation the apiserver applies before
// validating.
func serviceDefaults(in *corev1.Service) *corev1.Service {
	s := in.DeepCopy()
	if s.Spec.SessionAffinity == "" {
		s.Spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.Spec.SessionAffinity == corev1.ServiceAffinityNone {
		s.Spec.SessionAffinityConfig = nil
	}
	if s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if c := s.Spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			timeout := corev1.DefaultClientIPServiceAffinitySeconds
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}
	}
	if s.Spec.Type == "" {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.AllocateLoadBalancerNodePorts == nil {
		s.Spec.AllocateLoadBalancerNodePorts = new(bool)
		*s.Spec.AllocateLoadBalancerNodePorts = true
	}
	if s.Spec.Type != corev1.ServiceTypeExternalName && s.Spec.InternalTrafficPolicy == nil {
		p := corev1.ServiceInternalTrafficPolicyCluster
		s.Spec.InternalTrafficPolicy = &p
	}
	if externallyAccessible(s) && s.Spec.ExternalTrafficPolicy == "" {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.Spec.ClusterIP != "" && len(s.Spec.ClusterIPs) == 0 {
		s.Spec.ClusterIPs = []string{s.Spec.ClusterIP} // the create's normalisation
	}
	return s
}

// externallyAccessible is the apiserver's service.ExternallyAccessible.
func externallyAccessible(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
}

func headless(s *corev1.Service) bool {
	return len(s.Spec.ClusterIPs) > 0 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func validateService(in *corev1.Service) field.ErrorList {
	// Service names are DNS labels since 1.37 (RelaxedServiceNameValidation,
	// GA and locked on).
	errs := objectMeta(&in.ObjectMeta, true, apimachineryvalidation.NameIsDNSLabel)
	s := serviceDefaults(in)
	spec := field.NewPath("spec")
	if len(s.Spec.Ports) == 0 && !headless(s) && s.Spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	switch s.Spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if headless(s) {
			errs = append(errs, field.Invalid(spec.Child("clusterIPs").Index(0), s.Spec.ClusterIPs[0], fmt.Sprintf("may not be set to 'None' for %s services", s.Spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(s.Spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(spec.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(s.Spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(spec.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if s.Spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(spec.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(s.Spec.ExternalName, "."); cname != "" {
			errs = append(errs, dns1123Subdomain(cname, spec.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		}
	}
	names := sets.Set[string]{}
	ports := spec.Child("ports")
	for i := range s.Spec.Ports {
		errs = append(errs, servicePort(&s.Spec.Ports[i], len(s.Spec.Ports) > 1, names, ports.Index(i))...)
	}
	if s.Spec.Selector != nil {
		errs = append(errs, metavalidation.ValidateLabels(s.Spec.Selector, spec.Child("selector"))...)
	}
	if !sessionAffinities.Has(s.Spec.SessionAffinity) {
		errs = append(errs, field.NotSupported(spec.Child("sessionAffinity"), s.Spec.SessionAffinity, sets.List(sessionAffinities)))
	}
	if s.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		// The defaults filled a missing timeout: only its range is left.
		const maxTimeout = 86400 // core.MaxClientIPServiceAffinitySeconds
		if t := s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds; *t <= 0 || *t > maxTimeout {
			errs = append(errs, field.Invalid(spec.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t, fmt.Sprintf("must be greater than 0 and less than %d", maxTimeout)))
		}
	}
	errs = append(errs, clusterIPs(s)...)
	for i, ip := range s.Spec.ExternalIPs {
		path := spec.Child("externalIPs").Index(i)
		if ipErrs := legacyIP(path, ip); len(ipErrs) > 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = append(errs, endpointIP(ip, path)...)
		}
	}
	if !serviceTypes.Has(s.Spec.Type) {
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, sets.List(serviceTypes)))
	}
	if s.Spec.Type == corev1.ServiceTypeClusterIP {
		for i := range s.Spec.Ports {
			if s.Spec.Ports[i].NodePort != 0 {
				errs = append(errs, field.Forbidden(ports.Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}
	type protoPort struct {
		protocol corev1.Protocol
		port     int32
	}
	nodePorts := map[protoPort]bool{}
	for i, p := range s.Spec.Ports {
		if p.NodePort == 0 {
			continue
		}
		key := protoPort{p.Protocol, p.NodePort}
		if nodePorts[key] {
			errs = append(errs, field.Duplicate(ports.Index(i).Child("nodePort"), p.NodePort))
		}
		nodePorts[key] = true
	}
	seen := map[protoPort]bool{}
	for i, p := range s.Spec.Ports {
		key := protoPort{p.Protocol, p.Port}
		if seen[key] {
			errs = append(errs, field.Duplicate(ports.Index(i), internalServicePort{Protocol: p.Protocol, Port: p.Port}))
		}
		seen[key] = true
	}
	if len(s.Spec.LoadBalancerSourceRanges) > 0 {
		path := spec.Child("LoadBalancerSourceRanges")
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, v := range s.Spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDRForLegacyField(path.Index(i), strings.TrimSpace(v), true, nil)...)
		}
	}
	if s.Spec.AllocateLoadBalancerNodePorts != nil && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(spec.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if s.Spec.LoadBalancerClass != nil {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(spec.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		} else {
			errs = append(errs, qualifiedName(*s.Spec.LoadBalancerClass, spec.Child("loadBalancerClass"))...)
		}
	}
	external := externallyAccessible(s)
	switch {
	case !external && s.Spec.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(spec.Child("externalTrafficPolicy"), s.Spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case external && s.Spec.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(spec.Child("externalTrafficPolicy"), ""))
	case external && !externalPolicies.Has(s.Spec.ExternalTrafficPolicy):
		errs = append(errs, field.NotSupported(spec.Child("externalTrafficPolicy"), s.Spec.ExternalTrafficPolicy, sets.List(externalPolicies)))
	}
	if p := s.Spec.InternalTrafficPolicy; p != nil && !internalPolicies.Has(*p) {
		errs = append(errs, field.NotSupported(spec.Child("internalTrafficPolicy"), *p, sets.List(internalPolicies)))
	}
	return errs
}

// internalServicePort has the fields, in order, of the apiserver's internal
// core.ServicePort (no JSON tags): a duplicate port is printed as one
// holding only the protocol and the port.
type internalServicePort struct {
	Name        string
	Protocol    corev1.Protocol
	AppProtocol *string
	Port        int32
	TargetPort  intstr.IntOrString
	NodePort    int32
}

func servicePort(p *corev1.ServicePort, requireName bool, names sets.Set[string], path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && p.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else if p.Name != "" {
		errs = append(errs, dns1123Label(p.Name, path.Child("name"))...)
		if names.Has(p.Name) {
			errs = append(errs, field.Duplicate(path.Child("name"), p.Name))
		} else {
			names.Insert(p.Name)
		}
	}
	for _, msg := range validation.IsValidPortNum(int(p.Port)) {
		errs = append(errs, field.Invalid(path.Child("port"), p.Port, msg))
	}
	if !portProtocols.Has(p.Protocol) {
		errs = append(errs, field.NotSupported(path.Child("protocol"), p.Protocol, sets.List(portProtocols)))
	}
	errs = append(errs, portNumOrName(p.TargetPort, path.Child("targetPort"))...)
	if p.AppProtocol != nil {
		errs = append(errs, qualifiedName(*p.AppProtocol, path.Child("appProtocol"))...)
	}
	return errs
}

// clusterIPs is ValidateServiceClusterIPsRelatedFields of a create.
func clusterIPs(s *corev1.Service) field.ErrorList {
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	spec := field.NewPath("spec")
	ipsPath, familiesPath := spec.Child("clusterIPs"), spec.Child("ipFamilies")
	if s.Spec.ClusterIP != "" {
		if len(s.Spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(ipsPath, ""))
		} else if s.Spec.ClusterIPs[0] != s.Spec.ClusterIP {
			errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(s.Spec.ClusterIPs) != 0 {
		errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := sets.Set[corev1.IPFamily]{}
	for i, f := range s.Spec.IPFamilies {
		if !ipFamilies.Has(f) {
			errs = append(errs, field.NotSupported(familiesPath.Index(i), f, sets.List(ipFamilies)))
		}
		if seen.Has(f) {
			errs = append(errs, field.Duplicate(familiesPath.Index(i), f))
		}
		seen.Insert(f)
	}
	if p := s.Spec.IPFamilyPolicy; p != nil && !ipFamilyPolicies.Has(*p) {
		errs = append(errs, field.NotSupported(spec.Child("ipFamilyPolicy"), s.Spec.IPFamilyPolicy, sets.List(ipFamilyPolicies)))
	}
	invalid := false
	for i, ip := range s.Spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(s.Spec.ClusterIPs) > 1 {
				invalid = true
				errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		ipErrs := legacyIP(ipsPath.Index(i), ip)
		invalid = invalid || len(ipErrs) > 0
		errs = append(errs, ipErrs...)
	}
	if len(s.Spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "may only hold up to 2 values"))
	}
	if invalid {
		return errs
	}
	if len(s.Spec.ClusterIPs) > 1 {
		if dual, err := netutils.IsDualStackIPStrings(s.Spec.ClusterIPs); err != nil {
			errs = append(errs, field.InternalError(ipsPath, fmt.Errorf("failed to check for dual stack with error:%v", err)))
		} else if !dual {
			errs = append(errs, field.Invalid(ipsPath, s.Spec.ClusterIPs, "may specify no more than one IP for each IP family"))
		}
	}
	if !headless(s) {
		for i, ip := range s.Spec.ClusterIPs {
			if i >= len(s.Spec.IPFamilies) {
				break
			}
			switch {
			case s.Spec.IPFamilies[i] == corev1.IPv4Protocol && netutils.IsIPv6String(ip):
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			case s.Spec.IPFamilies[i] == corev1.IPv6Protocol && !netutils.IsIPv6String(ip):
				errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

func validateEndpointSlice(in *discoveryv1.EndpointSlice) field.ErrorList {
	errs := objectMeta(&in.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain)
	s := in.DeepCopy()
	for i := range s.Ports { // SetDefaults_EndpointPort
		if s.Ports[i].Name == nil {
			s.Ports[i].Name = new(string)
		}
		if s.Ports[i].Protocol == nil {
			tcp := corev1.ProtocolTCP
			s.Ports[i].Protocol = &tcp
		}
	}
	switch {
	case s.AddressType == "":
		errs = append(errs, field.Required(field.NewPath("addressType"), ""))
	case !endpointAddressType.Has(s.AddressType):
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), s.AddressType, sets.List(endpointAddressType)))
	}
	errs = append(errs, endpointPorts(s.Ports, field.NewPath("ports"))...)
	return append(errs, endpoints(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
}

// The discovery API's limits (pkg/apis/discovery/validation).
const (
	maxTopologyLabels = 16
	maxAddresses      = 100
	maxPorts          = 20000
	maxEndpoints      = 1000
	maxZoneHints      = 8
	maxNodeHints      = 8
)

func endpointPorts(ports []discoveryv1.EndpointPort, path *field.Path) field.ErrorList {
	if len(ports) > maxPorts {
		return field.ErrorList{field.TooMany(path, len(ports), maxPorts)}
	}
	var errs field.ErrorList
	var names []string
	for i, p := range ports {
		idx := path.Index(i)
		if *p.Name != "" {
			errs = append(errs, dns1123Label(*p.Name, idx.Child("name"))...)
		}
		if slices.Contains(names, *p.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
		} else {
			names = append(names, *p.Name)
		}
		if !portProtocols.Has(*p.Protocol) {
			errs = append(errs, field.NotSupported(idx.Child("protocol"), *p.Protocol, sets.List(portProtocols)))
		}
		if p.AppProtocol != nil {
			errs = append(errs, qualifiedName(*p.AppProtocol, idx.Child("appProtocol"))...)
		}
	}
	return errs
}

func endpoints(eps []discoveryv1.Endpoint, addrType discoveryv1.AddressType, path *field.Path) field.ErrorList {
	if len(eps) > maxEndpoints {
		return field.ErrorList{field.TooMany(path, len(eps), maxEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range eps {
		idx := path.Index(i)
		addrs := idx.Child("addresses")
		if len(ep.Addresses) == 0 {
			// Worded by the declarative validation that covers this rule
			// since 1.37: no detail.
			errs = append(errs, field.Required(addrs, ""))
		} else if len(ep.Addresses) > maxAddresses {
			errs = append(errs, field.TooMany(addrs, len(ep.Addresses), maxAddresses))
		}
		for j, a := range ep.Addresses {
			switch addrType {
			case discoveryv1.AddressTypeIPv4:
				if ipErrs := legacyIP(addrs.Index(j), a); len(ipErrs) > 0 {
					errs = append(errs, ipErrs...)
					continue
				}
				if !netutils.IsIPv4String(a) {
					errs = append(errs, field.Invalid(addrs, a, "must be an IPv4 address"))
				}
				errs = append(errs, endpointIP(a, addrs.Index(j))...)
			case discoveryv1.AddressTypeIPv6:
				if ipErrs := validation.IsValidIP(addrs.Index(j), a); len(ipErrs) > 0 {
					errs = append(errs, ipErrs...)
					continue
				}
				if !netutils.IsIPv6String(a) {
					errs = append(errs, field.Invalid(addrs, a, "must be an IPv6 address"))
				}
				errs = append(errs, endpointIP(a, addrs.Index(j))...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, validation.IsFullyQualifiedDomainName(addrs.Index(j), a)...)
			}
		}
		if ep.NodeName != nil {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(*ep.NodeName, false) {
				errs = append(errs, field.Invalid(idx.Child("nodeName"), *ep.NodeName, msg))
			}
		}
		topology := idx.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			errs = append(errs, field.TooMany(topology, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		errs = append(errs, metavalidation.ValidateLabels(ep.DeprecatedTopology, topology)...)
		if ep.Hostname != nil {
			errs = append(errs, dns1123Label(*ep.Hostname, idx.Child("hostname"))...)
		}
		if ep.Hints != nil {
			errs = append(errs, hints(ep.Hints, idx.Child("hints"))...)
		}
	}
	return errs
}

func hints(h *discoveryv1.EndpointHints, path *field.Path) field.ErrorList {
	zones := make([]string, len(h.ForZones))
	for i, z := range h.ForZones {
		zones[i] = z.Name
	}
	errs, ok := hintNames(zones, maxZoneHints, path.Child("forZones"), validation.IsValidLabelValue)
	if !ok {
		return errs
	}
	nodes := make([]string, len(h.ForNodes))
	for i, n := range h.ForNodes {
		nodes[i] = n.Name
	}
	more, _ := hintNames(nodes, maxNodeHints, path.Child("forNodes"), func(n string) []string { return apimachineryvalidation.NameIsDNSSubdomain(n, false) })
	return append(errs, more...)
}

// hintNames checks one list of an endpoint's hints: at most max (else only
// that error, and ok false: the apiserver checks no further), names unique
// and valid.
func hintNames(names []string, max int, path *field.Path, valid func(string) []string) (errs field.ErrorList, ok bool) {
	if len(names) > max {
		return field.ErrorList{field.TooMany(path, len(names), max)}, false
	}
	for i, n := range names {
		p := path.Index(i).Child("name")
		if slices.Contains(names[:i], n) {
			errs = append(errs, field.Duplicate(p, n))
		}
		errs = append(errs, invalid(p, n, valid(n))...)
	}
	return errs, true
}

// legacyIP is IsValidIPForLegacyField with StrictIPCIDRValidation on (its
// default since 1.36).
func legacyIP(path *field.Path, ip string) field.ErrorList {
	return validation.IsValidIPForLegacyField(path, ip, true, nil)
}

// endpointIP is core validation's ValidateEndpointIP.
func endpointIP(s string, path *field.Path) field.ErrorList {
	ip := netutils.ParseIPSloppy(s)
	if ip == nil {
		return field.ErrorList{field.Invalid(path, s, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if ip.IsUnspecified() {
		errs = append(errs, field.Invalid(path, s, fmt.Sprintf("may not be unspecified (%v)", s)))
	}
	if ip.IsLoopback() {
		errs = append(errs, field.Invalid(path, s, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(path, s, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(path, s, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

func portNumOrName(p intstr.IntOrString, path *field.Path) field.ErrorList {
	if p.Type == intstr.Int {
		return invalid(path, p.IntValue(), validation.IsValidPortNum(p.IntValue()))
	}
	return invalid(path, p.StrVal, validation.IsValidPortName(p.StrVal))
}

func dns1123Label(v string, path *field.Path) field.ErrorList {
	return invalid(path, v, validation.IsDNS1123Label(v))
}

func dns1123Subdomain(v string, path *field.Path) field.ErrorList {
	return invalid(path, v, validation.IsDNS1123Subdomain(v))
}

func qualifiedName(v string, path *field.Path) field.ErrorList {
	return invalid(path, v, validation.IsQualifiedName(v))
}

// invalid is one Invalid error of value at path per message.
func invalid(path *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(path, value, msg))
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
