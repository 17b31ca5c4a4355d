package v1alpha1

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// FieldError is one invalid field of an EnvoyProxy spec.
//
// +kubebuilder:object:generate=false
type FieldError struct {
	// Field is the JSON path, e.g. spec.provider.kubernetes.envoyHpa.maxReplicas.
	Field string
	// Message says what is wrong.
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks what the CRD schema cannot (cross-field rules) and, for
// objects that did not pass through the API server (berth render), what the
// schema does say. It returns nil or FieldErrors.
func (s *EnvoyProxySpec) Validate() error {
	var v fieldErrs
	s.validateProvider(&v)
	s.Telemetry.validate(&v)
	return v.join()
}

func (s *EnvoyProxySpec) validateProvider(v *fieldErrs) {
	p := s.Provider
	if p == nil {
		return
	}
	if p.Type != ProviderTypeKubernetes {
		v.add("spec.provider.type", "unsupported provider %q (supported: %s)", p.Type, ProviderTypeKubernetes)
	}
	k := p.Kubernetes
	if k == nil {
		return
	}
	const base = "spec.provider.kubernetes."
	if d := k.EnvoyDeployment; d != nil {
		if d.Replicas != nil && *d.Replicas < 0 {
			v.add(base+"envoyDeployment.replicas", "must be at least 0, got %d", *d.Replicas)
		}
		if pod := d.Pod; pod != nil {
			v.metadata(base+"envoyDeployment.pod.labels", pod.Labels, true)
			v.metadata(base+"envoyDeployment.pod.annotations", pod.Annotations, false)
			v.metadata(base+"envoyDeployment.pod.nodeSelector", pod.NodeSelector, true)
			if pod.PriorityClassName != nil {
				for _, msg := range validation.IsDNS1123Subdomain(*pod.PriorityClassName) {
					v.add(base+"envoyDeployment.pod.priorityClassName", "%s", msg)
				}
			}
		}
		if c := d.Container; c != nil {
			if c.Image != nil && c.ImageRepository != nil {
				v.add(base+"envoyDeployment.container", "image and imageRepository are mutually exclusive")
			}
			if c.Image != nil {
				v.imageRef(base+"envoyDeployment.container.image", *c.Image, imageChars+"@")
			}
			if c.ImageRepository != nil {
				v.imageRef(base+"envoyDeployment.container.imageRepository", *c.ImageRepository, imageChars)
			}
			for i, e := range c.Env {
				for _, msg := range validation.IsEnvVarName(e.Name) {
					v.add(fmt.Sprintf("%senvoyDeployment.container.env[%d].name", base, i), "%s", msg)
				}
			}
			if r := c.Resources; r != nil {
				for name, req := range r.Requests {
					if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
						v.add(base+"envoyDeployment.container.resources.requests."+string(name), "%s exceeds the limit %s", req.String(), lim.String())
					}
				}
				v.quantities(base+"envoyDeployment.container.resources.requests", r.Requests)
				v.quantities(base+"envoyDeployment.container.resources.limits", r.Limits)
			}
		}
	}
	if svc := k.EnvoyService; svc != nil {
		const sp = base + "envoyService."
		if svc.Name != nil {
			for _, msg := range validation.IsDNS1035Label(*svc.Name) {
				v.add(sp+"name", "%s", msg)
			}
		}
		typ := ServiceTypeLoadBalancer
		if svc.Type != nil {
			typ = *svc.Type
			switch typ {
			case ServiceTypeClusterIP, ServiceTypeLoadBalancer, ServiceTypeNodePort:
			default:
				v.add(sp+"type", "unsupported Service type %q (supported: ClusterIP, LoadBalancer, NodePort)", typ)
			}
		}
		v.metadata(sp+"labels", svc.Labels, true)
		v.metadata(sp+"annotations", svc.Annotations, false)
		if svc.ExternalTrafficPolicy != nil {
			switch *svc.ExternalTrafficPolicy {
			case ServiceExternalTrafficPolicyCluster, ServiceExternalTrafficPolicyLocal:
			default:
				v.add(sp+"externalTrafficPolicy", "unsupported value %q (supported: Cluster, Local)", *svc.ExternalTrafficPolicy)
			}
			if typ == ServiceTypeClusterIP {
				v.add(sp+"externalTrafficPolicy", "applies to LoadBalancer and NodePort Services only, type is ClusterIP")
			}
		}
		if typ != ServiceTypeLoadBalancer {
			lbOnly := map[string]bool{
				"loadBalancerClass":             svc.LoadBalancerClass != nil,
				"loadBalancerIP":                svc.LoadBalancerIP != nil,
				"allocateLoadBalancerNodePorts": svc.AllocateLoadBalancerNodePorts != nil,
				"loadBalancerSourceRanges":      len(svc.LoadBalancerSourceRanges) > 0,
			}
			for _, f := range sortedTrue(lbOnly) {
				v.add(sp+f, "applies to LoadBalancer Services only, type is %s", typ)
			}
		}
		if svc.LoadBalancerClass != nil {
			for _, msg := range validation.IsQualifiedName(*svc.LoadBalancerClass) {
				v.add(sp+"loadBalancerClass", "%s", msg)
			}
		}
		if svc.LoadBalancerIP != nil {
			for _, e := range validation.IsValidIP(nil, *svc.LoadBalancerIP) {
				v.add(sp+"loadBalancerIP", "%s", e.Detail)
			}
		}
		for i, cidr := range svc.LoadBalancerSourceRanges {
			for _, e := range validation.IsValidCIDR(nil, cidr) {
				v.add(fmt.Sprintf("%sloadBalancerSourceRanges[%d]", sp, i), "%s", e.Detail)
			}
		}
	}
	if h := k.EnvoyHpa; h != nil {
		const hp = base + "envoyHpa."
		if h.MaxReplicas == nil {
			v.add(hp+"maxReplicas", "is required")
		} else if *h.MaxReplicas < 1 {
			v.add(hp+"maxReplicas", "must be at least 1, got %d", *h.MaxReplicas)
		}
		if h.MinReplicas != nil {
			if *h.MinReplicas < 1 {
				v.add(hp+"minReplicas", "must be at least 1, got %d", *h.MinReplicas)
			} else if h.MaxReplicas != nil && *h.MinReplicas > *h.MaxReplicas {
				v.add(hp+"minReplicas", "%d exceeds maxReplicas %d", *h.MinReplicas, *h.MaxReplicas)
			}
		}
	}
	if pdb := k.EnvoyPDB; pdb != nil {
		const pp = base + "envoyPDB."
		switch {
		case pdb.MinAvailable != nil && pdb.MaxUnavailable != nil:
			v.add(pp[:len(pp)-1], "minAvailable and maxUnavailable are mutually exclusive")
		case pdb.MinAvailable == nil && pdb.MaxUnavailable == nil:
			v.add(pp[:len(pp)-1], "one of minAvailable and maxUnavailable is required")
		}
		v.intOrPercent(pp+"minAvailable", pdb.MinAvailable)
		v.intOrPercent(pp+"maxUnavailable", pdb.MaxUnavailable)
	}
}

// Unsupported lists, in a stable order, the JSON paths of the fields that are
// set but that berth does not implement.
func (s *EnvoyProxySpec) Unsupported() []string {
	var out []string
	add := func(path string, j *apiextensionsv1.JSON) {
		if j != nil {
			out = append(out, path)
		}
	}
	add("spec.backendTLS", s.BackendTLS)
	add("spec.bootstrap", s.Bootstrap)
	add("spec.concurrency", s.Concurrency)
	add("spec.extraArgs", s.ExtraArgs)
	add("spec.filterOrder", s.FilterOrder)
	add("spec.ipFamily", s.IPFamily)
	add("spec.logging", s.Logging)
	add("spec.luaValidation", s.LuaValidation)
	add("spec.mergeGateways", s.MergeGateways)
	add("spec.preserveRouteOrder", s.PreserveRouteOrder)
	if s.Provider != nil && s.Provider.Kubernetes != nil {
		const base = "spec.provider.kubernetes."
		k := s.Provider.Kubernetes
		add(base+"envoyDaemonSet", k.EnvoyDaemonSet)
		if d := k.EnvoyDeployment; d != nil {
			if d.Container != nil {
				add(base+"envoyDeployment.container.volumeMounts", d.Container.VolumeMounts)
			}
			add(base+"envoyDeployment.initContainers", d.InitContainers)
			add(base+"envoyDeployment.name", d.Name)
			add(base+"envoyDeployment.patch", d.Patch)
			if d.Pod != nil {
				add(base+"envoyDeployment.pod.volumes", d.Pod.Volumes)
			}
		}
		if k.EnvoyHpa != nil {
			add(base+"envoyHpa.patch", k.EnvoyHpa.Patch)
		}
		if k.EnvoyPDB != nil {
			add(base+"envoyPDB.patch", k.EnvoyPDB.Patch)
		}
		if k.EnvoyService != nil {
			add(base+"envoyService.patch", k.EnvoyService.Patch)
		}
		add(base+"useListenerPortAsContainerPort", k.UseListenerPortAsContainerPort)
	}
	add("spec.routingType", s.RoutingType)
	add("spec.shutdown", s.Shutdown)
	out = append(out, s.Telemetry.unsupported()...)
	return out
}

// FieldErrors are all the invalid fields of one spec, in field order. The
// message is one line (fit for a status condition).
//
// +kubebuilder:object:generate=false
type FieldErrors []*FieldError

func (e FieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap exposes every *FieldError to errors.As and errors.Is.
func (e FieldErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, fe := range e {
		out[i] = fe
	}
	return out
}

type fieldErrs FieldErrors

func (v *fieldErrs) add(field, format string, args ...any) {
	*v = append(*v, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v fieldErrs) join() error {
	if len(v) == 0 {
		return nil
	}
	return FieldErrors(v)
}

// metadata validates label (values too) or annotation keys, in key order.
func (v *fieldErrs) metadata(field string, m map[string]string, labels bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, msg := range validation.IsQualifiedName(k) {
			v.add(field, "key %q: %s", k, msg)
		}
		if labels {
			for _, msg := range validation.IsValidLabelValue(m[k]) {
				v.add(field, "value of %q: %s", k, msg)
			}
		}
	}
}

func (v *fieldErrs) quantities(field string, m map[corev1.ResourceName]resource.Quantity) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		if q := m[corev1.ResourceName(name)]; q.Sign() < 0 {
			v.add(field+"."+name, "must not be negative, got %s", q.String())
		}
	}
}

func (v *fieldErrs) intOrPercent(field string, x *intstr.IntOrString) {
	if x == nil {
		return
	}
	if x.Type == intstr.Int {
		if x.IntVal < 0 {
			v.add(field, "must not be negative, got %d", x.IntVal)
		}
		return
	}
	pct, err := intstr.GetScaledValueFromIntOrPercent(x, 100, false)
	if err != nil || len(x.StrVal) < 2 || x.StrVal[len(x.StrVal)-1] != '%' {
		v.add(field, "must be an integer or a percentage, got %q", x.StrVal)
		return
	}
	if pct < 0 || pct > 100 {
		v.add(field, "percentage must be between 0%% and 100%%, got %q", x.StrVal)
	}
}

// imageChars are the characters of an image repository (registry host and
// port, path); a full image reference adds "@" for a digest.
const imageChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:+"

// imageRef checks that ref is non-empty and made of allowed characters
// only.
func (v *fieldErrs) imageRef(field, ref, allowed string) {
	if ref == "" {
		v.add(field, "must not be empty")
		return
	}
	for _, r := range ref {
		if !strings.ContainsRune(allowed, r) {
			v.add(field, "%q is not a valid image reference: character %q is not allowed", ref, r)
			return
		}
	}
}

func sortedTrue(m map[string]bool) []string {
	var out []string
	for k, ok := range m {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
